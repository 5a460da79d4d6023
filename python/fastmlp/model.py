"""The model API, in the lecture's notation.

Layers l = 1..L; layer l has W[l] (inputs x outputs), b[l] and an activation g:
    z[l] = a[l-1] W[l] + b[l],   a[l] = g(z[l]),   a[0] = x.
The weights live in the native network's flat buffer; `W` and `b` are views
into it, so reading or assigning them touches the real parameters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._batching import resolve_batch_size
from ._engine import EpochHooks, Optimizer, TrainingData, run_epochs
from ._exclusive import exclusive, one_trainer_at_a_time
from ._init import initial_weights
from ._names import (
    HIDDEN_ACTIVATIONS,
    OPTIMIZERS,
    OUTPUT_ACTIVATIONS,
    canonical_activation,
    default_init,
    default_loss,
)
from ._normalize import Normalizer
from ._progress import bar_wanted
from ._sparse import check_sparse_features, is_sparse, native_csr
from ._validation import (
    check_dropout,
    check_features,
    check_finite_output,
    check_non_negative_float,
    check_non_negative_int,
    check_positive_float,
    check_positive_int,
    check_sample_weight,
    check_targets,
    plain_rows,
)
from .callbacks import BackupAndRestore, Callback, History
from .distributed import agreed, communicator, fitting
from .errors import TrainingDivergedError

_NETWORK_CLASSES = {np.dtype(np.float32): _core.NetworkF32, np.dtype(np.float64): _core.NetworkF64}
_CLASSIFICATION_LOSSES = ("categorical_cross_entropy", "binary_cross_entropy", "perceptron",
                          "perceptron_hinge")


class MLP:
    """A multilayer perceptron (or, with no hidden layer, logistic regression or a perceptron).

    Parameters
    ----------
    layer_sizes : sequence of int
        [n_inputs, hidden_1, ..., n_outputs]; two entries make a single-layer model.
    activation : str or sequence of str
        Hidden-layer activation(s): identity, step, sigmoid (or logistic), tanh,
        relu, leaky_relu, softplus.
    output : str
        Output activation; it picks the loss: softmax -> categorical
        cross-entropy, sigmoid -> binary cross-entropy, step -> the perceptron
        rule, exp -> the Poisson deviance (counts and rates), anything else ->
        squared error.
    loss : str or None
        Only to pair an elementwise output with squared error explicitly.
    slope : float
        Negative slope of leaky ReLU.
    init : 'lecun', 'he', 'glorot' or None
        None picks by activation: 'he' for the ReLU family, 'lecun' otherwise.
    normalize : None, 'zscore' or 'minmax'
        Fitted on the first `fit` data, stored in the model, applied at predict.
    seed : int or None
        Seeds one numpy Generator used for the initial weights and the epoch order.
    dtype : str
        'float32' (training) or 'float64' (gradient checks).
    dropout : float or sequence of float
        Inverted dropout while training: at every step each hidden unit is
        dropped with this probability (one rate for every hidden layer, or one
        per hidden layer) and the kept ones are scaled by 1 / (1 - rate); the
        output layer and prediction use every unit. The masks come from the
        seed, the step and the unit's place in the batch, so the same seed
        gives the same weights, whatever the thread count.
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str | Sequence[str] = "relu",
                 output: str = "softmax", *, loss: str | None = None, slope: float = 0.01,
                 init: str | None = None, normalize: str | None = None,
                 seed: Any = None, dtype: str | type | np.dtype = "float32",
                 dropout: float | Sequence[float] = 0.0) -> None:
        sizes = [check_positive_int(s, "every layer size") for s in layer_sizes]
        if len(sizes) < 2:
            raise ValueError(
                f"layer_sizes needs at least [n_inputs, n_outputs], got {list(layer_sizes)}"
            )
        n_hidden = len(sizes) - 2
        if isinstance(activation, str):
            hidden = [activation] * n_hidden
        else:
            try:
                hidden = list(activation)
            except TypeError:
                raise TypeError(
                    "activation must be a name or a sequence of names, got "
                    f"{type(activation).__name__}"
                ) from None
        if len(hidden) != n_hidden:
            raise ValueError(
                f"expected {n_hidden} hidden activations for layer_sizes {sizes}, got {len(hidden)}"
            )
        hidden = [canonical_activation(a, allowed=HIDDEN_ACTIVATIONS) for a in hidden]
        output = canonical_activation(output, allowed=OUTPUT_ACTIVATIONS, what="output activation")
        self.layer_sizes = sizes
        self.activations = hidden + [output]
        self.loss_name = loss if loss is not None else default_loss(output)
        self.slope = check_non_negative_float(slope, "slope")
        self.init = init
        self.dtype = np.dtype(dtype)
        if self.dtype not in _NETWORK_CLASSES:
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self.normalizer = Normalizer(normalize)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.dropout = check_dropout(dropout, n_hidden)
        self._net = _NETWORK_CLASSES[self.dtype](sizes, self.activations, self.loss_name, self.slope)
        self.history: History = History()
        self._initialize()
        # Drawn after the weights, and only for dropout, so the weights and epoch
        # orders of a model without dropout stay what they were.
        self._dropout_seed = int(self._rng.integers(2**63)) if any(self.dropout) else 0
        self._apply_dropout()

    def _apply_dropout(self):
        self._net.set_dropout([*self.dropout, 0.0], self._dropout_seed)

    # ------------------------------------------------------------ structure
    @property
    def n_layers(self) -> int:
        """L, the number of layers with weights."""
        return len(self.layer_sizes) - 1

    @property
    def n_inputs(self) -> int:
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.layer_sizes[-1]

    @property
    def n_params(self) -> int:
        return int(self._net.num_params)

    @property
    def params(self) -> NDArray[Any]:
        """All parameters as one flat view: W[1], b[1], W[2], b[2], ..."""
        return self._net.params

    @property
    def W(self) -> list[NDArray[Any]]:
        """[W[1], ..., W[L]], each a writable (inputs x outputs) view."""
        flat = self._net.params
        return [self._weight_view(flat, l) for l in range(self.n_layers)]

    @property
    def b(self) -> list[NDArray[Any]]:
        """[b[1], ..., b[L]], each a writable view."""
        flat = self._net.params
        return [self._bias_view(flat, l) for l in range(self.n_layers)]

    def _weight_view(self, flat, l):
        start = self._net.w_offset(l)
        fan_in, fan_out = self.layer_sizes[l], self.layer_sizes[l + 1]
        return flat[start:start + fan_in * fan_out].reshape(fan_in, fan_out)

    def _bias_view(self, flat, l):
        start = self._net.b_offset(l)
        return flat[start:start + self.layer_sizes[l + 1]]

    def _initialize(self):
        for l in range(self.n_layers):
            scheme = self.init if self.init is not None else default_init(self.activations[l])
            fan_in, fan_out = self.layer_sizes[l], self.layer_sizes[l + 1]
            initial_weights(self._rng, fan_in, fan_out, scheme, out=self.W[l])
            self.b[l][...] = 0.0
        self._net.reset_optimizer()

    def summary(self, print_fn: Callable[[str], Any] | None = print) -> str:
        """Each layer's shapes and parameter count, and the total."""
        rows = [("layer", "W shape", "b shape", "activation", "params")]
        for l in range(self.n_layers):
            fan_in, fan_out = self.layer_sizes[l], self.layer_sizes[l + 1]
            rows.append((str(l + 1), f"{fan_in} x {fan_out}", f"{fan_out}",
                         self.activations[l], f"{fan_in * fan_out + fan_out:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)) for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"total parameters: {self.n_params:,}   loss: {self.loss_name}")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    # ------------------------------------------------------------ data
    def _features(self, X):
        plain = plain_rows(X, self.n_inputs)   # the fast path: nothing to convert or refuse
        if plain is None:
            plain = self._checked_rows(X)
        return self.normalizer.transform(plain, self.dtype)

    def _checked_rows(self, X, name="X"):
        """X checked: a dense array (uint8 kept), or a scipy sparse matrix as CSR."""
        if is_sparse(X):
            return check_sparse_features(X, n_features=self.n_inputs, name=name)
        return check_features(X, n_features=self.n_inputs, name=name, keep_uint8=True)

    def _targets(self, y, n_rows):
        """Targets as an (n_rows, n_outputs) array of the model's dtype."""
        y = check_targets(y, n_rows)
        O = self.n_outputs
        if y.ndim == 1 and self.loss_name == "categorical_cross_entropy":
            labels = y.astype(np.int64)
            if np.any(labels != y) or np.any(labels < 0) or np.any(labels >= O):
                raise ValueError(
                    f"class labels must be integers in [0, {O}), got values in "
                    f"[{y.min()}, {y.max()}]"
                )
            Y = np.zeros((n_rows, O), dtype=self.dtype)
            Y[np.arange(n_rows), labels] = 1
            return Y
        if y.ndim == 1 and O == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != O:
            raise ValueError(f"y must have shape ({n_rows}, {O}) for this model, got {y.shape}")
        return np.ascontiguousarray(y, dtype=self.dtype)

    # ------------------------------------------------------------ forward
    def forward(self, X: ArrayLike, return_all: bool = False) -> Any:
        """The output a[L]; with return_all, the lists ([z[1..L]], [a[1..L]])."""
        if not return_all:
            out = self.output_plain(X)
            if out is not None:
                return out
        Xn = self._features(X)
        if return_all:
            # every layer's outputs of every row: dense anyway
            zs, acts = self._net.forward_all(Xn.toarray() if is_sparse(Xn) else Xn)
            return list(zs), list(acts)
        out = self._net.predict(Xn)
        check_finite_output(out, Xn)
        return out

    def predict_proba(self, X: ArrayLike) -> NDArray[Any]:
        """The output layer's activation: class probabilities for softmax and sigmoid."""
        return self.forward(X)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Class indices (softmax), 0/1 labels (sigmoid, step) or values (regression)."""
        return self._decide(self.forward(X))

    def _decide(self, out):
        """predict() from the output layer's activation."""
        if self.loss_name == "categorical_cross_entropy":
            return np.argmax(out, axis=1)
        if self.loss_name in ("binary_cross_entropy", "perceptron", "perceptron_hinge"):
            labels = (out >= 0.5).astype(np.int64)
            return labels[:, 0] if self.n_outputs == 1 else labels
        return out[:, 0] if self.n_outputs == 1 else out

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy for classifiers (exact match for multi-label); R^2 for regression."""
        return self._score_output(self.forward(X), y)

    def _score_output(self, out, y):
        predicted = self._decide(out)
        y = check_targets(y, predicted.shape[0])
        if self.loss_name in _CLASSIFICATION_LOSSES:
            if self.loss_name == "categorical_cross_entropy" and y.ndim == 2:
                y = np.argmax(y, axis=1)
            if predicted.ndim == 2:
                return float(np.mean(np.all(predicted == y, axis=1)))
            return float(np.mean(predicted == y))
        from sklearn.metrics import r2_score
        return float(r2_score(y, predicted))

    def loss(self, X: ArrayLike, y: ArrayLike, *, sample_weight: ArrayLike | None = None,
             l2: float = 0.0) -> float:
        """Mean loss on (X, y), with the penalty 0.5 l2 ||W||^2 / n."""
        Xn = self._features(X)
        w = self._weights(sample_weight, Xn.shape[0])
        return self.loss_prepared(Xn, self._targets(y, Xn.shape[0]), w,
                                  check_non_negative_float(l2, "l2"))

    @one_trainer_at_a_time
    def gradients(self, X: ArrayLike, y: ArrayLike, *, sample_weight: ArrayLike | None = None,
                  l2: float = 0.0) -> tuple[float, list[NDArray[Any]], list[NDArray[Any]]]:
        """(loss, [dW[1..L]], [db[1..L]]) of the mean loss on a batch, by backpropagation."""
        Xn = self._features(X)
        w = self._weights(sample_weight, Xn.shape[0])
        Y = self._targets(y, Xn.shape[0])
        loss, grads = self.gradients_prepared(Xn, Y, w, check_non_negative_float(l2, "l2"))
        flat = np.array(grads, copy=True)
        dW = [self._weight_view(flat, l) for l in range(self.n_layers)]
        db = [self._bias_view(flat, l) for l in range(self.n_layers)]
        return loss, dW, db

    def _weights(self, sample_weight, n_rows):
        w = check_sample_weight(sample_weight, n_rows)
        return None if w is None else np.ascontiguousarray(w, dtype=self.dtype)

    # ------------------------------------------------------------ prepared inputs
    # What the estimators and the training engine use: inputs already checked,
    # normalized and converted to C-contiguous arrays of the model's dtype.
    # Nothing outside this class touches the native network.
    def prepare_features(self, X: NDArray[Any]) -> NDArray[Any]:
        """Checked features -> normalized C-contiguous rows of the model's dtype."""
        return self.normalizer.transform(X, self.dtype)

    def output_plain(self, X: Any) -> NDArray[Any] | None:
        """Prediction's fast path: the output layer's activation in one native
        call, or None (then take the general path, which checks, converts and
        raises as always). Only when the model has no input normalization, X
        is exactly a C-contiguous ndarray of the model's dtype that
        `_core.plain_rows` accepts, and the output is finite."""
        if self.normalizer.kind is not None:
            return None
        return self._net.predict_plain(X)

    def output_prepared(self, Xn: NDArray[Any]) -> NDArray[Any]:
        """The output layer's activation on prepared rows (no finiteness check)."""
        return self._net.predict(Xn)

    def logits_prepared(self, Xn: NDArray[Any]) -> NDArray[Any]:
        """z of the output layer on prepared rows."""
        return self._net.logits(Xn)

    def loss_prepared(self, Xn: NDArray[Any], Y: NDArray[Any], w: NDArray[Any] | None = None,
                      l2: float = 0.0, *, divisor: int = 0, comm: Any = None) -> float:
        """Mean loss (and penalty) on prepared rows and encoded targets.

        divisor > 0 divides the sum by it instead of the row count (a rank's
        share of a loss over all ranks' rows). With comm (a
        `fastmlp.distributed.Communicator`), the loss over every rank's rows:
        each rank's sum divided by all rows, the penalty counted once.
        """
        if comm is None:
            return float(self._net.loss(Xn, Y, w, l2, **_divided_by(divisor)))
        rows = int(comm.sum(Xn.shape[0])[0])
        share = self._net.loss(Xn, Y, w, l2 if comm.is_root else 0.0, divisor=rows)
        return float(comm.sum(share)[0])

    def gradients_prepared(self, Xn: NDArray[Any], Y: NDArray[Any],
                           w: NDArray[Any] | None = None,
                           l2: float = 0.0, *, divisor: int = 0,
                           dropout_step: int | None = None) -> tuple[float, NDArray[Any]]:
        """(loss, flat gradient) on prepared rows: a view of the native buffer,
        valid until the next native call; copy it to keep it. divisor: as in
        `loss_prepared`. dropout_step: with the dropout masks training step k
        draws (fixed masks, for a gradient check); None: every unit."""
        options = _divided_by(divisor)
        if dropout_step is not None:
            options["mask_step"] = check_non_negative_int(dropout_step, "dropout_step")
        with exclusive(self, "gradients"):
            loss = self._net.gradients(Xn, Y, w, l2, **options)
            return float(loss), self._net.grads

    def train_epoch_prepared(self, Xn: NDArray[Any], Y: NDArray[Any], w: NDArray[Any] | None,
                             order: NDArray[np.int64], batch_size: int, optimizer: Optimizer,
                             l2: float = 0.0, *, freeze_bias: bool = False, comm: Any = None,
                             step_rows: NDArray[np.int64] | None = None,
                             keep_start: bool = True) -> dict[str, Any]:
        """One native epoch over rows `order` of prepared data (see `_engine`).

        A non-finite loss restores the weights and optimizer state of the
        epoch's start; keep_start=False saves the memory of that copy and
        leaves the weights of the last finite step.

        With `comm` (a `fastmlp.distributed.Communicator`), this rank's share of
        a distributed epoch: `step_rows` steps, each summed over all ranks.
        """
        distributed = {} if comm is None else {"reduce": comm.step_sum,
                                               "global_rows": step_rows,
                                               "adds_penalty": comm.is_root,
                                               "dropout_salt": comm.rank}
        with exclusive(self, "train_epoch"):
            return self._net.train_epoch(
                Xn, Y, w, order, batch_size, optimizer.name, optimizer.learning_rate,
                optimizer.momentum, optimizer.beta_1, optimizer.beta_2, optimizer.epsilon, l2,
                freeze_bias=freeze_bias, keep_start=keep_start, **distributed)

    def reset_optimizer(self) -> None:
        """Zero the optimizer state (velocities, Adam moments, step count, the L1 step's)."""
        self._net.reset_optimizer()

    @contextlib.contextmanager
    def _l1_penalty(self, l1: float):
        """scikit-learn's SGD L1 step (cumulative-penalty truncation of the
        weights, u growing by learning_rate * l1 per update) in every epoch
        of the block; the network goes back to none after it."""
        self._net.l1 = float(l1)
        try:
            yield
        finally:
            self._net.l1 = 0.0

    @contextlib.contextmanager
    def _products_in(self, precision: str):
        """Training's matrix products in `precision` ('float32' or 'bfloat16',
        checked by check_precision) for the block; float32 again after it."""
        if precision == "float32":
            yield
            return
        self._net.bf16_products = True
        try:
            yield
        finally:
            self._net.bf16_products = False

    @contextlib.contextmanager
    def _intercept_decay(self, decay: float):
        """scikit-learn's SGD intercept_decay (0.01 when it trains on sparse
        rows): every bias gradient times `decay` before each update of the
        block; the network goes back to 1 after it."""
        self._net.intercept_decay = float(decay)
        try:
            yield
        finally:
            self._net.intercept_decay = 1.0

    def _as_dtype(self, dtype: Any) -> MLP:
        """This model in another dtype: the same structure, normalization,
        weights and optimizer state, cast; `self` when it already is."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        state = self.__getstate__()
        state["dtype"] = dtype
        twin = MLP.__new__(MLP)
        twin.__setstate__(state)
        return twin

    def training_state(self) -> dict[str, Any]:
        """A copy of what training changes: {'params', 'optimizer_state' (two
        buffers shaped like params: velocity or Adam's moments), 'step_count',
        'rng_state' (the epoch-order generator's bit_generator state)}."""
        return {"params": np.array(self._net.params, copy=True),
                "optimizer_state": (np.array(self._net.optimizer_state(0), copy=True),
                                    np.array(self._net.optimizer_state(1), copy=True)),
                "step_count": int(self._net.step_count),
                "rng_state": self._rng.bit_generator.state}

    def set_training_state(self, state: dict[str, Any]) -> None:
        """Put back what `training_state` returned; everything is checked before anything is set."""
        expected = {"params", "optimizer_state", "step_count", "rng_state"}
        if not isinstance(state, dict) or set(state) != expected:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"a training state needs exactly the keys {sorted(expected)}, got {got}")
        buffers = [state["params"], *state["optimizer_state"]]
        names = ["params", "optimizer_state[0]", "optimizer_state[1]"]
        if len(buffers) != 3:
            raise ValueError("optimizer_state must hold two buffers, got "
                             f"{len(buffers) - 1}")
        arrays = []
        for name, buffer in zip(names, buffers):
            array = np.asarray(buffer)
            if array.shape != (self.n_params,) or array.dtype != self.dtype:
                raise ValueError(f"{name} must be {self.dtype} of shape ({self.n_params},), got "
                                 f"{array.dtype} of shape {array.shape}")
            arrays.append(array)
        if not np.all(np.isfinite(arrays[0])):
            raise ValueError("params hold NaN or infinity")
        step = state["step_count"]
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"step_count must be an integer >= 0, got {step!r}")
        rng_state = state["rng_state"]
        kind = self._rng.bit_generator.state["bit_generator"]
        if not isinstance(rng_state, dict) or rng_state.get("bit_generator") != kind:
            got = rng_state.get("bit_generator") if isinstance(rng_state, dict) else rng_state
            raise ValueError(f"rng_state must be a {kind} bit generator state, got {got!r:.60}")
        self._rng.bit_generator.state = rng_state
        self._net.params[...] = arrays[0]
        self._net.optimizer_state(0)[...] = arrays[1]
        self._net.optimizer_state(1)[...] = arrays[2]
        self._net.step_count = int(step)

    def offsets(self, l: int) -> tuple[int, int]:
        """(start of W[l], start of b[l]) in `params` (0-based layer l)."""
        return int(self._net.w_offset(l)), int(self._net.b_offset(l))

    def bias_mask(self) -> NDArray[np.float64]:
        """float64 ones over params, zeros on every bias."""
        mask = np.ones(self.n_params)
        for l in range(self.n_layers):
            start = self.offsets(l)[1]
            mask[start:start + self.layer_sizes[l + 1]] = 0
        return mask

    # ------------------------------------------------------------ training
    @one_trainer_at_a_time
    def fit(self, X: ArrayLike, y: ArrayLike, *, epochs: int = 10,
            batch_size: int | None = 32, optimizer: str = "sgd",
            learning_rate: float = 0.01, momentum: float = 0.9, beta_1: float = 0.9,
            beta_2: float = 0.999, epsilon: float = 1e-8, l2: float = 0.0,
            shuffle: bool = True, sample_weight: ArrayLike | None = None,
            validation_data: tuple[ArrayLike, ArrayLike] | None = None,
            train_metrics: bool = False, verbose: bool = False,
            callbacks: Sequence[Callback | Callable[[MLP, dict[str, Any]], Any]] | None = (),
            progress: str = "auto", track_gradients: bool = False, comm: Any = None,
            precision: str = "float32") -> MLP:
        """Train from the current weights.

        batch_size: None = full batch, 1 = stochastic, k = mini-batches of k.
        optimizer: 'sgd', 'momentum', 'nesterov' or 'adam' (state restarts with each fit).
        learning_rate: the starting rate; a LearningRateScheduler or
        ReduceLROnPlateau callback changes it between epochs.
        validation_data: (X_val, y_val), evaluated after every epoch.
        verbose: print one line of metrics per epoch and, within each epoch, a live
        progress bar on stderr (batches/s, running loss) as `progress` says:
        'auto' (when stderr is a terminal), 'always' or 'never'.
        callbacks: `fastmlp.callbacks.Callback` objects (hooks at the start and
        end of training and of every epoch) and plain callables f(model,
        metrics) run after every epoch; returning True, or setting
        `model.stop_training`, stops training after that epoch. With a
        BackupAndRestore, a fit run again after a crash resumes after the last
        complete epoch.
        track_gradients: after every epoch, record ||dW[l]|| of each layer on a
        fixed sample of up to 256 training rows in metrics["grad_norms"], to see
        vanishing or exploding gradients.
        Returns self, so calls chain; `history` (a fastmlp.callbacks.History,
        a dict of per-epoch lists) holds every metric of every epoch,
        including the learning rate `lr`.
        comm: an mpi4py communicator for data-parallel training (every rank
        passes its own rows; see `fastmlp.distributed`): batch_size is per
        rank, every metric is over all ranks' rows, only rank 0 prints and
        writes files.
        precision: 'float32', or 'bfloat16' for the products of training's
        matrix multiplications (forward, dW, dA) in bfloat16 with float32
        sums (AVX512_BF16's vdpbf16ps: about twice the float32 rate). The
        weights, the optimizer, the activations and loss arithmetic, and
        prediction stay float32, and so do steps of one row and a sparse
        input's first layer. float32 models only; a CPU without AVX512_BF16
        gets a ValueError saying so.
        """
        comm = communicator(comm)
        with fitting(comm):
            # Checked on every rank together: a bad argument on one fails all.
            epochs, learning_rate, l2, callbacks = agreed(
                comm, _checked_fit_options, optimizer, epochs, learning_rate, l2, callbacks,
                track_gradients, comm is not None)
            agreed(comm, check_precision, precision, self.dtype)
            with self._products_in(precision):
                self._fit(X, y, comm, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                          rates=(learning_rate, momentum, beta_1, beta_2, epsilon), l2=l2,
                          shuffle=shuffle, sample_weight=sample_weight,
                          validation_data=validation_data, train_metrics=train_metrics,
                          verbose=verbose, callbacks=callbacks, progress=progress,
                          track_gradients=track_gradients)
        return self

    def _fit(self, X, y, comm, *, epochs, batch_size, optimizer, rates, l2, shuffle,
             sample_weight, validation_data, train_metrics, verbose, callbacks, progress,
             track_gradients):
        """fit's training, its arguments checked; on every rank of `comm` when given."""
        learning_rate, momentum, beta_1, beta_2, epsilon = rates
        X, Y, w, validation = agreed(comm, self._checked_fit_data, X, y, sample_weight,
                                     validation_data)
        if not self.normalizer.fitted:
            self.normalizer.fit(X, comm=comm)
        if comm is not None:
            comm.broadcast(self.params)   # rank 0's weights on every rank
        Xn = self.normalizer.transform(X, self.dtype)
        n = Xn.shape[0]
        # In a distributed fit batch_size is per rank, clipped to the largest
        # rank's rows (so a full batch is every rank's rows in one step).
        largest = n if comm is None else max(comm.allgather(n))
        data = TrainingData(Xn, Y, w, resolve_batch_size(batch_size, largest), l2).distribute(comm)
        if validation is not None:
            X_val, y_val, Y_val = validation
            # normalized and encoded once, used every epoch
            validation = (self.normalizer.transform(X_val, self.dtype), y_val, Y_val)
        root = comm is None or comm.is_root
        verbose = verbose and root
        show_bar = verbose and bar_wanted(progress)
        if comm is not None:
            callbacks = [c for c in callbacks if root or not getattr(c, "writes_files", False)]
        params = {"epochs": epochs, "batch_size": data.batch_size, "steps": data.n_batches,
                  "samples": data.total_rows, "optimizer": optimizer,
                  "learning_rate": learning_rate, "verbose": bool(verbose)}
        hooks = _FitHooks(self, y if train_metrics else None, validation, callbacks, verbose,
                          _gradient_sample(data.X, data.Y, self.seed) if track_gradients
                          else None, data, optimizer=optimizer, learning_rate=learning_rate,
                          params=params, comm=comm)
        self._net.reset_optimizer()
        self.history = History({"epoch": [], "loss": [], "seconds": []}, params=params)
        self.stop_training = False
        try:
            done = hooks.begin()
            run_epochs(self, data, Optimizer(optimizer, learning_rate, momentum, beta_1, beta_2,
                                             epsilon),
                       hooks, epochs=max(0, epochs - done), rng=self._rng, shuffle=shuffle,
                       progress_label="epoch" if show_bar else None, first_epoch=done + 1)
        finally:
            hooks.detach()
        self._fit_rank = 0 if comm is None else comm.rank

    def _checked_fit_data(self, X, y, sample_weight, validation_data):
        """fit's rows checked on this rank: (X, Y, w, (X_val, y_val, Y_val) or None)."""
        X = self._checked_rows(X)
        n = X.shape[0]
        Y, w = self._targets(y, n), self._weights(sample_weight, n)
        validation = None
        if validation_data is not None:
            X_val, y_val = validation_data
            X_val = self._checked_rows(X_val)
            validation = (X_val, y_val, self._targets(y_val, X_val.shape[0]))
        return X, Y, w, validation

    def _layer_gradient_norms(self, Xn, Y, l2=0.0):
        """[||dW[1]||, ..., ||dW[L]||] (Frobenius) of the mean loss on normalized rows."""
        _, flat = self.gradients_prepared(Xn, Y, None, l2)
        return [float(np.linalg.norm(self._weight_view(flat, l))) for l in range(self.n_layers)]

    def activations_for(self, X: ArrayLike) -> list[dict[str, Any]]:
        """Every layer's pre-activation z[l] and activation a[l] on a batch X.

        Returns a list with one dict per layer l = 1..L: {'layer': l,
        'activation': name, 'z': z[l], 'a': a[l]}, each array (rows x outputs).
        """
        zs, acts = self.forward(X, return_all=True)
        return [{"layer": l + 1, "activation": self.activations[l], "z": z, "a": a}
                for l, (z, a) in enumerate(zip(zs, acts))]

    def _score_prepared(self, Xn, y):
        """score() on features that are already normalized and converted."""
        return self._score_output(self._net.predict(Xn), y)

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_net"] = np.array(self._net.params, copy=True)
        # The optimizer's state too, as scikit-learn's MLPs keep theirs, so a
        # partial_fit after a round trip (Dask moves models between processes)
        # goes on exactly; buffers that are all zero (plain SGD) are left out.
        moments = [np.array(self._net.optimizer_state(k), copy=True) for k in (0, 1)]
        state["_optimizer_state"] = (int(self._net.step_count),
                                     *(m if np.any(m) else None for m in moments))
        # Which rank fitted this replica matters to `save` in that run only.
        state.pop("_fit_rank", None)
        return state

    def __setstate__(self, state):
        params = state.pop("_net")
        optimizer = state.pop("_optimizer_state", None)  # absent in older pickles
        state.pop("_train_lock", None)  # held by models pickled before 0.2
        self.__dict__.update(state)
        self._net = _NETWORK_CLASSES[self.dtype](self.layer_sizes, self.activations,
                                                 self.loss_name, self.slope)
        self._net.params[...] = params
        if optimizer is not None:
            step_count, *moments = optimizer
            self._net.step_count = step_count
            for k, moment in enumerate(moments):
                if moment is not None:
                    self._net.optimizer_state(k)[...] = moment
        if "dropout" not in state:  # pickled before dropout existed
            self.dropout = (0.0,) * (self.n_layers - 1)
            self._dropout_seed = 0
        self._apply_dropout()


def _check_callbacks(callbacks):
    """The fit's callbacks as a list: Callback objects or callables f(model, metrics)."""
    if callbacks is None:
        return []
    if isinstance(callbacks, (Callback, str)) or callable(callbacks):
        raise TypeError("callbacks must be a list of Callback objects or callables "
                        f"f(model, metrics), got a single {type(callbacks).__name__}")
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise TypeError("callbacks must be a list of Callback objects or callables "
                        f"f(model, metrics), got {type(callbacks).__name__}") from None
    for i, callback in enumerate(callbacks):
        if not (isinstance(callback, Callback) or callable(callback)):
            raise TypeError(f"callbacks[{i}] must be a Callback or a callable f(model, metrics), "
                            f"got {type(callback).__name__}")
    return callbacks


class _FitHooks(EpochHooks):
    """MLP.fit's side of the epoch loop: metrics, history, verbose lines, callbacks.

    It is also what a `Callback` sees of the running fit: the learning rate in
    effect (`rate`, which schedules change before each native epoch), the
    training data, and where a BackupAndRestore resumes. Backups restore
    before the other callbacks start and write after the others have run at
    each epoch's end, so they hold every callback's state for that epoch.
    """

    def __init__(self, model, y_train, validation, callbacks, verbose, gradient_sample, data, *,
                 optimizer="sgd", learning_rate=0.01, params=None, comm=None):
        self.model = model
        self.comm = comm                # a distributed fit's Communicator, or None
        self.y_train = y_train          # labels for train_score, or None
        self.validation = validation    # (X_val prepared, y_val, Y_val encoded) or None
        self.callbacks = list(callbacks)
        self.verbose = verbose
        self.gradient_sample = gradient_sample
        self.data = data
        self.optimizer_name = optimizer
        self.rate = learning_rate       # the rate of the coming epoch
        self._rate = learning_rate      # the rate of the epoch that runs or ran last
        self.params = params or {}
        self.epochs = self.params.get("epochs")
        self.backups = [c for c in self.callbacks if isinstance(c, BackupAndRestore)]
        self.hooked = [c for c in self.callbacks if isinstance(c, Callback)
                       and not isinstance(c, BackupAndRestore)]
        # what a backup keeps: the callbacks that define a state
        self.stateful_callbacks = [c for c in self.hooked
                                   if type(c).get_state is not Callback.get_state]
        self.initial_epoch = 0
        self._stopped = False

    # -- what callbacks use
    def resume_after(self, epoch, stopped=False):
        """A backup restored the state after `epoch` epochs; `stopped`: that epoch stopped."""
        self.initial_epoch = epoch if not stopped else max(epoch, self.epochs or epoch)
        self._stopped = stopped

    def begin(self):
        """on_train_begin of every Callback (backups first); returns the epochs already done."""
        for callback in self.backups + self.hooked:
            callback._attach(self.model, dict(self.params), self)
        for callback in self.backups + self.hooked:
            callback.on_train_begin({})
        return self.initial_epoch

    def detach(self):
        for callback in self.backups + self.hooked:
            callback._detach()

    # -- the engine's hooks
    def learning_rate(self, epoch, optimizer):
        for callback in self.hooked:
            callback.on_epoch_begin(epoch, {})
        self._rate = self.rate
        return self._rate

    def diverged(self, epoch, result):
        raise TrainingDivergedError(
            f"the training loss became NaN or infinite at epoch {epoch}, batch "
            f"{result['failed_batch'] + 1}; the input may need scaling (normalize="
            f"'zscore') or the learning rate ({self._rate}) may be too large. The "
            f"model keeps its weights from the start of epoch {epoch}."
        )

    def end_of_epoch(self, epoch, result, seconds):
        model, l2 = self.model, self.data.l2
        metrics = {"epoch": epoch, "loss": result["loss"], "seconds": seconds}
        if self.y_train is not None:
            metrics["train_score"] = self._score(self.data.X, self.y_train)
        if self.validation is not None:
            X_val, y_val, Y_val = self.validation
            metrics["val_loss"] = model.loss_prepared(X_val, Y_val, None, l2, comm=self.comm)
            metrics["val_score"] = self._score(X_val, y_val)
        if self.gradient_sample is not None:
            metrics["grad_norms"] = model._layer_gradient_norms(*self.gradient_sample, l2)
        metrics["lr"] = self._rate
        model.history.record(metrics)
        if self.verbose:
            print(format_metrics(metrics), flush=True)
        stop = False
        for callback in self.callbacks:
            if isinstance(callback, BackupAndRestore):
                continue
            if isinstance(callback, Callback):
                answer = callback.on_epoch_end(epoch, metrics)
            else:
                answer = callback(model, metrics)
            stop = bool(answer) or stop
        stop = stop or bool(getattr(model, "stop_training", False))
        for backup in self.backups:
            backup.backup(epoch, stop)
        return stop

    def finished(self):
        for callback in self.hooked + self.backups:
            callback.on_train_end({})

    # -- metrics over every rank's rows in a distributed fit
    def _score(self, Xn, y):
        model, comm = self.model, self.comm
        if comm is None:
            return model._score_prepared(Xn, y)
        # The score of all rows is what one process would compute on them.
        out = comm.concatenate(model.output_prepared(Xn))
        return model._score_output(out, comm.concatenate(np.asarray(y)))


def _divided_by(divisor):
    """The native loss's divisor argument: given only when it replaces the row count."""
    return {"divisor": int(divisor)} if divisor else {}


def _checked_fit_options(optimizer, epochs, learning_rate, l2, callbacks, track_gradients,
                         distributed):
    """MLP.fit's settings checked: (epochs, learning_rate, l2, callbacks as a list)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
    epochs = check_positive_int(epochs, "epochs")
    learning_rate = check_positive_float(learning_rate, "learning_rate")
    l2 = check_non_negative_float(l2, "l2")
    callbacks = _check_callbacks(callbacks)
    if distributed:
        _check_distributed_options(callbacks, track_gradients)
    return epochs, learning_rate, l2, callbacks


PRECISIONS = ("float32", "bfloat16")


def check_precision(precision, dtype):
    """fit's precision= checked against the model's dtype and this CPU."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, "
                         f"got {precision!r}")
    if precision == "float32":
        return
    if np.dtype(dtype) != np.float32:
        raise ValueError("precision='bfloat16' trains float32 models (float32 master weights); "
                         f"this model's dtype is {np.dtype(dtype).name}")
    why = _core.bf16_unavailable()
    if why is not None:
        raise ValueError(f"precision='bfloat16' is not available here: {why} "
                         f"(active instruction set: {_core.active_isa()})")


def _check_distributed_options(callbacks, track_gradients):
    """What a distributed MLP.fit cannot do yet, refused before any rank starts."""
    if track_gradients:
        raise ValueError("track_gradients=True is not available with comm=; "
                         "use fastmlp.diagnostics.layer_gradient_norms on rank 0 after the fit")
    for callback in callbacks:
        if isinstance(callback, BackupAndRestore):
            raise ValueError("BackupAndRestore is not available with comm=: its backup would "
                             "hold rank 0's epoch order only; use ModelCheckpoint (rank 0 "
                             "writes it)")


def _gradient_sample(Xn, Y, seed, max_rows=256):
    """A fixed sample of training rows for per-epoch gradient norms.

    Drawn from its own generator so tracking gradients leaves the model's
    epoch order (and so its weights) unchanged.
    """
    n = Xn.shape[0]
    if n <= max_rows:
        return Xn, Y
    rows = np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))
    sample = native_csr(Xn[rows], Xn.dtype) if is_sparse(Xn) else np.ascontiguousarray(Xn[rows])
    return sample, np.ascontiguousarray(Y[rows])


def format_metrics(metrics: dict[str, Any]) -> str:
    """One progress line: 'epoch   3  loss 0.1234  train 0.9712  val 0.9650  1.23 s'."""
    parts = [f"epoch {metrics['epoch']:3d}", f"loss {metrics['loss']:.4f}"]
    if "train_score" in metrics:
        parts.append(f"train {metrics['train_score']:.4f}")
    if "val_loss" in metrics:
        parts.append(f"val loss {metrics['val_loss']:.4f}")
    if "val_score" in metrics:
        parts.append(f"val {metrics['val_score']:.4f}")
    parts.append(f"{metrics['seconds']:.2f} s")
    return "  ".join(parts)

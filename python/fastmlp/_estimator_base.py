"""What the scikit-learn compatible estimators share.

The estimators keep one `fastmlp.model.MLP` in `_model`; its native network
holds the weights, and `coefs_` / `intercepts_` are views into them. Python
loops over epochs only: one native `train_epoch` call per epoch (the
learning-rate schedule, the no-improvement counter, early stopping and
`eval_set` live here), or scipy's L-BFGS-B over the native full-batch loss and
gradient.

Semantics follow scikit-learn's MLP (sklearn/neural_network/_multilayer_perceptron.py):
`tol` and `n_iter_no_change` on the training loss (or the validation score),
'invscaling' updated once per epoch from `t_`, 'adaptive' dividing the rate
by 5, `batch_size='auto'` = min(200, n), `t_` counting samples seen.
"""

import contextlib
import numbers
import warnings

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _core
from ._batching import epoch_order
from ._names import canonical_activation
from ._progress import train_epoch_in_chunks
from .errors import TrainingDivergedError
from .model import MLP

# scikit-learn's spelling of our activation names (fitted attributes use it).
SKLEARN_ACTIVATION_NAMES = {"sigmoid": "logistic"}
HIDDEN_ACTIVATION_CHOICES = ("identity", "logistic", "sigmoid", "tanh", "relu", "leaky_relu",
                             "softplus")
STOCHASTIC_SOLVERS = ("sgd", "adam")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
DTYPE = np.float32
# scikit-learn's adaptive schedule stops once the rate falls to this.
MIN_ADAPTIVE_LEARNING_RATE = 1e-6


def sklearn_activation_name(name):
    return SKLEARN_ACTIVATION_NAMES.get(name, name)


@contextlib.contextmanager
def native_threads(n_threads):
    """Run the block with `n_threads` OpenMP threads, then restore the global setting."""
    if n_threads is None:
        yield
        return
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral):
        raise ValueError(f"n_threads must be None or a positive integer, got {n_threads!r}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be None or a positive integer, got {n_threads!r}")
    previous = _core.get_num_threads()
    _core.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        _core.set_num_threads(previous)


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"The '{name}' parameter must be a str among {sorted(choices)}. Got {value!r} instead."
        )


def _check_real(value, name, low=None, high=None, *, low_open=False, high_open=False,
                allow_inf=False):
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
            or np.isnan(value)):
        raise ValueError(f"The '{name}' parameter must be a real number. Got {value!r} instead.")
    if not allow_inf and not np.isfinite(value):
        raise ValueError(f"The '{name}' parameter must be finite. Got {value!r} instead.")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(
            f"The '{name}' parameter must be in the range {lo}{low}, {high}{hi}. Got {value!r} "
            "instead."
        )
    return float(value)


def _check_int(value, name, low=1):
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)
            or value < low):
        raise ValueError(
            f"The '{name}' parameter must be an int in the range [{low}, inf). Got {value!r} "
            "instead."
        )
    return int(value)


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"The '{name}' parameter must be an instance of 'bool'. Got {value!r} "
                         "instead.")
    return bool(value)


class NetworkEstimator(BaseEstimator):
    """Shared machinery; subclasses describe the network and the targets.

    Subclass hooks
    --------------
    _network_plan(n_outputs) -> (hidden sizes, hidden activation, output activation)
    _prepare_targets(y, first, incremental) -> float32 (n, n_outputs) targets (sets classes_ etc.)
    _penalty(n_rows, weight_sum, batch) -> the native l2 coefficient
    _validation_score(X_n, y_raw, sample_weight) -> accuracy or R^2
    _initial_zero_weights -> bool (linear models start from zero)
    """

    _initial_zero_weights = False
    _freeze_bias = False
    _normalize_sample_weight = True

    # ------------------------------------------------------------ the fit flow
    _is_classifier_estimator = False

    def _fit(self, X, y, sample_weight=None, *, incremental=False, eval_set=None):
        self._validate_params_all()
        if incremental and self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        first = "_model" not in self.__dict__ or (not self.warm_start and not incremental)
        X, y = self._validate_X_y(X, y, reset=first, y_numeric=not self._is_classifier_estimator)
        if y.ndim == 2 and y.shape[1] == 1 and not self._keeps_2d_column(y):
            from sklearn.utils.validation import column_or_1d

            y = column_or_1d(y, warn=True)
        sample_weight = self._sample_weight(sample_weight, X)
        Y = self._prepare_targets(y, incremental=incremental)
        if self._is_classifier_estimator:
            sample_weight = self._class_sample_weight(sample_weight, y)
        prepared_eval = self._prepare_eval_set(eval_set)
        if prepared_eval is not None and self.solver not in STOCHASTIC_SOLVERS:
            raise ValueError("eval_set needs a stochastic solver ('sgd' or 'adam'), got "
                             f"solver={self.solver!r}")
        if prepared_eval is not None and incremental:
            raise ValueError("partial_fit does not take eval_set")
        self._has_eval_set = prepared_eval is not None
        if first:
            for stale in ("loss_curve_", "best_loss_", "validation_scores_",
                          "validation_loss_curve_", "best_validation_score_", "loss_"):
                self.__dict__.pop(stale, None)
            self._build_network(X.shape[1], Y.shape[1], X)
        else:
            if Y.shape[1] != self.n_outputs_:
                raise ValueError(f"y has {Y.shape[1]} outputs but the fitted network has "
                                 f"{self.n_outputs_}; fit again with warm_start=False")
            self._push_weights()
        if self.solver in STOCHASTIC_SOLVERS and "loss_curve_" not in self.__dict__:
            self._start_training_state()
        self._fit_network(X, Y, sample_weight, incremental=incremental, y_raw=y,
                          eval_set=prepared_eval)
        return self

    def _keeps_2d_column(self, y):
        return False

    def _validate_params_all(self):
        self._validate_common_params()
        self._validate_solver_params()
        self._validate_own_params()

    def _validate_own_params(self):
        pass


    # ------------------------------------------------------------ helpers for subclasses
    def _more_tags_common(self, tags):
        tags.input_tags.sparse = True
        return tags

    def _validate_common_params(self):
        if self.normalize not in (None, "zscore", "minmax"):
            raise ValueError(
                f"The 'normalize' parameter must be None, 'zscore' or 'minmax'. Got "
                f"{self.normalize!r} instead."
            )
        if getattr(self, "init", None) not in (None, "lecun", "he", "glorot"):
            raise ValueError(
                f"The 'init' parameter must be None, 'lecun', 'he' or 'glorot'. Got "
                f"{getattr(self, 'init', None)!r} instead."
            )
        if self.n_threads is not None:
            _check_int(self.n_threads, "n_threads")

    def _validate_solver_params(self):
        """The MLP-style optimisation parameters (shared by MLP* and LogisticRegression)."""
        _check_choice(self.solver, "solver", ("lbfgs",) + STOCHASTIC_SOLVERS)
        _check_choice(self.learning_rate, "learning_rate", LEARNING_RATES)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _check_int(self.batch_size, "batch_size")
        _check_real(self.learning_rate_init, "learning_rate_init", 0, low_open=True)
        _check_real(self.power_t, "power_t", 0)
        _check_int(self.max_iter, "max_iter")
        _check_bool(self.shuffle, "shuffle")
        _check_real(self.tol, "tol", 0)
        _check_bool(self.warm_start, "warm_start")
        _check_real(self.momentum, "momentum", 0, 1)
        _check_bool(self.nesterovs_momentum, "nesterovs_momentum")
        _check_bool(self.early_stopping, "early_stopping")
        _check_real(self.validation_fraction, "validation_fraction", 0, 1, high_open=True)
        _check_real(self.beta_1, "beta_1", 0, 1, high_open=True)
        _check_real(self.beta_2, "beta_2", 0, 1, high_open=True)
        _check_real(self.epsilon, "epsilon", 0, low_open=True)
        if not (isinstance(self.n_iter_no_change, numbers.Real)
                and self.n_iter_no_change == np.inf):
            _check_int(self.n_iter_no_change, "n_iter_no_change")
        _check_int(self.max_fun, "max_fun")

    # ------------------------------------------------------------ data
    def _validate_X_y(self, X, y, *, reset, y_numeric=False):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc", "coo"], multi_output=True,
                             dtype=(np.float64, np.float32), y_numeric=y_numeric, reset=reset)
        return self._dense(X), y

    def _validate_X(self, X):
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"],
                          dtype=(np.float64, np.float32), reset=False)
        return self._dense(X)

    @staticmethod
    def _dense(X):
        if scipy.sparse.issparse(X):
            X = X.toarray()
        return X

    def _sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=np.float64)

    def _native_inputs(self, X):
        """Normalized float32 C-contiguous features for the native network."""
        return self._model.normalizer.transform(X, DTYPE)

    # ------------------------------------------------------------ the network
    def _random_seed(self):
        """An int seed for this fit, from random_state as scikit-learn reads it."""
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _build_network(self, n_features, n_outputs, X):
        hidden, hidden_activation, output = self._network_plan(n_outputs)
        hidden_activation = canonical_activation(hidden_activation)
        seed = self._random_seed()
        init_seq, run_seq = np.random.SeedSequence(seed).spawn(2)
        self._model = MLP([n_features, *hidden, n_outputs], hidden_activation, output,
                          init=getattr(self, "init", None), normalize=self.normalize, seed=init_seq)
        if self._initial_zero_weights:
            self._model.params[...] = 0
        self._model.normalizer.fit(X)
        self._rng = np.random.default_rng(run_seq)
        self.n_layers_ = len(hidden) + 2
        self.n_outputs_ = n_outputs
        self.out_activation_ = sklearn_activation_name(output)
        self.n_params_ = self._model.n_params
        self.n_iter_ = 0
        self.t_ = 0
        self._optimizer_ready = False
        self._expose_weights()

    def _expose_weights(self):
        """coefs_ / intercepts_ become views into the native parameters."""
        self._coef_views = self._model.W
        self._intercept_views = self._model.b
        self.coefs_ = list(self._coef_views)
        self.intercepts_ = list(self._intercept_views)

    def _push_weights(self):
        """Copy coefs_ / intercepts_ the user replaced into the native network."""
        coefs, intercepts = self.coefs_, self.intercepts_
        replaced = (
            coefs is None or intercepts is None or len(coefs) != len(self._coef_views)
            or len(intercepts) != len(self._intercept_views)
            or any(c is not v for c, v in zip(coefs, self._coef_views))
            or any(b is not v for b, v in zip(intercepts, self._intercept_views))
        )
        if not replaced:
            return
        if coefs is None or intercepts is None or len(coefs) != len(self._coef_views) \
                or len(intercepts) != len(self._intercept_views):
            raise ValueError(
                f"coefs_ and intercepts_ must be lists of {len(self._coef_views)} arrays for "
                "this network"
            )
        for name, given, views in (("coefs_", coefs, self._coef_views),
                                   ("intercepts_", intercepts, self._intercept_views)):
            for l, (array, view) in enumerate(zip(given, views)):
                if array is view:
                    continue
                array = np.asarray(array)
                if array.shape != view.shape:
                    raise ValueError(f"{name}[{l}] must have shape {view.shape}, got {array.shape}")
                view[...] = array
        self._expose_weights()

    def _forward(self, X):
        """The network's output on validated X (float32, shape (n, n_outputs))."""
        self._push_weights()
        with native_threads(self.n_threads):
            return self._model._net.predict(self._native_inputs(X))

    def _output_logits(self, X):
        """z of the output layer (decision_function of the linear models)."""
        self._push_weights()
        Xn = self._native_inputs(X)
        with native_threads(self.n_threads):
            zs, _ = self._model._net.forward_all(Xn)
        return zs[-1]

    def summary(self, print_fn=print):
        """Each layer's shapes and parameter count, and the total."""
        check_is_fitted(self)
        self._push_weights()
        return self._model.summary(print_fn=print_fn)

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        if "_model" in self.__dict__ and "_coef_views" in self.__dict__:
            self._push_weights()
        state = dict(super().__getstate__())
        for key in ("coefs_", "intercepts_", "_coef_views", "_intercept_views"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_model" in self.__dict__:
            self._expose_weights()

    # ------------------------------------------------------------ fitting
    def _weights_and_penalty(self, sample_weight, n_rows, batch):
        """Native row weights (rescaled to sum to n_rows) and the l2 coefficient."""
        if sample_weight is None:
            return None, self._penalty(n_rows, float(n_rows), batch)
        total = float(np.sum(sample_weight))
        if not total > 0:
            raise ValueError("sample_weight must have a positive sum, got all zero weights")
        if self._normalize_sample_weight:
            w = sample_weight * (n_rows / total)
        else:
            w = sample_weight
        return np.ascontiguousarray(w, dtype=DTYPE), self._penalty(n_rows, total, batch)

    def _resolve_batch_size(self, n_rows):
        if isinstance(self.batch_size, str):
            return min(200, n_rows)
        if self.batch_size > n_rows:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                          "to be clipped")
        return int(np.clip(self.batch_size, 1, n_rows))

    def _optimizer_name(self):
        if self.solver == "adam":
            return "adam"
        if self.momentum > 0:
            return "nesterov" if self.nesterovs_momentum else "momentum"
        return "sgd"

    def _uses_schedule(self):
        return self.solver == "sgd"

    def _train_one_epoch(self, Xn, Y, w, order, batch, l2):
        """One native epoch; with a frozen (absent) intercept, batch by batch."""
        net = self._model._net
        momentum = self.momentum if self.solver == "sgd" else 0.9
        args = (self._optimizer_name(), self._learning_rate_, momentum,
                getattr(self, "beta_1", 0.9), getattr(self, "beta_2", 0.999),
                getattr(self, "epsilon", 1e-8), l2)
        if not self._freeze_bias_now():
            return net.train_epoch(Xn, Y, w, order, batch, *args)

        def zero_biases(_batches_done, _running_loss):
            for b in self._model.b:
                b[...] = 0

        # One native call per batch, the biases zeroed after each.
        n_batches = -(-len(order) // batch)
        return train_epoch_in_chunks(lambda part: net.train_epoch(Xn, Y, w, part, batch, *args),
                                     order, batch, on_chunk=zero_biases, target_chunks=n_batches)

    def _freeze_bias_now(self):
        return False

    def _fit_network(self, X, Y, sample_weight, *, incremental, y_raw, eval_set):
        """Train the network on validated X and encoded targets Y."""
        Y = np.ascontiguousarray(Y, dtype=DTYPE)
        if self._freeze_bias_now():
            for b in self._model.b:
                b[...] = 0
        with native_threads(self.n_threads):
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, Y, sample_weight)
            else:
                self._fit_stochastic(X, Y, sample_weight, incremental=incremental, y_raw=y_raw,
                                     eval_set=eval_set)
        if not np.all(np.isfinite(self._model.params)):
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        self._expose_weights()

    def _native_l2_grad_mask(self):
        """1 where the gradient applies, 0 on frozen intercepts (lbfgs without intercept)."""
        if not self._freeze_bias_now():
            return None
        mask = np.ones(self._model.n_params)
        net = self._model._net
        for l in range(self._model.n_layers):
            start = net.b_offset(l)
            mask[start:start + self._model.layer_sizes[l + 1]] = 0
        return mask

    def _fit_lbfgs(self, X, Y, sample_weight):
        n = X.shape[0]
        Xn = self._native_inputs(X)
        w, l2 = self._weights_and_penalty(sample_weight, n, n)
        net = self._model._net
        params = net.params
        mask = self._native_l2_grad_mask()

        def loss_and_gradient(theta):
            params[...] = theta
            loss = net.gradients(Xn, Y, w, l2)
            grad = np.array(net.grads, dtype=np.float64)
            if mask is not None:
                grad *= mask
            return loss, grad

        # L-BFGS-B's own vector work is small; threaded BLAS only adds
        # synchronisation (20x slower on a busy 2-core machine).
        with threadpool_limits(1, user_api="blas"):
            result = scipy.optimize.minimize(
                loss_and_gradient, np.array(params, dtype=np.float64), method="L-BFGS-B",
                jac=True,
                options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
            )
        if result.status != 0:
            message = result.message
            if isinstance(message, bytes):
                message = message.decode("latin1")
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iteration(s) (status="
                f"{result.status}):\n{message}.\n\nIncrease the number of iterations to "
                "improve the convergence (max_iter), or scale the data (normalize='zscore').",
                ConvergenceWarning, stacklevel=4,
            )
        self.n_iter_ = min(int(result.nit), self.max_iter)
        params[...] = result.x
        if not np.isfinite(result.fun):
            raise TrainingDivergedError("the lbfgs loss became NaN or infinite; scale the input "
                                        "(normalize='zscore')")
        self.loss_ = float(self._report_loss(result.fun, 1, n))
        if self.verbose:
            print(f"lbfgs: {self.n_iter_} iterations, loss = {self.loss_:.8f}")

    def _report_loss(self, native_loss, n_batches, n_rows):
        """The loss in scikit-learn's convention (regression adjusts multi-output)."""
        return native_loss

    def _start_training_state(self):
        """Called on a first fit: the stochastic bookkeeping scikit-learn keeps."""
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self._uses_validation:
            self.validation_scores_ = []
            self.validation_loss_curve_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None

    def _split_validation(self, X, Y, sample_weight, y_raw, eval_set):
        """(train, validation) parts: the user's eval_set or a held-out fraction."""
        if eval_set is not None:
            X_val, y_val, sw_val = eval_set
            return (X, Y, sample_weight), (X_val, y_val, sw_val)
        if not self.early_stopping:
            return (X, Y, sample_weight), None
        stratify = y_raw if (self._is_classifier_estimator and self.n_outputs_ == 1
                             and y_raw.ndim == 1) else None
        index = np.arange(X.shape[0])
        seed = int(self._rng.integers(np.iinfo(np.int32).max))
        try:
            train_idx, val_idx = train_test_split(index, random_state=seed,
                                                  test_size=self.validation_fraction,
                                                  stratify=stratify)
        except ValueError:
            train_idx, val_idx = train_test_split(index, random_state=seed,
                                                  test_size=self.validation_fraction)
        if val_idx.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        sw_train = None if sample_weight is None else sample_weight[train_idx]
        sw_val = None if sample_weight is None else sample_weight[val_idx]
        return (X[train_idx], Y[train_idx], sw_train), (X[val_idx], y_raw[val_idx], sw_val)

    def _fit_stochastic(self, X, Y, sample_weight, *, incremental, y_raw, eval_set):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        net = self._model._net
        if not incremental or not self._optimizer_ready:
            net.reset_optimizer()
            self._learning_rate_ = float(self.learning_rate_init)
            self._optimizer_ready = True
        (X_tr, Y_tr, sw_tr), validation = self._split_validation(X, Y, sample_weight, y_raw,
                                                                 eval_set)
        n = X_tr.shape[0]
        Xn = self._native_inputs(X_tr)
        Y_tr = np.ascontiguousarray(Y_tr, dtype=DTYPE)
        batch = self._resolve_batch_size(n)
        w, l2 = self._weights_and_penalty(sw_tr, n, batch)
        n_batches = -(-n // batch)
        if validation is not None:
            X_val, y_val, sw_val = validation
            Xn_val = self._native_inputs(X_val)
            Y_val = np.ascontiguousarray(self._encode_validation_targets(y_val), dtype=DTYPE)
            w_val = None if sw_val is None else np.ascontiguousarray(sw_val, dtype=DTYPE)
            best_params = np.array(net.params, copy=True)
            if self.best_validation_score_ is None:
                self.best_validation_score_ = -np.inf
        epochs = 1 if incremental else self.max_iter
        self.n_iter_ = 0
        try:
            for _ in range(epochs):
                order = self._epoch_order(n)
                result = self._train_one_epoch(Xn, Y_tr, w, order, batch, l2)
                if result["status"] == "non_finite":
                    raise TrainingDivergedError(
                        f"the training loss became NaN or infinite at epoch {self.n_iter_ + 1}; "
                        "scale the input (normalize='zscore') or lower learning_rate_init "
                        f"({self.learning_rate_init}). The model keeps its last finite weights."
                    )
                self.n_iter_ += 1
                self.loss_ = float(self._report_loss(result["loss"], n_batches, n))
                self.t_ += n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                if validation is not None:
                    improved = self._record_validation(Xn_val, y_val, Y_val, w_val, sw_val)
                    if improved:
                        best_params = np.array(net.params, copy=True)
                else:
                    self._record_training_loss()
                if self.solver == "sgd" and self.learning_rate == "invscaling":
                    self._learning_rate_ = self.learning_rate_init / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    if self._should_stop():
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                        "the optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=4)
        if validation is not None:
            net.params[...] = best_params

    def _epoch_order(self, n):
        return epoch_order(n, self._rng, self.shuffle)

    def _should_stop(self):
        """scikit-learn's trigger_stopping: adaptive SGD first divides the rate by 5."""
        what = ("Validation score" if self._uses_validation_now else "Training loss")
        message = (f"{what} did not improve more than tol={self.tol:f} for "
                   f"{self.n_iter_no_change} consecutive epochs.")
        if self.solver == "sgd" and self.learning_rate == "adaptive":
            if self._learning_rate_ <= MIN_ADAPTIVE_LEARNING_RATE:
                if self.verbose:
                    print(message + " Learning rate too small. Stopping.")
                return True
            self._learning_rate_ /= 5.0
            if self.verbose:
                print(message + f" Setting learning rate to {self._learning_rate_:f}")
            return False
        if self.verbose:
            print(message + " Stopping.")
        return True

    def _record_training_loss(self):
        self._uses_validation_now = False
        if self.best_loss_ is None:
            self.best_loss_ = np.inf
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if self.loss_curve_[-1] < self.best_loss_:
            self.best_loss_ = self.loss_curve_[-1]

    def _record_validation(self, Xn_val, y_val, Y_val, w_val, sw_val):
        """Score the validation data; True when it is the best so far."""
        self._uses_validation_now = True
        out = self._model._net.predict(Xn_val)
        score = self._score_output(out, y_val, sw_val)
        val_loss = float(self._model._net.loss(Xn_val, Y_val, w_val, 0.0))
        if self.validation_scores_ is None:
            self.validation_scores_ = []
        if getattr(self, "validation_loss_curve_", None) is None:
            self.validation_loss_curve_ = []
        self.validation_scores_.append(score)
        self.validation_loss_curve_.append(val_loss)
        if self.verbose:
            print(f"Validation score: {score:f}, validation loss: {val_loss:.8f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _prepare_eval_set(self, eval_set):
        """(X_val, y_val[, sample_weight_val]) validated against the training features."""
        if eval_set is None:
            return None
        if isinstance(eval_set, list) and len(eval_set) == 1 and isinstance(eval_set[0], tuple):
            eval_set = eval_set[0]
        if not isinstance(eval_set, (tuple, list)) or len(eval_set) not in (2, 3):
            raise ValueError("eval_set must be a tuple (X_val, y_val) or (X_val, y_val, "
                             "sample_weight_val)")
        X_val, y_val = eval_set[0], eval_set[1]
        sw_val = eval_set[2] if len(eval_set) == 3 else None
        X_val = self._validate_X(X_val)
        y_val = self._check_validation_targets(y_val)
        if y_val.shape[0] != X_val.shape[0]:
            raise ValueError(f"eval_set X has {X_val.shape[0]} rows but y has {y_val.shape[0]}")
        if sw_val is not None:
            sw_val = _check_sample_weight(sw_val, X_val, dtype=np.float64)
        return X_val, y_val, sw_val

    @property
    def _uses_validation(self):
        return bool(self.early_stopping) or getattr(self, "_has_eval_set", False)


class ClassifierTargets:
    """Label handling shared by the classifiers: LabelBinarizer, as scikit-learn's MLP does."""

    _is_classifier_estimator = True

    def _prepare_targets(self, y, *, incremental):
        from sklearn.preprocessing import LabelBinarizer
        from sklearn.utils.multiclass import check_classification_targets, unique_labels

        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        self._check_target_type()
        return self._label_binarizer.transform(y).astype(DTYPE, copy=False)

    def _partial_fit_incremental(self, X, y, sample_weight, classes):
        """partial_fit for the classifiers: on the first call, the label set
        comes from `classes` (or from an indicator y, which names its labels)."""
        from sklearn.preprocessing import LabelBinarizer
        from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target

        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def _check_target_type(self):
        if self._label_binarizer.y_type_ not in self._supported_target_types:
            raise ValueError(f"{type(self).__name__} does not support "
                             f"{self._label_binarizer.y_type_} targets")

    _supported_target_types = ("binary", "multiclass", "multilabel-indicator")

    @property
    def _is_multilabel(self):
        return self._label_binarizer.y_type_.startswith("multilabel")

    def _output_activation_for_targets(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "sigmoid"

    def _class_sample_weight(self, sample_weight, y):
        """sample_weight times the class weights (None when neither is given)."""
        from sklearn.utils.class_weight import compute_sample_weight

        if self.class_weight is None:
            return sample_weight
        if isinstance(self.class_weight, str) and self.class_weight != "balanced":
            raise ValueError(f"The 'class_weight' parameter must be a dict, 'balanced' or None. "
                             f"Got {self.class_weight!r} instead.")
        if np.ndim(y) == 2 and isinstance(self.class_weight, dict):
            raise ValueError("class_weight as a dict needs single-output (not multi-label) "
                             "targets; use 'balanced'")
        weights = compute_sample_weight(self.class_weight, y)
        return weights if sample_weight is None else sample_weight * weights

    def _decode(self, out):
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    def _encode_validation_targets(self, y_val):
        return self._label_binarizer.transform(y_val)

    def _check_validation_targets(self, y_val):
        y_val = np.asarray(y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1 and not self._is_multilabel:
            y_val = y_val.ravel()
        return y_val

    def _score_output(self, out, y_val, sample_weight):
        from sklearn.metrics import accuracy_score

        if not np.all(np.isfinite(out)):
            return np.nan
        return float(accuracy_score(y_val, self._decode(out), sample_weight=sample_weight))

    def _probabilities(self, X):
        """predict_proba: rows over classes_ (sum to 1), or per-label for multi-label."""
        out = self._forward(X).astype(np.float64)
        if self.n_outputs_ == 1:
            p = out.ravel()
            return np.column_stack([1.0 - p, p])
        return out

"""Perceptron: scikit-learn's perceptron rule on the native core.

With the target read as s = -1 or +1 and z = x W + b, for every sample (or
mini-batch) that is wrong, s z <= 0 (z = 0 included),

    W := W + eta s x,  b := b + eta s

one output per class (one-versus-rest) for multiclass targets. The penalty
follows scikit-learn's SGD: the L2 part shrinks W by (1 - eta alpha (1 -
l1_ratio)) per update, the L1 part is the cumulative-penalty truncation
(csrc/ops/l1_penalty.h). Stopping follows scikit-learn's Perceptron: the
epoch's objective (mean max(0, -s z) plus the penalty) must improve by `tol`
within `n_iter_no_change` epochs, or, with early_stopping, the validation
accuracy.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import _check_partial_fit_first_call

from .._engine import BestWeights, EpochHooks, Plateau, TrainingData, run_epochs
from .._exclusive import exclusive
from .._sparse import is_sparse
from ..errors import TrainingDivergedError
from ..model import MLP
from ._base import NetworkEstimator, native_threads, takes_comm
from ._params import CLASS_WEIGHT, FASTMLP_PARAMETERS, NON_NEGATIVE, POSITIVE, POSITIVE_INT
from ._targets import ClassifierTargets

# scikit-learn's SGD (sklearn.linear_model._base.SPARSE_INTERCEPT_DECAY): on
# sparse rows each step of the intercept is damped by this factor.
_SPARSE_INTERCEPT_DECAY = 0.01


class Perceptron(ClassifierMixin, ClassifierTargets, NetworkEstimator):
    """The perceptron (binary, or multiclass one-versus-rest), trained by the native core.

    Parameters (scikit-learn's Perceptron where they apply)
    ----------
    penalty : None, 'l2', 'l1' or 'elasticnet'; alpha : its strength, as scikit-learn's
        SGD applies it per update: W shrinks by (1 - eta0 alpha (1 - l1_ratio)), then
        the L1 part truncates each weight towards zero (Tsuruoka et al.'s cumulative
        penalty). The intercept is not penalized.
    l1_ratio : float, default=0.15, the elastic net's L1 share (l1_ratio=0 is 'l2',
        l1_ratio=1 is 'l1'); used with penalty='elasticnet' only.
    n_jobs : int or None, as scikit-learn's one-versus-rest parallelism: fastmlp fits
        every class in one native call, and n_jobs (-1: every CPU) sets its OpenMP
        threads when n_threads is None.
    fit_intercept : bool, default=True. Without it the intercept stays at zero
        (the native update leaves it alone; an epoch costs the same).
    max_iter : int, default=1000; tol : float or None, default=1e-3.
    shuffle : bool, default=True; random_state : default=0.
    eta0 : float, default=1.0, the learning rate.
    early_stopping, validation_fraction, n_iter_no_change, class_weight,
    warm_start, verbose : as in scikit-learn.
    batch_size : int, default=1 (online); k updates with the mean over k samples.
    normalize : None, 'zscore' or 'minmax'; n_threads : OpenMP threads.

    Attributes
    ----------
    coef_ : (1, n_features) or (n_classes, n_features); intercept_ : (1,) or (n_classes,);
    classes_, n_iter_, t_, loss_, loss_curve_, n_features_in_, feature_names_in_, n_params_.
    """

    _initial_zero_weights = True
    _normalize_sample_weight = False
    _network_loss = "perceptron_hinge"  # scikit-learn's rule: z = 0 is wrong for either class
    _supported_target_types = ("binary", "multiclass")
    # Fixed choices the shared machinery reads.
    solver = "sgd"
    momentum = 0.0
    learning_rate = "constant"
    _threads_from_n_jobs = True
    _parameter_constraints: ClassVar[dict] = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [NON_NEGATIVE],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "max_iter": [POSITIVE_INT],
        "tol": [NON_NEGATIVE, None],
        "shuffle": ["boolean"],
        "verbose": ["verbose"],
        "eta0": [POSITIVE],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [POSITIVE_INT],
        "class_weight": CLASS_WEIGHT,
        "warm_start": ["boolean"],
        "batch_size": [POSITIVE_INT],
        **FASTMLP_PARAMETERS,
    }

    def __init__(self, *, penalty=None, alpha=0.0001, l1_ratio=0.15, fit_intercept=True,
                 max_iter=1000, tol=1e-3, shuffle=True, verbose=0, eta0=1.0, n_jobs=None,
                 random_state=0, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=5, class_weight=None, warm_start=False, batch_size=1,
                 normalize=None, n_threads=None) -> None:
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.eta0 = eta0
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.batch_size = batch_size
        self.normalize = normalize
        self.n_threads = n_threads

    def _network_plan(self, n_outputs):
        return [], "identity", "step"

    def _check_target_type(self):
        super()._check_target_type()
        if len(self.classes_) < 2:
            raise ValueError(f"The number of classes has to be greater than one; got "
                             f"{len(self.classes_)} class")

    def _l1_part(self):
        """The L1 share of the penalty: scikit-learn's l1_ratio, 1 for 'l1', 0 for 'l2'."""
        if self.penalty == "l1":
            return 1.0
        if self.penalty == "elasticnet":
            return float(self.l1_ratio)
        return 0.0

    def _penalty(self, n_rows, weight_sum, batch):
        # scikit-learn shrinks W by (1 - eta0 alpha (1 - l1_ratio)) per sample;
        # the core adds l2 W / batch to each batch's gradient.
        if self.penalty is None:
            return 0.0
        return float(self.alpha) * (1.0 - self._l1_part()) * batch

    def _l1_coefficient(self):
        """The native L1 step's coefficient: u grows by eta0 * alpha * l1_ratio per update."""
        return 0.0 if self.penalty is None else float(self.alpha) * self._l1_part()

    def _continue_in_dtype(self, dtype, incremental):
        # scikit-learn's SGD: a warm-start fit goes on in the new rows' dtype; its
        # partial_fit cannot mix them (a TypeError from deep inside), said here.
        if incremental:
            raise TypeError(
                f"partial_fit got {np.dtype(dtype).name} X, but this Perceptron's weights are "
                f"{self._model.dtype.name} (the dtype of its first fit's X): pass X as "
                f"{self._model.dtype.name}, or fit again")
        self._convert_network(dtype)

    def _freeze_bias_now(self):
        return not self.fit_intercept

    def _resolve_batch_size(self, n_rows):
        return min(int(self.batch_size), n_rows)

    def _expose_weights(self):
        super()._expose_weights()
        self.coef_ = np.array(self._model.W[0].T)
        self.intercept_ = np.array(self._model.b[0])

    # ------------------------------------------------------------ training
    @takes_comm
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike, coef_init: ArrayLike | None = None,
            intercept_init: ArrayLike | None = None,
            sample_weight: ArrayLike | None = None, comm: Any = None) -> Perceptron:
        """Fit with the perceptron rule; returns self.

        comm: an mpi4py communicator: each rank passes its own rows
        (data-parallel training, `fastmlp.distributed`).
        """
        # Held before the initial weights are set aside, so a refused second
        # fit cannot replace them under the first.
        with exclusive(self, "fit"):
            self._coef_init = (coef_init, intercept_init)
            try:
                return self._fit(X, y, sample_weight, incremental=False, comm=comm)
            finally:
                del self._coef_init

    @takes_comm
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None,
                    sample_weight: ArrayLike | None = None, comm: Any = None) -> Perceptron:
        """One epoch over (X, y); `classes` is required on the first call. comm: as in fit."""
        with exclusive(self, "partial_fit"):
            if _check_partial_fit_first_call(self, classes):
                self._label_binarizer = LabelBinarizer().fit(classes)
            return self._fit(X, y, sample_weight, incremental=True, comm=comm)

    def _build_network(self, n_features, n_outputs, X):
        super()._build_network(n_features, n_outputs, X)
        coef_init, intercept_init = getattr(self, "_coef_init", (None, None))
        if coef_init is not None:
            coef = np.asarray(coef_init, dtype=np.float64).reshape(n_outputs, n_features)
            self._model.W[0][...] = coef.T
        if intercept_init is not None:
            self._model.b[0][...] = np.asarray(intercept_init, dtype=np.float64).reshape(-1)
        self.t_ = 1.0
        self._expose_weights()

    def _start_training_state(self):
        self.loss_curve_ = []

    def _fit_network(self, X, Y, sample_weight, *, incremental, y_raw, eval_set):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not self.fit_intercept:
            for b in self._model.b:
                b[...] = 0
        self._learning_rate_ = float(self.eta0)
        self._model.reset_optimizer()  # the L1 step's state too, as scikit-learn's per call
        l1 = self._l1_coefficient()
        if l1 > 0 and self._comm is not None:
            raise ValueError(f"penalty={self.penalty!r} with an L1 share is not available in a "
                             "distributed fit (comm=): use penalty='l2' or None")
        train, validation = self._split_validation(X, Y, sample_weight, y_raw, None)
        t_before = self.t_ if incremental else 1.0  # scikit-learn's count starts at 1 per fit
        # scikit-learn's SGD damps the intercept's steps on sparse rows.
        decay = _SPARSE_INTERCEPT_DECAY if is_sparse(X) else 1.0
        with native_threads(self._thread_count()), self._model._l1_penalty(l1), \
                self._model._intercept_decay(decay):
            data = self._training_data(*train)
            if validation is not None:
                X_val, y_val, sw_val = validation
                validation = (self._native_inputs(X_val), y_val, sw_val)
            self.n_iter_ = 0
            if self._one_versus_rest(incremental, validation):
                self._fit_each_class(data)
            else:
                hooks = _PerceptronEpochs(self, data, validation, incremental)
                run_epochs(self._model, data, self._optimizer(), hooks,
                           epochs=1 if incremental else self.max_iter, rng=self._rng,
                           shuffle=self.shuffle)
        if (not incremental and self.tol is not None and self.n_iter_ == self.max_iter):
            warnings.warn("Maximum number of iteration reached before convergence. Consider "
                          "increasing max_iter to improve the fit.", ConvergenceWarning,
                          stacklevel=5)
        # scikit-learn counts every row of X (a held-out share included) per epoch.
        self.t_ = t_before + self.n_iter_ * X.shape[0]
        if not np.all(np.isfinite(self._model.params)):
            raise ValueError(_overflow_message(self.n_iter_))
        self._expose_weights()

    def _one_versus_rest(self, incremental, validation):
        """Whether the classes train one after another, each stopping on its own.

        scikit-learn fits one binary perceptron per class, and with `tol` each
        stops when its own objective stops improving. One network trains every
        class in the same epochs, which is the same computation while no class
        stops: with tol=None, and for partial_fit's single epoch. Early
        stopping's validation score (the multiclass accuracy) and a distributed
        fit keep one network for all classes.
        """
        return (self.n_outputs_ > 1 and self.tol is not None and not incremental
                and validation is None and self._comm is None)

    def _fit_each_class(self, data):
        """One-output networks over the same prepared rows, one per class in
        turn, each from (and back into) its column of the weights; the epoch
        orders come one class after another from the fit's generator.
        n_iter_ is the largest class's count, as scikit-learn's; loss_curve_
        adds up the classes' objectives, a class that has stopped counting
        with its last."""
        model, W, b = self._model, self._model.W[0], self._model.b[0]
        curves = []
        for k in range(self.n_outputs_):
            unit = MLP([W.shape[0], 1], [], "step", loss=self._network_loss, dtype=model.dtype,
                       seed=0)
            unit.W[0][...] = W[:, k:k + 1]
            unit.b[0][...] = b[k:k + 1]
            column = TrainingData(data.X, np.ascontiguousarray(data.Y[:, k:k + 1]), data.w,
                                  data.batch_size, l2=data.l2, freeze_bias=data.freeze_bias)
            hooks = _PerceptronEpochs(self, column, None, False, label=f"class {k}")
            with unit._l1_penalty(model._net.l1), unit._intercept_decay(model._net.intercept_decay):
                run_epochs(unit, column, self._optimizer(), hooks, epochs=self.max_iter,
                           rng=self._rng, shuffle=self.shuffle)
            W[:, k:k + 1] = unit.W[0]
            b[k:k + 1] = unit.b[0]
            curves.append(hooks.curve)
        self.n_iter_ = max(len(c) for c in curves)
        self.loss_curve_.extend(
            float(sum(c[min(e, len(c) - 1)] for c in curves)) for e in range(self.n_iter_))
        self.loss_ = self.loss_curve_[-1]

    def _score_output(self, out, y_val, sample_weight):
        return float(accuracy_score(y_val, self._decode_outputs(out), sample_weight=sample_weight))

    def _decode_outputs(self, z):
        """Labels from the output layer's z, as predict (validation during training)."""
        if self.n_outputs_ == 1:
            return self.classes_[(z.ravel() > 0).astype(int)]
        return self.classes_[np.argmax(z, axis=1)]

    # ------------------------------------------------------------ prediction
    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """x W + b: shape (n,) for two classes, (n, n_classes) otherwise."""
        self._check_fitted()
        X = self._validate_X(X)
        z = self._output_logits(X).astype(self._output_dtype(X), copy=False)
        return z.ravel() if self.n_outputs_ == 1 else z

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """classes_[decision > 0] for two classes, classes_[argmax decision] otherwise."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]



def _overflow_message(epoch):
    """scikit-learn's SGD words for weights that overflowed, then fastmlp's way out."""
    return (f"Floating-point under-/overflow occurred at epoch #{epoch}. Scaling input data "
            "with StandardScaler or MinMaxScaler might help (or normalize='zscore').")


class _PerceptronEpochs(EpochHooks):
    """scikit-learn's Perceptron stopping around each native epoch.

    The epoch's objective (mean max(0, -s z) summed over the outputs, plus the
    penalty before each update) must improve by `tol`
    within `n_iter_no_change` epochs or, with early_stopping, the validation
    accuracy; the best validation epoch's weights are kept.
    """

    def __init__(self, estimator, data, validation, incremental, *, label=None):
        self.est = estimator
        self.data = data
        self.validation = validation
        self.incremental = incremental
        # label: one class of a one-versus-rest fit, whose epochs the estimator
        # adds up afterwards (curve); None: the estimator's own epochs.
        self.label = label
        self.curve = []
        tol = -np.inf if estimator.tol is None else float(estimator.tol)
        mode = "min" if validation is None else "max"
        self.plateau = Plateau(mode, tol, estimator.n_iter_no_change,
                               best=np.inf if validation is None else -np.inf)
        self.best = BestWeights(estimator._model) if validation is not None else None
        if validation is not None:
            estimator.validation_scores_ = []

    def diverged(self, epoch, result):
        raise TrainingDivergedError(_overflow_message(len(self.curve) + 1))

    def end_of_epoch(self, epoch, result, seconds):
        est = self.est
        loss = float(result["loss"])
        self.curve.append(loss)
        if self.label is None:
            est.n_iter_ += 1
            est.loss_ = loss
            est.loss_curve_.append(loss)
        if est._chatty:
            where = "" if self.label is None else f"{self.label}, "
            print(f"-- {where}Epoch {len(self.curve)}, Avg. objective {loss:.6f}")
        if self.validation is not None:
            Xn_val, y_val, sw_val = self.validation
            score = est._validation_score(est._model.logits_prepared(Xn_val), y_val, sw_val)
            est.validation_scores_.append(score)
            if self.plateau.update(score):
                self.best.keep()
        else:
            self.plateau.update(loss)
        if self.plateau.exhausted:
            if est._chatty:
                print(f"Convergence after {len(self.curve)} epochs")
            return True
        return False

    def finished(self):
        if self.best is not None:
            self.best.restore()

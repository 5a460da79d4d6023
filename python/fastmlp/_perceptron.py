"""Perceptron: Rosenblatt's rule on the native core.

h(x) = step(x W + b) and, for every sample (or mini-batch),

    theta := theta + eta (y - h(x)) x

one step output per class (one-versus-rest) for multiclass targets. Stopping
follows scikit-learn's Perceptron: the epoch's loss (here the mean number of
wrong outputs) must improve by `tol` within `n_iter_no_change` epochs, or,
with early_stopping, the validation accuracy.
"""

import warnings

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from ._estimator_base import (
    DTYPE,
    ClassifierTargets,
    NetworkEstimator,
    _check_bool,
    _check_choice,
    _check_int,
    _check_real,
    native_threads,
)
from .errors import TrainingDivergedError


class Perceptron(ClassifierMixin, ClassifierTargets, NetworkEstimator):
    """The perceptron (binary, or multiclass one-versus-rest), trained by the native core.

    Parameters (scikit-learn's Perceptron where they apply)
    ----------
    penalty : None or 'l2'; alpha : its strength (weights shrink by eta0 * alpha per sample).
    fit_intercept : bool, default=True. Without it, training runs batch by
        batch from Python (slower).
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
    _supported_target_types = ("binary", "multiclass")
    # Fixed choices the shared machinery reads.
    solver = "sgd"
    momentum = 0.0
    learning_rate = "constant"

    def __init__(self, *, penalty=None, alpha=0.0001, fit_intercept=True, max_iter=1000,
                 tol=1e-3, shuffle=True, verbose=0, eta0=1.0, random_state=0,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=5,
                 class_weight=None, warm_start=False, batch_size=1, normalize=None,
                 n_threads=None):
        self.penalty = penalty
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.eta0 = eta0
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.batch_size = batch_size
        self.normalize = normalize
        self.n_threads = n_threads

    # ------------------------------------------------------------ parameters
    def _validate_solver_params(self):
        if self.penalty is not None:
            _check_choice(self.penalty, "penalty", ("l2",))
        _check_real(self.alpha, "alpha", 0)
        _check_bool(self.fit_intercept, "fit_intercept")
        _check_int(self.max_iter, "max_iter")
        if self.tol is not None:
            _check_real(self.tol, "tol", 0)
        _check_bool(self.shuffle, "shuffle")
        _check_real(self.eta0, "eta0", 0, low_open=True)
        _check_bool(self.early_stopping, "early_stopping")
        _check_real(self.validation_fraction, "validation_fraction", 0, 1, low_open=True,
                    high_open=True)
        _check_int(self.n_iter_no_change, "n_iter_no_change")
        _check_bool(self.warm_start, "warm_start")
        _check_int(self.batch_size, "batch_size")

    def _network_plan(self, n_outputs):
        return [], "identity", "step"

    def _check_target_type(self):
        super()._check_target_type()
        if len(self.classes_) < 2:
            raise ValueError(f"The number of classes has to be greater than one; got "
                             f"{len(self.classes_)} class")

    def _penalty(self, n_rows, weight_sum, batch):
        # scikit-learn shrinks W by (1 - eta0 alpha) per sample; the core adds
        # l2 W / batch to each batch's gradient.
        return float(self.alpha) * batch if self.penalty == "l2" else 0.0

    def _freeze_bias_now(self):
        return not self.fit_intercept

    def _optimizer_name(self):
        return "sgd"

    def _resolve_batch_size(self, n_rows):
        return min(int(self.batch_size), n_rows)

    def _expose_weights(self):
        super()._expose_weights()
        self.coef_ = np.array(self._model.W[0].T, dtype=np.float64)
        self.intercept_ = np.array(self._model.b[0], dtype=np.float64)

    # ------------------------------------------------------------ training
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit with the perceptron rule; returns self."""
        self._coef_init = (coef_init, intercept_init)
        try:
            return self._fit(X, y, sample_weight, incremental=False)
        finally:
            del self._coef_init

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y); `classes` is required on the first call."""
        from sklearn.preprocessing import LabelBinarizer
        from sklearn.utils.multiclass import _check_partial_fit_first_call

        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer().fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def _build_network(self, n_features, n_outputs, X):
        super()._build_network(n_features, n_outputs, X)
        coef_init, intercept_init = getattr(self, "_coef_init", (None, None))
        if coef_init is not None:
            coef = np.asarray(coef_init, dtype=np.float64).reshape(n_outputs, n_features)
            self._model.W[0][...] = coef.T
        if intercept_init is not None:
            self._model.b[0][...] = np.asarray(intercept_init, dtype=np.float64).reshape(-1)
        self._expose_weights()

    def _start_training_state(self):
        self.loss_curve_ = []

    def _fit_network(self, X, Y, sample_weight, *, incremental, y_raw, eval_set):
        Y = np.ascontiguousarray(Y, dtype=DTYPE)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not self.fit_intercept:
            for b in self._model.b:
                b[...] = 0
        self._learning_rate_ = float(self.eta0)
        self._model._net.reset_optimizer()
        with native_threads(self.n_threads):
            self._run_epochs(X, Y, sample_weight, incremental, y_raw)
        if not np.all(np.isfinite(self._model.params)):
            raise ValueError("The perceptron produced non-finite weights; scale the input "
                             "(normalize='zscore').")
        self._expose_weights()

    def _run_epochs(self, X, Y, sample_weight, incremental, y_raw):
        net = self._model._net
        (X_tr, Y_tr, sw_tr), validation = self._split_validation(X, Y, sample_weight, y_raw, None)
        n = X_tr.shape[0]
        Xn = self._native_inputs(X_tr)
        Y_tr = np.ascontiguousarray(Y_tr, dtype=DTYPE)
        batch = self._resolve_batch_size(n)
        w, l2 = self._weights_and_penalty(sw_tr, n, batch)
        if validation is not None:
            X_val, y_val, sw_val = validation
            Xn_val = self._native_inputs(X_val)
            best_score, best_params = -np.inf, np.array(net.params, copy=True)
            self.validation_scores_ = []
        tol = -np.inf if self.tol is None else float(self.tol)
        best_loss, no_improvement = np.inf, 0
        epochs = 1 if incremental else self.max_iter
        self.n_iter_ = 0
        for _ in range(epochs):
            order = (self._rng.permutation(n) if self.shuffle else np.arange(n)).astype(np.int64)
            result = self._train_one_epoch(Xn, Y_tr, w, order, batch, l2)
            if result["status"] == "non_finite":
                raise TrainingDivergedError("the perceptron's weights became NaN or infinite; "
                                            "scale the input (normalize='zscore')")
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = float(result["loss"])
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"-- Epoch {self.n_iter_}, mean errors {self.loss_:.6f}")
            if validation is not None:
                score = self._score_output(net.predict(Xn_val), y_val, sw_val)
                self.validation_scores_.append(score)
                no_improvement = no_improvement + 1 if score < best_score + tol else 0
                if score > best_score:
                    best_score, best_params = score, np.array(net.params, copy=True)
            else:
                no_improvement = no_improvement + 1 if self.loss_ > best_loss - tol else 0
                best_loss = min(best_loss, self.loss_)
            if no_improvement >= self.n_iter_no_change:
                if self.verbose:
                    print(f"Convergence after {self.n_iter_} epochs")
                break
        else:
            if not incremental and self.tol is not None and self.max_iter > 1:
                warnings.warn("Maximum number of iteration reached before convergence. Consider "
                              "increasing max_iter to improve the fit.", ConvergenceWarning,
                              stacklevel=5)
        if validation is not None:
            net.params[...] = best_params

    def _score_output(self, out, y_val, sample_weight):
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y_val, self._decode_outputs(out), sample_weight=sample_weight))

    def _decode_outputs(self, out):
        """Labels from step outputs (validation during training)."""
        if self.n_outputs_ == 1:
            return self.classes_[(out.ravel() > 0.5).astype(int)]
        return self.classes_[np.argmax(out, axis=1)]

    # ------------------------------------------------------------ prediction
    def decision_function(self, X):
        """x W + b: shape (n,) for two classes, (n, n_classes) otherwise."""
        check_is_fitted(self)
        z = self._output_logits(self._validate_X(X)).astype(np.float64)
        return z.ravel() if self.n_outputs_ == 1 else z

    def predict(self, X):
        """classes_[decision > 0] for two classes, classes_[argmax decision] otherwise."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def __sklearn_tags__(self):
        return self._more_tags_common(super().__sklearn_tags__())

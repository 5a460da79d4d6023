"""MLPClassifier and MLPRegressor: scikit-learn's estimators on the native core.

Same constructor parameters, defaults, fitted attributes and methods as
sklearn.neural_network.MLPClassifier / MLPRegressor, plus: activations
'leaky_relu' and 'softplus', `init`, `normalize`, `n_threads`, `dropout`,
`backup_dir`, `precision`, `class_weight` (classifier), `out_activation`
(regressor) and `fit(..., eval_set=...)`.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if

from .._names import canonical_activation
from .._validation import check_dropout
from ..model import check_precision
from ._base import NetworkEstimator, stochastic_solver, takes_comm
from ._params import (
    BACKUP_DIR,
    CLASS_WEIGHT,
    FASTMLP_PARAMETERS,
    HIDDEN_ACTIVATIONS,
    NON_NEGATIVE,
    POSITIVE_INT,
    PRECISION,
    SOLVER_PARAMETERS,
    UNIT_OPEN_RIGHT,
)
from ._targets import ClassifierTargets, LogProbabilities

# Elementwise output activations a regressor can train with squared error.
REGRESSION_OUTPUTS = ("identity", "logistic", "sigmoid", "tanh", "relu", "leaky_relu", "softplus")

MLP_PARAMETERS = {
    "hidden_layer_sizes": ["array-like", POSITIVE_INT],
    "activation": [StrOptions(set(HIDDEN_ACTIVATIONS))],
    "alpha": [NON_NEGATIVE],
    "init": [StrOptions({"lecun", "he", "glorot"}), None],
    "dropout": [UNIT_OPEN_RIGHT, "array-like"],
    "backup_dir": BACKUP_DIR,
    "precision": PRECISION,
    **SOLVER_PARAMETERS,
    **FASTMLP_PARAMETERS,
}


def _hidden_sizes(hidden_layer_sizes):
    sizes = hidden_layer_sizes
    if not hasattr(sizes, "__iter__"):
        sizes = [sizes]
    sizes = list(sizes)
    for s in sizes:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, Integral) or s <= 0:
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden_layer_sizes}.")
    return [int(s) for s in sizes]


class _BaseMLP(NetworkEstimator):
    """Parameters and behaviour shared by the two MLP estimators."""

    def _check_own_params(self):
        hidden = _hidden_sizes(self.hidden_layer_sizes)
        rates = check_dropout(self.dropout, len(hidden))
        if any(rates) and self.solver == "lbfgs":
            raise ValueError(f"dropout={self.dropout!r} needs a stochastic solver ('sgd' or "
                             "'adam'): lbfgs minimizes one fixed objective")
        if self.precision == "bfloat16":
            if self.solver == "lbfgs":
                raise ValueError("precision='bfloat16' needs a stochastic solver ('sgd' or "
                                 "'adam'): lbfgs's line search needs the gradient of the "
                                 "very loss it evaluates")
            check_precision("bfloat16", np.float32)   # this CPU has the instructions

    def _pinned_dtype(self):
        if self.precision is None:
            return None
        return np.dtype(np.float64 if self.precision == "float64" else np.float32)

    def _training_products(self):
        return "bfloat16" if self.precision == "bfloat16" else "float32"

    def _network_options(self):
        return {"dropout": check_dropout(self.dropout, len(_hidden_sizes(self.hidden_layer_sizes)))}

    def _network_plan(self, n_outputs):
        return (_hidden_sizes(self.hidden_layer_sizes), self.activation,
                self._output_activation_for_targets())

    def _penalty(self, n_rows, weight_sum, batch):
        # scikit-learn: 0.5 alpha ||W||^2 / sum(sample_weight) per batch; the native
        # core divides by the row count, so rescale (exact when weights are all 1).
        return float(self.alpha) * n_rows / weight_sum

    def _check_fitted_predict_input(self, X):
        self._check_fitted()
        return self._validate_X(X)


class MLPClassifier(ClassifierMixin, LogProbabilities, ClassifierTargets, _BaseMLP):
    """Multi-layer perceptron classifier, trained by the fastmlp native core.

    A drop-in replacement for sklearn.neural_network.MLPClassifier: binary
    (one sigmoid output), multiclass (softmax) and multi-label (indicator y,
    one sigmoid per label) targets with any label type.

    Parameters beyond scikit-learn
    ------------------------------
    activation : also 'leaky_relu' and 'softplus'.
    init : None, 'lecun', 'he' or 'glorot'. None: 'he' for ReLU-like activations,
        'lecun' otherwise.
    normalize : None, 'zscore' or 'minmax', fitted on the first fit and kept in the model.
    n_threads : int or None, OpenMP threads used during fit and predict.
    class_weight : dict, 'balanced' or None; multiplies sample weights.
    dropout : float or one float per hidden layer, in [0, 1) (default 0): inverted
        dropout of the hidden units while training with 'sgd' or 'adam' (see
        `fastmlp.MLP`); predictions use every unit.
    backup_dir : folder or None. With 'sgd' or 'adam', `fit` backs up its whole
        state there after every epoch (atomically); a fit killed mid-way and run
        again the same way resumes after the last complete epoch and ends with
        the same weights as an uninterrupted fit. Deleted when the fit ends.
        partial_fit writes no backup (pickle the estimator between calls).
    precision : None (default), 'float32', 'float64' or 'bfloat16'. None is
        scikit-learn's rule: the network takes the dtype of the first fit's X
        (float32 stays float32, anything else is float64). 'float32' and
        'float64' fix the network's dtype whatever X's (the rows are converted);
        'bfloat16' trains a float32 network whose matrix products take
        bfloat16 inputs with float32 sums (`fastmlp.MLP.fit`'s
        precision='bfloat16': AVX512_BF16, 'sgd' or 'adam'; a CPU without the
        instructions gets a ValueError before training starts); its
        predictions are float32 products, as for 'float32'.

    fit(X, y, sample_weight=None, eval_set=None): with eval_set=(X_val, y_val),
    training stops when the validation accuracy stops improving (tol,
    n_iter_no_change) and the best weights are kept; `validation_scores_` and
    `validation_loss_curve_` hold the per-epoch score and loss.
    """

    _parameter_constraints: ClassVar[dict] = {**MLP_PARAMETERS, "class_weight": CLASS_WEIGHT}

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 class_weight=None, init=None, normalize=None, n_threads=None,
                 dropout=0.0, backup_dir=None, precision=None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.class_weight = class_weight
        self.init = init
        self.normalize = normalize
        self.n_threads = n_threads
        self.dropout = dropout
        self.backup_dir = backup_dir
        self.precision = precision

    @takes_comm
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
            eval_set: Any = None, comm: Any = None) -> MLPClassifier:
        """Fit the network to X and the class labels y; returns self.

        comm: an mpi4py communicator: each rank passes its own rows
        (data-parallel training, `fastmlp.distributed`).
        """
        return self._fit(X, y, sample_weight, incremental=False, eval_set=eval_set, comm=comm)

    @available_if(stochastic_solver)
    @takes_comm
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
                    classes: ArrayLike | None = None, comm: Any = None) -> MLPClassifier:
        """One epoch over (X, y); `classes` is required on the first call. comm: as in fit."""
        return self._partial_fit_incremental(X, y, sample_weight, classes, comm=comm)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Class labels (an indicator matrix for multi-label targets)."""
        X = self._check_fitted_predict_input(X)
        return self._decode(self._forward(X))

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Probabilities, columns ordered as classes_."""
        X = self._check_fitted_predict_input(X)
        return self._probabilities(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor, trained by the fastmlp native core.

    A drop-in replacement for sklearn.neural_network.MLPRegressor (squared
    error; multi-output). Beyond scikit-learn: `out_activation` (default
    'identity'; 'relu' for targets that cannot be negative), activations
    'leaky_relu' and 'softplus', `init`, `normalize`, `n_threads`, `dropout`,
    `backup_dir`, `precision` (as in MLPClassifier) and `fit(..., eval_set=...)` (early stopping on the
    validation R^2, best weights kept).
    """

    _is_classifier_estimator = False
    _parameter_constraints: ClassVar[dict] = {
        **MLP_PARAMETERS,
        "loss": [StrOptions({"squared_error", "poisson"})],
        "out_activation": [StrOptions(set(REGRESSION_OUTPUTS))],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 out_activation="identity", init=None, normalize=None, n_threads=None,
                 dropout=0.0, backup_dir=None, precision=None) -> None:
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.out_activation = out_activation
        self.init = init
        self.normalize = normalize
        self.n_threads = n_threads
        self.dropout = dropout
        self.backup_dir = backup_dir
        self.precision = precision

    def _check_own_params(self):
        super()._check_own_params()
        if self.loss == "poisson" and self.out_activation != "identity":
            raise ValueError(
                "loss='poisson' trains an exp output (a log link, as scikit-learn does), so "
                f"out_activation must stay 'identity' (the default); got {self.out_activation!r}")

    def _output_activation_for_targets(self):
        if self.loss == "poisson":
            return "exp"
        return canonical_activation(self.out_activation)

    def _prepare_targets(self, y, *, incremental):
        return self._regression_targets(y, "y")

    def _encode_validation_targets(self, y_val):
        return self._regression_targets(y_val, "the validation targets")

    def _regression_targets(self, y, what):
        y = np.asarray(y, dtype=np.float64)
        if self.loss == "poisson" and y.size and np.min(y) < 0:
            raise ValueError(f"loss='poisson' needs non-negative targets (counts or rates); "
                             f"{what} holds {np.min(y)!r}")
        return y.reshape(y.shape[0], -1)

    def _check_validation_targets(self, y_val):
        from sklearn.utils import check_array

        y_val = check_array(y_val, ensure_2d=False, dtype=np.float64, input_name="y_val")
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = y_val.ravel()
        return y_val

    def _score_output(self, out, y_val, sample_weight):
        if not np.all(np.isfinite(out)):
            return np.nan
        pred = out.astype(np.float64)
        if self.n_outputs_ == 1:
            pred = pred.ravel()
        return float(r2_score(y_val, pred, sample_weight=sample_weight))

    def _report_loss(self, native_loss, n_batches, n_rows):
        # The core's squared error is 0.5 * sum over outputs; scikit-learn reports
        # 0.5 * mean over outputs (its gradients are the same as ours). The L2
        # term is kept as it is; it is estimated from the current weights.
        # The Poisson deviance sums over outputs in both.
        if self.n_outputs_ == 1 or self.loss == "poisson":
            return native_loss
        squares = sum(float(np.dot(W.ravel(), W.ravel())) for W in self._model.W)
        penalty = n_batches * 0.5 * self._current_l2 * squares / n_rows
        return (native_loss - penalty) / self.n_outputs_ + penalty

    def _penalty(self, n_rows, weight_sum, batch):
        self._current_l2 = super()._penalty(n_rows, weight_sum, batch)
        return self._current_l2

    @takes_comm
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
            eval_set: Any = None, comm: Any = None) -> MLPRegressor:
        """Fit the network to X and the target values y; returns self.

        comm: an mpi4py communicator: each rank passes its own rows
        (data-parallel training, `fastmlp.distributed`).
        """
        return self._fit(X, y, sample_weight, incremental=False, eval_set=eval_set, comm=comm)

    @available_if(stochastic_solver)
    @takes_comm
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: ArrayLike, y: ArrayLike,
                    sample_weight: ArrayLike | None = None, comm: Any = None) -> MLPRegressor:
        """One epoch over (X, y). comm: as in fit."""
        return self._fit(X, y, sample_weight, incremental=True, comm=comm)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Predicted values, shape (n,) or (n, n_outputs): float32 when X and the
        weights are float32 (as scikit-learn), float64 otherwise."""
        X = self._check_fitted_predict_input(X)
        out = self._forward(X).astype(self._output_dtype(X), copy=False)
        return out.ravel() if self.n_outputs_ == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

"""LogisticRegression: a network with no hidden layer, trained by the native core.

Binary (one sigmoid, log loss), multinomial (softmax) and multi-label (one
sigmoid per label: an image may hold a cat and a dog). The objective is
scikit-learn's LogisticRegression objective divided by the weight sum:

    mean log loss + ||W||^2 / (2 C n)

(the intercept is not penalized), minimized by L-BFGS-B over the native
full-batch loss and gradient, or by 'sgd' / 'adam' epochs in the native core.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.metaestimators import available_if

from ._base import NetworkEstimator, stochastic_solver, takes_comm
from ._params import BACKUP_DIR, CLASS_WEIGHT, FASTMLP_PARAMETERS, SOLVER_PARAMETERS
from ._targets import ClassifierTargets, LogProbabilities


class LogisticRegression(ClassifierMixin, LogProbabilities, ClassifierTargets, NetworkEstimator):
    """Logistic regression (binary, multinomial, multi-label) on the fastmlp native core.

    Parameters
    ----------
    penalty : deprecated, as in scikit-learn 1.9 (a FutureWarning when set): 'l2' or
        None; 'l1' and 'elasticnet' are refused (fastmlp's solvers have no L1 step yet).
    C : float, default=1.0
        Inverse regularization strength, as in scikit-learn: the L2 term is
        ||W||^2 / (2 C n) beside the mean log loss (np.inf: no penalty).
    l1_ratio : float, default=0.0; only 0 (the L2 penalty) is available.
    dual : bool, default=False; only False, as scikit-learn's solvers other than liblinear.
    intercept_scaling : float, default=1; accepted and unused, as by scikit-learn's
        solvers other than liblinear.
    n_jobs : None; as in scikit-learn 1.9 it has no effect (a FutureWarning when set);
        fastmlp's threads are n_threads.
    fit_intercept : bool, default=True
    tol, max_iter, class_weight, random_state, verbose, warm_start : as in scikit-learn.
    solver : 'lbfgs' (default), 'sgd' or 'adam'.
    batch_size, learning_rate, learning_rate_init, power_t, shuffle, momentum,
    nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2,
    epsilon, n_iter_no_change, max_fun : as in MLPClassifier (stochastic solvers).
    normalize : None, 'zscore' or 'minmax' (kept in the model).
    n_threads : OpenMP threads during fit and predict.
    backup_dir : folder or None; with 'sgd' or 'adam', as in MLPClassifier: a killed
        fit run again resumes after its last complete epoch.

    Attributes
    ----------
    coef_ : (1, n_features) for binary targets, (n_classes or n_labels, n_features) otherwise.
    intercept_ : (1,) or (n_classes or n_labels,).
    classes_, n_iter_, loss_, n_features_in_, feature_names_in_, n_params_;
    loss_curve_ etc. with a stochastic solver.
    """

    _initial_zero_weights = True
    _parameter_constraints: ClassVar[dict] = {
        # scikit-learn 1.9's: penalty is deprecated in favour of l1_ratio and C.
        "penalty": [StrOptions({"l1", "l2", "elasticnet"}), None,
                    Hidden(StrOptions({"deprecated"}))],
        "C": [Interval(Real, 0, None, closed="right")],  # np.inf: no penalty
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "dual": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [None, Integral],
        "fit_intercept": ["boolean"],
        "class_weight": CLASS_WEIGHT,
        **SOLVER_PARAMETERS,
        **FASTMLP_PARAMETERS,
        "backup_dir": BACKUP_DIR,
    }

    def __init__(self, penalty="deprecated", *, C=1.0, l1_ratio=0.0, dual=False, tol=1e-4,
                 fit_intercept=True, intercept_scaling=1, class_weight=None,
                 random_state=None, solver="lbfgs", max_iter=100, verbose=0, warm_start=False,
                 n_jobs=None, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.01, power_t=0.5, shuffle=True, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 normalize=None, n_threads=None, backup_dir=None) -> None:
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.intercept_scaling = intercept_scaling
        self.n_jobs = n_jobs
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.shuffle = shuffle
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.normalize = normalize
        self.n_threads = n_threads
        self.backup_dir = backup_dir

    def _network_plan(self, n_outputs):
        return [], "identity", self._output_activation_for_targets()

    def _check_own_params(self):
        """scikit-learn 1.9's reading of penalty, l1_ratio, C, dual and n_jobs.

        Sets `_C`, the C the fit uses (np.inf without a penalty). The L1 and
        elastic-net penalties are refused: scikit-learn solves them with
        'liblinear' or 'saga', and fastmlp's solvers have no L1 step yet.
        """
        if self.penalty == "deprecated":
            l1_ratio = self.l1_ratio
            if l1_ratio is None:
                warnings.warn("'l1_ratio=None' was deprecated in version 1.8 and will trigger "
                              "an error in 1.10. Use 0<=l1_ratio<=1 instead.", FutureWarning,
                              stacklevel=4)
                l1_ratio = 0.0
            penalty = "l2" if l1_ratio == 0 else "l1" if l1_ratio == 1 else "elasticnet"
            if np.isinf(self.C):
                penalty = None
        else:
            penalty = self.penalty
            warnings.warn(
                "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid "
                "this warning, leave 'penalty' set to its default value and use 'l1_ratio' or "
                "'C' instead. Use l1_ratio=0 instead of penalty='l2', l1_ratio=1 instead of "
                "penalty='l1', l1_ratio set to a float between 0 and 1 instead of "
                "penalty='elasticnet', and C=np.inf instead of penalty=None.",
                FutureWarning, stacklevel=4)
        if penalty not in ("l2", None):
            raise ValueError(
                f"Solver {self.solver} supports only 'l2' or None penalties, got {penalty} "
                "penalty. (fastmlp's solvers 'lbfgs', 'sgd' and 'adam' have no L1 step yet: "
                "use l1_ratio=0.)")
        if self.dual:
            raise ValueError(f"Solver {self.solver} supports only dual=False, got "
                             f"dual={self.dual}")
        if penalty != "elasticnet" and self.l1_ratio is not None and 0 < self.l1_ratio < 1:
            warnings.warn(f"l1_ratio parameter is only used when penalty is 'elasticnet'. Got "
                          f"(penalty={penalty})", stacklevel=4)
        if (self.penalty == "l2" and self.l1_ratio != 0) or (
                self.penalty == "l1" and self.l1_ratio != 1):
            warnings.warn(f"Inconsistent values: penalty={self.penalty} with "
                          f"l1_ratio={self.l1_ratio}. penalty is deprecated. Please use "
                          "l1_ratio only.", stacklevel=4)
        if self.penalty is None:
            if self.C != 1.0:
                warnings.warn("Setting penalty=None will ignore the C and l1_ratio parameters",
                              stacklevel=4)
            self._C = np.inf
        else:
            self._C = float(self.C)
        if self.n_jobs is not None:
            warnings.warn("'n_jobs' has no effect since 1.8 and will be removed in 1.10. You "
                          f"provided 'n_jobs={self.n_jobs}', please leave it unspecified. "
                          "(fastmlp's threads: n_threads.)", FutureWarning, stacklevel=4)

    def _penalty(self, n_rows, weight_sum, batch):
        # Per batch of b rows the core adds 0.5 l2 ||W||^2 / b; the objective asks
        # for 0.5 ||W||^2 / (C * weight_sum) whatever the batch.
        if np.isinf(self._C):
            return 0.0
        return batch / (self._C * weight_sum)

    def _freeze_bias_now(self):
        return not self.fit_intercept

    def _expose_weights(self):
        super()._expose_weights()
        W, b = self._model.W[0], self._model.b[0]
        self.coef_ = np.array(W.T)
        self.intercept_ = np.array(b)

    def _lbfgs_options(self):
        # scikit-learn's LogisticRegression stops L-BFGS-B at a relative objective
        # change of 64 machine epsilons (scipy's default, ~1e7 times larger, ends
        # before gtol=tol is reached) and lets a line search take 50 steps.
        return {"ftol": 64 * np.finfo(float).eps, "maxls": 50}

    def _continue_in_dtype(self, dtype, incremental):
        # scikit-learn's LogisticRegression: a warm-start fit goes on in the new
        # rows' dtype. partial_fit (fastmlp's stochastic solvers) keeps the
        # weights' dtype, as scikit-learn's MLPs do.
        if not incremental:
            self._convert_network(dtype)

    @takes_comm
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
            eval_set: Any = None, comm: Any = None) -> LogisticRegression:
        """Fit the model; returns self. eval_set works with the stochastic solvers.

        comm: an mpi4py communicator: each rank passes its own rows
        (data-parallel training, `fastmlp.distributed`).
        """
        return self._fit(X, y, sample_weight, incremental=False, eval_set=eval_set, comm=comm)

    @available_if(stochastic_solver)
    @takes_comm
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
                    classes: ArrayLike | None = None, comm: Any = None) -> LogisticRegression:
        """One epoch of 'sgd' or 'adam' over (X, y); `classes` is required on the first call.
        comm: as in fit."""
        return self._partial_fit_incremental(X, y, sample_weight, classes, comm=comm)

    def _checked(self, X):
        self._check_fitted()
        return self._validate_X(X)

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """X W + b: shape (n,) for binary targets, (n, n_classes) otherwise."""
        X = self._checked(X)
        z = self._output_logits(X).astype(self._output_dtype(X), copy=False)
        return z.ravel() if self.n_outputs_ == 1 else z

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Class labels (an indicator matrix for multi-label targets)."""
        return self._decode(self._forward(self._checked(X)))

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Probabilities, columns ordered as classes_ (per label for multi-label)."""
        return self._probabilities(self._checked(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

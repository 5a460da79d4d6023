"""What the scikit-learn compatible estimators share.

An estimator keeps one `fastmlp.model.MLP` in `_model`, the only owner of the
native network; `coefs_` / `intercepts_` are views into its weights. Fitting
goes through the model's prepared-input methods: the stochastic solvers
through the training engine (`fastmlp._engine.run_epochs`, one native call
per epoch) with scikit-learn's bookkeeping as the engine's hooks, 'lbfgs'
through scipy's L-BFGS-B over the native full-batch loss and gradient.

Semantics follow scikit-learn's MLP (sklearn/neural_network/_multilayer_perceptron.py):
`tol` and `n_iter_no_change` on the training loss (or the validation score),
'invscaling' updated once per epoch from `t_`, 'adaptive' dividing the rate
by 5, `batch_size='auto'` = min(200, n), `t_` counting samples seen.
"""

from __future__ import annotations

import functools
import operator
import warnings
from typing import Any, Callable

import numpy as np
import scipy.optimize
import scipy.sparse
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from .._engine import (
    AgreedInterrupt,
    BestWeights,
    EpochHooks,
    Optimizer,
    Plateau,
    TrainingData,
    run_epochs,
)
from .._exclusive import exclusive
from .._names import canonical_activation
from .._threads import native_threads
from .._validation import plain_rows
from ..distributed import agreed, communicator, fitting
from ..errors import TrainingDivergedError
from ..model import MLP
from ._backup import EstimatorBackup
from ._params import STOCHASTIC_SOLVERS

# scikit-learn's spelling of our activation names (fitted attributes use it).
SKLEARN_ACTIVATION_NAMES = {"sigmoid": "logistic"}
# scikit-learn's adaptive schedule stops once the rate falls to this.
MIN_ADAPTIVE_LEARNING_RATE = 1e-6
# scikit-learn's words when a fit ends with non-finite weights; fastmlp's
# advice follows them.
NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may contain "
                      "large values and need to be preprocessed.")


def sklearn_activation_name(name):
    return SKLEARN_ACTIVATION_NAMES.get(name, name)


def takes_comm(method):
    """fit / partial_fit with `comm=`: before scikit-learn's own checks run on
    each rank, the communicator is set up and the parameters are checked on
    every rank together, so a bad parameter on one rank fails every rank
    instead of leaving the others waiting for it."""
    @functools.wraps(method)
    def with_comm(self, *args, comm=None, **kwargs):
        if comm is None:
            return method(self, *args, **kwargs)
        comm = communicator(comm)
        with comm.guard():
            try:
                agreed(comm, self._validate_params)
            except BaseException:
                comm.close()
                raise
            return method(self, *args, comm=comm, **kwargs)
    return with_comm


def stochastic_solver(estimator):
    """True for 'sgd' and 'adam'; scikit-learn's AttributeError for partial_fit otherwise
    (the `available_if` test of partial_fit, and the check inside it)."""
    if estimator.solver not in STOCHASTIC_SOLVERS:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                             f"{estimator.solver} is not stochastic.")
    return True


class NetworkEstimator(BaseEstimator):
    """Shared machinery; subclasses describe the network and the targets.

    Subclass hooks
    --------------
    _network_plan(n_outputs) -> (hidden sizes, hidden activation, output activation)
    _prepare_targets(y, incremental) -> (n, n_outputs) encoded targets (sets classes_ etc.)
    _penalty(n_rows, weight_sum, batch) -> the native l2 coefficient
    _score_output(out, y_raw, sample_weight) -> accuracy or R^2 of network outputs
    _initial_zero_weights -> bool (linear models start from zero)
    _freeze_bias_now() -> bool (models fitted without an intercept)
    """

    _initial_zero_weights = False
    # The native loss when not the output activation's default.
    _network_loss = None
    _normalize_sample_weight = True
    _is_classifier_estimator = False

    # The communicator of the distributed fit running now (fastmlp.distributed),
    # None otherwise; set for the length of a fit only.
    _comm = None

    # ------------------------------------------------------------ the fit flow
    def _fit(self, X, y, sample_weight=None, *, incremental=False, eval_set=None, comm=None):
        comm = communicator(comm)
        with exclusive(self, "partial_fit" if incremental else "fit"):
            self._comm = comm
            try:
                with fitting(comm, self._thread_count()):
                    return self._fit_held(X, y, sample_weight, incremental=incremental,
                                          eval_set=eval_set)
            finally:
                del self._comm

    @property
    def _chatty(self):
        """verbose, and this process prints (rank 0 of a distributed fit)."""
        return bool(self.verbose) and (self._comm is None or self._comm.is_root)

    def _fit_held(self, X, y, sample_weight, *, incremental, eval_set):
        first = "_model" not in self.__dict__ or (not self.warm_start and not incremental)
        # Every rank checks its own rows; in a distributed fit all learn of any failure.
        X, y, sample_weight, prepared_eval = agreed(
            self._comm, self._checked_inputs, X, y, sample_weight, eval_set, first, incremental)
        Y = self._prepare_targets(y, incremental=incremental)
        if self._is_classifier_estimator:
            sample_weight = self._class_sample_weight(sample_weight, y)
        self._has_eval_set = prepared_eval is not None
        if first:
            given = self._weights_given_before_first_fit(incremental)
            for stale in ("loss_curve_", "best_loss_", "validation_scores_",
                          "validation_loss_curve_", "best_validation_score_", "loss_"):
                self.__dict__.pop(stale, None)
            self._build_network(X.shape[1], Y.shape[1], X)
            if given is not None:
                self._start_from_given_weights(*given)
        else:
            if Y.shape[1] != self.n_outputs_:
                raise ValueError(f"y has {Y.shape[1]} outputs but the fitted network has "
                                 f"{self.n_outputs_}; fit again with warm_start=False")
            self._push_weights()
            pinned = self._pinned_dtype()
            if pinned is not None and pinned != self._model.dtype:
                self._convert_network(pinned)   # `precision` changed since the last fit
            elif pinned is None and X.dtype != self._model.dtype:
                self._continue_in_dtype(X.dtype, incremental)
        if self._comm is not None:
            self._comm.broadcast(self._model.params)  # rank 0's weights on every rank
            self._expose_weights()
        if self.solver in STOCHASTIC_SOLVERS and "loss_curve_" not in self.__dict__:
            self._start_training_state()
        self._fit_network(X, Y, sample_weight, incremental=incremental, y_raw=y,
                          eval_set=prepared_eval)
        self._model._fit_rank = 0 if self._comm is None else self._comm.rank
        return self

    def _checked_inputs(self, X, y, sample_weight, eval_set, first, incremental):
        """This rank's checks: (X, y, sample_weight, eval_set) validated."""
        self._check_own_params()
        self._check_backup_dir()
        if incremental:
            stochastic_solver(self)
        X, y = self._validate_X_y(X, y, reset=first, y_numeric=not self._is_classifier_estimator)
        if y.ndim == 2 and y.shape[1] == 1 and not self._keeps_2d_column(y):
            from sklearn.utils.validation import column_or_1d

            y = column_or_1d(y, warn=True)
        sample_weight = self._sample_weight(sample_weight, X)
        prepared_eval = self._prepare_eval_set(eval_set)
        if prepared_eval is not None and self.solver not in STOCHASTIC_SOLVERS:
            raise ValueError("eval_set needs a stochastic solver ('sgd' or 'adam'), got "
                             f"solver={self.solver!r}")
        if prepared_eval is not None and incremental:
            raise ValueError("partial_fit does not take eval_set")
        return X, y, sample_weight, prepared_eval

    def _check_backup_dir(self):
        if getattr(self, "backup_dir", None) is None:
            return
        if self.solver not in STOCHASTIC_SOLVERS:
            raise ValueError(f"backup_dir needs a stochastic solver ('sgd' or 'adam'): the epochs "
                             f"of solver={self.solver!r} cannot be backed up and resumed")
        if self._comm is not None:
            raise ValueError("backup_dir is not available with comm=: each rank would write its "
                             "own backup; pickle the estimator on rank 0 after the fit instead")

    def _weights_given_before_first_fit(self, incremental):
        """coefs_ / intercepts_ set by hand on an estimator that was never fitted.

        scikit-learn's MLPs train on from such weights in `partial_fit` and in
        `fit` with warm_start=True (they skip their initialization when the
        estimator has coefs_); a plain `fit` starts afresh.
        """
        if "_model" in self.__dict__ or not (incremental or self.warm_start):
            return None
        coefs = self.__dict__.get("coefs_")
        intercepts = self.__dict__.get("intercepts_")
        if coefs is None and intercepts is None:
            return None
        if coefs is None or intercepts is None:
            raise ValueError("set both coefs_ and intercepts_ to start training from given "
                             "weights, or neither")
        return list(coefs), list(intercepts)

    def _start_from_given_weights(self, coefs, intercepts):
        """Put hand-set coefs_ / intercepts_ into the freshly built network."""
        W, b = self._model.W, self._model.b
        if len(coefs) != len(W) or len(intercepts) != len(b):
            raise ValueError(f"coefs_ and intercepts_ must be lists of {len(W)} arrays for this "
                             f"network, got {len(coefs)} and {len(intercepts)}")
        for name, given, views in (("coefs_", coefs, W), ("intercepts_", intercepts, b)):
            for l, (array, view) in enumerate(zip(given, views)):
                array = np.asarray(array, dtype=np.float64)
                if array.size != view.size or (array.ndim and array.shape != view.shape):
                    raise ValueError(f"{name}[{l}] must have shape {view.shape} for this "
                                     f"network, got {array.shape}")
                view[...] = array.reshape(view.shape)
        self._expose_weights()

    def _continue_in_dtype(self, dtype, incremental):
        """A warm-start fit or partial_fit on rows of another dtype than the weights'.

        scikit-learn's MLPs keep the weights' dtype (the rows are converted);
        the linear models override this with their scikit-learn twins' rule.
        """

    def _pinned_dtype(self):
        """The network's dtype when a parameter fixes it (the MLPs' `precision`),
        else None: scikit-learn's rule, the dtype of the first fit's X."""
        return None

    def _training_products(self):
        """'bfloat16' when training's matrix products take bfloat16 inputs
        (the MLPs' precision='bfloat16'), else 'float32' (the network's own dtype)."""
        return "float32"

    def _convert_network(self, dtype):
        """Go on training in `dtype`: the weights and optimizer state cast to it."""
        self._model = self._model._as_dtype(dtype)
        self._expose_weights()

    def _output_dtype(self, X):
        """scikit-learn's dtype for outputs computed from X and the weights:
        float32 when both are, float64 otherwise."""
        if X.dtype == np.float32 and self._model.dtype == np.float32:
            return np.float32
        return np.float64

    def _thread_count(self):
        """OpenMP threads for this estimator's native calls (None: the global setting).

        n_threads decides; an estimator whose scikit-learn twin parallelizes with
        n_jobs (the Perceptron's one-versus-rest fits) reads n_jobs, joblib's way
        (-1: every CPU), when n_threads is None.
        """
        if self.n_threads is not None:
            return self.n_threads
        if getattr(self, "_threads_from_n_jobs", False) and self.n_jobs is not None:
            return effective_n_jobs(self.n_jobs)
        return None

    def _network_options(self):
        """More of the inner MLP's settings (the MLP estimators' dropout)."""
        return {}

    def _check_fitted(self):
        """check_is_fitted, without its scan of every attribute once the network exists
        (a tenth of a one-row prediction)."""
        if "_model" not in self.__dict__:
            check_is_fitted(self)

    def _keeps_2d_column(self, y):
        return False

    def _check_own_params(self):
        """Checks the declared constraints cannot express (after _fit_context's)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------ data
    def _validate_X_y(self, X, y, *, reset, y_numeric=False):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc", "coo"], multi_output=True,
                             dtype=(np.float64, np.float32), y_numeric=y_numeric, reset=reset)
        return self._rows(X), y

    def _validate_X(self, X):
        # The fast path: an ndarray that validate_data would return unchanged
        # (the estimator was fitted without feature names, so there are none
        # to compare). Everything else takes scikit-learn's checks and errors.
        if "feature_names_in_" not in self.__dict__:
            plain = plain_rows(X, self.__dict__.get("n_features_in_", -1))
            if plain is not None:
                return plain
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"],
                          dtype=(np.float64, np.float32), reset=False)
        return self._rows(X)

    @staticmethod
    def _rows(X):
        """Validated X as the model takes it: dense rows as they are, sparse
        ones as CSR (they stay sparse all the way to the native core)."""
        return X.tocsr() if scipy.sparse.issparse(X) else X

    def _sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=np.float64)

    def _native_inputs(self, X):
        """Normalized C-contiguous features of the network's dtype."""
        return self._model.prepare_features(X)

    # ------------------------------------------------------------ the network
    def _random_seed(self):
        """An int seed for this fit, from random_state as scikit-learn reads it."""
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _build_network(self, n_features, n_outputs, X):
        hidden, hidden_activation, output = self._network_plan(n_outputs)
        hidden_activation = canonical_activation(hidden_activation)
        seed = self._random_seed()
        init_seq, run_seq = np.random.SeedSequence(seed).spawn(2)
        # scikit-learn's rule: the weights take the dtype of the rows validated
        # for the first fit (float32 stays float32, anything else is float64),
        # unless a parameter fixes it.
        pinned = self._pinned_dtype()
        self._model = MLP([n_features, *hidden, n_outputs], hidden_activation, output,
                          loss=self._network_loss, init=getattr(self, "init", None),
                          normalize=self.normalize, seed=init_seq,
                          dtype=X.dtype if pinned is None else pinned,
                          **self._network_options())
        if self._initial_zero_weights:
            self._model.params[...] = 0
        self._model.normalizer.fit(X, comm=self._comm)
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
        # Every predict asks, so the common answer (the same arrays) is quick:
        # map(operator.is_) runs in C where generator expressions cost ~1 us.
        if (type(coefs) is list and type(intercepts) is list
                and len(coefs) == len(self._coef_views)
                and len(intercepts) == len(self._intercept_views)
                and all(map(operator.is_, coefs, self._coef_views))
                and all(map(operator.is_, intercepts, self._intercept_views))):
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
        """The network's output on validated X (the network's dtype, shape (n, n_outputs))."""
        self._push_weights()
        threads = self._thread_count()
        if threads is None:   # no context to enter: a few microseconds on one row
            out = self._model.output_plain(X)   # plain rows: one native call
            if out is not None:
                return out
            return self._model.output_prepared(self._native_inputs(X))
        with native_threads(threads):
            return self._model.output_prepared(self._native_inputs(X))

    def _output_logits(self, X):
        """z of the output layer (decision_function of the linear models)."""
        self._push_weights()
        Xn = self._native_inputs(X)
        with native_threads(self._thread_count()):
            return self._model.logits_prepared(Xn)

    def summary(self, print_fn: Callable[[str], Any] | None = print) -> str:
        """Each layer's shapes and parameter count, and the total."""
        self._check_fitted()
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
        """Native row weights (rescaled to sum to n_rows) and the l2 coefficient.

        In a distributed fit, n_rows and the weights' sum are those of every
        rank, and `batch` is a step's rows over all ranks.
        """
        total = float(n_rows) if sample_weight is None else float(np.sum(sample_weight))
        if self._comm is not None:
            local_rows = n_rows
            n_rows, total = (float(v) for v in self._comm.sum([n_rows, total]))
            if sample_weight is None and total != n_rows:
                sample_weight = np.ones(local_rows, dtype=np.float64)  # other ranks weigh rows
        if sample_weight is None:
            return None, self._penalty(n_rows, float(n_rows), batch)
        if not total > 0:
            raise ValueError("sample_weight must have a positive sum, got all zero weights")
        w = sample_weight * (n_rows / total) if self._normalize_sample_weight else sample_weight
        return np.ascontiguousarray(w, dtype=self._model.dtype), self._penalty(n_rows, total, batch)

    def _resolve_batch_size(self, n_rows):
        if isinstance(self.batch_size, str):
            return min(200, n_rows)
        if self.batch_size > n_rows:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                          "to be clipped", stacklevel=2)
        return int(np.clip(self.batch_size, 1, n_rows))

    def _optimizer(self):
        """The native optimizer for this estimator's solver and parameters."""
        if self.solver == "adam":
            name = "adam"
        elif self.momentum > 0:
            name = "nesterov" if self.nesterovs_momentum else "momentum"
        else:
            name = "sgd"
        momentum = self.momentum if self.solver == "sgd" else 0.9
        return Optimizer(name, float(self._learning_rate_), momentum,
                         getattr(self, "beta_1", 0.9), getattr(self, "beta_2", 0.999),
                         getattr(self, "epsilon", 1e-8))

    def _freeze_bias_now(self):
        return False

    def _training_data(self, X, Y, sample_weight):
        """TrainingData for the engine from validated rows and encoded targets.

        In a distributed fit the batch size is per rank and the same on every
        rank (clipped to the largest rank's rows).
        """
        n = X.shape[0]
        comm = self._comm
        batch = self._resolve_batch_size(n if comm is None else max(comm.allgather(n)))
        data = TrainingData(self._native_inputs(X),
                            np.ascontiguousarray(Y, dtype=self._model.dtype), None,
                            batch, freeze_bias=self._freeze_bias_now(),
                            # scikit-learn keeps no copy to roll back to, and
                            # it would cost three more buffers of the weights
                            keep_start=False).distribute(comm)
        data.w, data.l2 = self._weights_and_penalty(
            sample_weight, n, batch if comm is None else int(data.step_rows[0]))
        return data

    def _fit_network(self, X, Y, sample_weight, *, incremental, y_raw, eval_set):
        """Train the network on validated X and encoded targets Y."""
        Y = np.ascontiguousarray(Y, dtype=self._model.dtype)
        if self._freeze_bias_now():
            for b in self._model.b:
                b[...] = 0
        with native_threads(self._thread_count()), \
                self._model._products_in(self._training_products()):
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, Y, sample_weight)
            else:
                self._fit_stochastic(X, Y, sample_weight, incremental=incremental, y_raw=y_raw,
                                     eval_set=eval_set)
        if not np.all(np.isfinite(self._model.params)):
            raise ValueError(f"{NON_FINITE_WEIGHTS} Scale the input (normalize='zscore').")
        self._expose_weights()

    def _fit_lbfgs(self, X, Y, sample_weight):
        comm = self._comm
        n = X.shape[0] if comm is None else int(comm.sum(X.shape[0])[0])
        Xn = self._native_inputs(X)
        w, l2 = self._weights_and_penalty(sample_weight, X.shape[0], n)
        model = self._model
        params = model.params
        mask = model.bias_mask() if self._freeze_bias_now() else None

        def loss_and_gradient(theta):
            params[...] = theta
            if comm is None:
                loss, grads = model.gradients_prepared(Xn, Y, w, l2)
                grad = np.array(grads, dtype=np.float64)
            else:
                # Each rank's sum over its rows / all rows (the penalty on rank
                # 0), added over ranks: the one-process loss and gradient.
                loss, grads = model.gradients_prepared(Xn, Y, w, l2 if comm.is_root else 0.0,
                                                       divisor=n)
                # After them: the loss and this rank's Ctrl-C, so all stop together.
                both = np.concatenate([np.asarray(grads, dtype=np.float64),
                                       [loss, float(comm.interrupt_requested)]])
                comm.sum_in_place(both)
                if both[-1] > 0:
                    comm.take_interrupt()
                    raise AgreedInterrupt("a rank was interrupted (Ctrl-C) during lbfgs; every "
                                          "rank stopped at the same iteration")
                loss, grad = float(both[-2]), both[:-2]
            if mask is not None:
                grad *= mask
            return loss, grad

        # L-BFGS-B's own vector work is small; threaded BLAS only adds
        # synchronisation (20x slower on a busy 2-core machine).
        with threadpool_limits(1, user_api="blas"):
            result = scipy.optimize.minimize(
                loss_and_gradient, np.array(params, dtype=np.float64), method="L-BFGS-B",
                jac=True,
                options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol,
                         **self._lbfgs_options()},
            )
        if result.status != 0:
            message = result.message
            if isinstance(message, bytes):
                message = message.decode("latin1")
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iteration(s) (status="
                f"{result.status}):\n{message}.\n\nIncrease the number of iterations to "
                "improve the convergence (max_iter), or scale the data (normalize='zscore').",
                ConvergenceWarning, stacklevel=5,
            )
        self.n_iter_ = min(int(result.nit), self.max_iter)
        params[...] = result.x
        if not np.isfinite(result.fun):
            raise TrainingDivergedError(f"{NON_FINITE_WEIGHTS} The lbfgs loss became NaN or "
                                        "infinite; scale the input (normalize='zscore').")
        self.loss_ = float(self._report_loss(result.fun, 1, n))
        if self._chatty:
            print(f"lbfgs: {self.n_iter_} iterations, loss = {self.loss_:.8f}")

    def _lbfgs_options(self):
        """More of L-BFGS-B's options (scikit-learn's MLPs keep scipy's defaults)."""
        return {}

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
        # scikit-learn stratifies a classifier's split when the network has one
        # output (two classes), on the encoded targets as booleans, so its
        # errors name the classes 'False' and 'True'.
        stratify = (Y.astype(bool) if self._is_classifier_estimator and self.n_outputs_ == 1
                    else None)
        index = np.arange(X.shape[0])
        seed = int(self._rng.integers(np.iinfo(np.int32).max))
        try:
            train_idx, val_idx = train_test_split(index, random_state=seed,
                                                  test_size=self.validation_fraction,
                                                  stratify=stratify)
        except ValueError as error:
            if stratify is None:
                raise
            raise ValueError(
                f"{error} (early_stopping holds out validation_fraction={self.validation_fraction} "
                "of the rows stratified by class; 'False' is the class "
                f"{self.classes_.tolist()[0]!r} and 'True' is {self.classes_.tolist()[-1]!r}: "
                "give each class more rows, or pass a validation set as "
                "fit(..., eval_set=(X_val, y_val)))"
            ) from error
        if val_idx.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        sw_train = None if sample_weight is None else sample_weight[train_idx]
        sw_val = None if sample_weight is None else sample_weight[val_idx]
        return (X[train_idx], Y[train_idx], sw_train), (X[val_idx], y_raw[val_idx], sw_val)

    def _validation_data(self, validation):
        """(prepared X_val, y_val, encoded Y_val, native w_val, sample_weight_val)."""
        X_val, y_val, sw_val = validation
        dtype = self._model.dtype
        Y_val = np.ascontiguousarray(self._encode_validation_targets(y_val), dtype=dtype)
        w_val = None if sw_val is None else np.ascontiguousarray(sw_val, dtype=dtype)
        return self._native_inputs(X_val), y_val, Y_val, w_val, sw_val

    def _fit_stochastic(self, X, Y, sample_weight, *, incremental, y_raw, eval_set):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or not self._optimizer_ready:
            self._model.reset_optimizer()
            self._learning_rate_ = float(self.learning_rate_init)
            self._optimizer_ready = True
        train, validation = self._split_validation(X, Y, sample_weight, y_raw, eval_set)
        data = self._training_data(*train)
        if validation is not None:
            validation = self._validation_data(validation)
            if self.best_validation_score_ is None:
                self.best_validation_score_ = -np.inf
        self.n_iter_ = 0
        hooks = _ScikitLearnEpochs(self, data, validation, incremental)
        done = hooks.resume()
        # the optimizer after resume: it carries the learning rate in effect
        run_epochs(self._model, data, self._optimizer(), hooks,
                   epochs=1 if incremental else max(0, self.max_iter - done), rng=self._rng,
                   shuffle=self.shuffle, first_epoch=done + 1)

    def _should_stop(self):
        """scikit-learn's trigger_stopping: adaptive SGD first divides the rate by 5."""
        what = ("Validation score" if self._uses_validation_now else "Training loss")
        message = (f"{what} did not improve more than tol={self.tol:f} for "
                   f"{self.n_iter_no_change} consecutive epochs.")
        if self.solver == "sgd" and self.learning_rate == "adaptive":
            if self._learning_rate_ <= MIN_ADAPTIVE_LEARNING_RATE:
                if self._chatty:
                    print(message + " Learning rate too small. Stopping.")
                return True
            self._learning_rate_ /= 5.0
            if self._chatty:
                print(message + f" Setting learning rate to {self._learning_rate_:f}")
            return False
        if self._chatty:
            print(message + " Stopping.")
        return True

    def _plateau(self, mode, best):
        # scikit-learn stops when the count exceeds n_iter_no_change.
        return Plateau(mode, self.tol, self.n_iter_no_change + 1, best=best,
                       count=self._no_improvement_count)

    def _record_training_loss(self):
        self._uses_validation_now = False
        if self.best_loss_ is None:
            self.best_loss_ = np.inf
        plateau = self._plateau("min", self.best_loss_)
        plateau.update(self.loss_curve_[-1])
        self.best_loss_, self._no_improvement_count = plateau.best, plateau.count

    def _record_validation(self, Xn_val, y_val, Y_val, w_val, sw_val):
        """Score the validation data; True when it is the best so far."""
        self._uses_validation_now = True
        out = self._model.output_prepared(Xn_val)
        score = self._validation_score(out, y_val, sw_val)
        val_loss = self._model.loss_prepared(Xn_val, Y_val, w_val, 0.0, comm=self._comm)
        if self.validation_scores_ is None:
            self.validation_scores_ = []
        if getattr(self, "validation_loss_curve_", None) is None:
            self.validation_loss_curve_ = []
        self.validation_scores_.append(score)
        self.validation_loss_curve_.append(val_loss)
        if self._chatty:
            print(f"Validation score: {score:f}, validation loss: {val_loss:.8f}")
        plateau = self._plateau("max", self.best_validation_score_)
        best = plateau.update(score)
        self.best_validation_score_, self._no_improvement_count = plateau.best, plateau.count
        return best

    def _validation_score(self, out, y_val, sw_val):
        """The score of the validation rows (of every rank's, in a distributed fit)."""
        comm = self._comm
        if comm is None:
            return self._score_output(out, y_val, sw_val)
        # What one process would score on all ranks' rows.
        parts = comm.allgather((out, np.asarray(y_val), sw_val))
        weights = None
        if any(sw is not None for _, _, sw in parts):
            weights = np.concatenate([np.ones(len(y)) if sw is None else sw for _, y, sw in parts])
        return self._score_output(np.concatenate([o for o, _, _ in parts]),
                                  np.concatenate([y for _, y, _ in parts]), weights)

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


class _ScikitLearnEpochs(EpochHooks):
    """scikit-learn's MLP bookkeeping around each native epoch.

    Per epoch: n_iter_, loss_, t_, loss_curve_; the validation score (best
    weights kept) or the training-loss plateau; 'invscaling' and 'adaptive'
    rates; the stop after n_iter_no_change epochs without improvement; the
    ConvergenceWarning at max_iter; Ctrl-C ends the fit with a warning.
    """

    def __init__(self, estimator, data, validation, incremental):
        self.est = estimator
        self.data = data
        self.validation = validation
        self.incremental = incremental
        self.best = BestWeights(estimator._model) if validation is not None else None
        folder = getattr(estimator, "backup_dir", None)
        self.backup = (EstimatorBackup(estimator, data, self.best)
                       if folder is not None and not incremental else None)

    def resume(self):
        """Continue a backed-up fit: the epochs it had completed (0 without a backup)."""
        return 0 if self.backup is None else self.backup.resume()

    def learning_rate(self, epoch, optimizer):
        return self.est._learning_rate_

    def diverged(self, epoch, result):
        """A non-finite loss. Without validation data: scikit-learn's error.

        With validation data, scikit-learn keeps training on NaN weights (every
        validation score is then NaN and never the best) and restores the best
        epoch's weights at the end, without an error. The NaN epochs cannot
        change that outcome, so the fit records one (its NaN loss and score),
        warns and stops there; `finished` restores the best weights.
        """
        est = self.est
        advice = ("scale the input (normalize='zscore') or lower learning_rate_init "
                  f"({est.learning_rate_init})")
        if self.validation is None:
            raise TrainingDivergedError(
                f"{NON_FINITE_WEIGHTS} The training loss became NaN or infinite at epoch "
                f"{est.n_iter_ + 1}; {advice}. The model keeps the weights of the last step whose "
                "loss was finite.")
        est.n_iter_ += 1
        est.t_ += self.data.total_rows
        loss = float(result.get("loss", np.nan))
        est.loss_ = np.nan if np.isfinite(loss) else loss  # the epoch's NaN or inf
        est.loss_curve_.append(est.loss_)
        if est.validation_scores_ is None:
            est.validation_scores_ = []
        if getattr(est, "validation_loss_curve_", None) is None:
            est.validation_loss_curve_ = []
        est.validation_scores_.append(float(np.nan))
        est.validation_loss_curve_.append(float(np.nan))
        if est._chatty:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
            print("Validation score: nan")
        warnings.warn(
            f"The training loss became NaN or infinite at epoch {est.n_iter_}: training stopped "
            "and the weights of the best validation epoch are kept; " + advice + ".",
            ConvergenceWarning, stacklevel=7)

    def end_of_epoch(self, epoch, result, seconds):
        stop = self._bookkeeping(result)
        if self.backup is not None:
            self.backup.save()   # after every decision of this epoch
        return stop

    def _bookkeeping(self, result):
        """scikit-learn's per-epoch records and stopping rules; True stops."""
        est, data = self.est, self.data
        est.n_iter_ += 1
        est.loss_ = float(est._report_loss(result["loss"], data.n_batches, data.total_rows))
        est.t_ += data.total_rows
        est.loss_curve_.append(est.loss_)
        if est._chatty:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        if self.validation is not None:
            if est._record_validation(*self.validation):
                self.best.keep()
        else:
            est._record_training_loss()
        if est.solver == "sgd" and est.learning_rate == "invscaling":
            est._learning_rate_ = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if est._no_improvement_count > est.n_iter_no_change:
            if est._should_stop():
                return True
            est._no_improvement_count = 0
        if self.incremental:
            return True
        if est.n_iter_ == est.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached and "
                "the optimization hasn't converged yet.", ConvergenceWarning, stacklevel=8)
        return False

    def interrupted(self):
        warnings.warn("Training interrupted by user.", stacklevel=5)
        return True

    def finished(self):
        if self.best is not None:
            self.best.restore()
        if self.backup is not None:
            self.backup.delete()

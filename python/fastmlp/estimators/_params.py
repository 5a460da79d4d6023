"""Parameter constraints, declared the way scikit-learn declares its own.

Each estimator's `_parameter_constraints` is built from these pieces and
checked by scikit-learn's `_fit_context` before every fit and partial_fit,
so a bad parameter gets scikit-learn's own message, naming the parameter,
what it accepts and what came.
"""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions

# scikit-learn's spelling of the hidden activations, plus fastmlp's two more.
HIDDEN_ACTIVATIONS = ("identity", "logistic", "sigmoid", "tanh", "relu", "leaky_relu",
                      "softplus")
STOCHASTIC_SOLVERS = ("sgd", "adam")
LEARNING_RATES = ("constant", "invscaling", "adaptive")

POSITIVE_INT = Interval(Integral, 1, None, closed="left")
NON_NEGATIVE = Interval(Real, 0, None, closed="left")
POSITIVE = Interval(Real, 0, None, closed="neither")
UNIT_OPEN_RIGHT = Interval(Real, 0, 1, closed="left")

# What every fastmlp estimator takes beyond scikit-learn's parameters.
FASTMLP_PARAMETERS = {
    "normalize": [StrOptions({"zscore", "minmax"}), None],
    "n_threads": [POSITIVE_INT, None],
}

# The optimisation parameters of scikit-learn's MLP, shared by the two MLP
# estimators and fastmlp's LogisticRegression.
SOLVER_PARAMETERS = {
    "solver": [StrOptions({"lbfgs", *STOCHASTIC_SOLVERS})],
    "batch_size": [StrOptions({"auto"}), POSITIVE_INT],
    "learning_rate": [StrOptions(set(LEARNING_RATES))],
    "learning_rate_init": [POSITIVE],
    "power_t": [NON_NEGATIVE],
    "max_iter": [POSITIVE_INT],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [NON_NEGATIVE],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [UNIT_OPEN_RIGHT],
    "beta_1": [UNIT_OPEN_RIGHT],
    "beta_2": [UNIT_OPEN_RIGHT],
    "epsilon": [POSITIVE],
    "n_iter_no_change": [POSITIVE_INT, Options(Real, {np.inf})],
    "max_fun": [POSITIVE_INT],
}

# The MLPs' network arithmetic: None follows the dtype of the first fit's X.
PRECISION = [StrOptions({"float32", "float64", "bfloat16"}), None]
CLASS_WEIGHT = [dict, StrOptions({"balanced"}), None]
# A folder for the per-epoch backup of a stochastic fit (estimators/_backup.py).
BACKUP_DIR = [str, os.PathLike, None]

"""fastmlp: fast CPU training of perceptrons, logistic regression and MLPs."""

from . import datasets
from ._core import get_num_threads, set_num_threads
from .errors import ModelBusyError, TrainingDivergedError
from .model import MLP

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "ModelBusyError",
    "TrainingDivergedError",
    "datasets",
    "get_num_threads",
    "set_num_threads",
]

# scikit-learn compatible estimators.
from ._mlp_estimators import MLPClassifier, MLPRegressor  # noqa: E402
from ._logistic import LogisticRegression  # noqa: E402
from ._perceptron import Perceptron  # noqa: E402

__all__ += ["LogisticRegression", "MLPClassifier", "MLPRegressor", "Perceptron"]

# Model files (fastmlp.io): save / load without pickle.
from .io import ModelFileError, load, save  # noqa: E402

__all__ += ["ModelFileError", "load", "save"]

# Diagnostics (fastmlp.diagnostics) and ready-made callbacks (fastmlp.callbacks).
from . import callbacks, diagnostics  # noqa: E402
from .callbacks import EarlyStopping  # noqa: E402
from .diagnostics import check_gradients  # noqa: E402

__all__ += ["EarlyStopping", "callbacks", "check_gradients", "diagnostics"]

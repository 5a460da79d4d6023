"""fastmlp: fast CPU training of perceptrons, logistic regression and MLPs."""

from . import callbacks, datasets, diagnostics, ops
from ._core import get_num_threads, set_num_threads
from .callbacks import EarlyStopping
from .diagnostics import check_gradients
from .estimators import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron
from .errors import ModelBusyError, TrainingDivergedError
from .io import ModelFileError, load, save
from .model import MLP

__version__ = "0.1.0"

__all__ = [
    # the model API
    "MLP",
    # scikit-learn compatible estimators
    "LogisticRegression",
    "MLPClassifier",
    "MLPRegressor",
    "Perceptron",
    # model files without pickle
    "ModelFileError",
    "load",
    "save",
    # training aids and diagnostics
    "EarlyStopping",
    "callbacks",
    "check_gradients",
    "diagnostics",
    # data, kernels, threads, errors
    "datasets",
    "ops",
    "get_num_threads",
    "set_num_threads",
    "ModelBusyError",
    "TrainingDivergedError",
]

"""fastmlp: fast CPU training of perceptrons, logistic regression and MLPs."""

from . import callbacks, datasets, diagnostics, distributed, ops
from ._core import get_num_threads, set_num_threads
from .callbacks import (
    BackupAndRestore,
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from .diagnostics import check_gradients
from .errors import DistributedError, ModelBusyError, TrainingDivergedError
from .estimators import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron
from .io import ModelFileError, load, save
from .model import MLP

__version__ = "0.1.0"

__all__ = [
    # the model API
    "MLP",
    # training aids and diagnostics
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "DistributedError",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    # scikit-learn compatible estimators
    "LogisticRegression",
    "MLPClassifier",
    "MLPRegressor",
    "ModelBusyError",
    "ModelCheckpoint",
    # model files without pickle
    "ModelFileError",
    "Perceptron",
    "ReduceLROnPlateau",
    "TrainingDivergedError",
    "callbacks",
    "check_gradients",
    # data, kernels, threads, errors
    "datasets",
    "diagnostics",
    "distributed",
    "get_num_threads",
    "load",
    "ops",
    "save",
    "set_num_threads",
    # ONNX export (fastmlp[onnx]), imported on first use
    "to_onnx",
]


def __getattr__(name):
    """`fastmlp.to_onnx` imports fastmlp.onnx (and so onnx) on first use only."""
    if name != "to_onnx":
        raise AttributeError(f"module 'fastmlp' has no attribute {name!r}")
    try:
        from .onnx import to_onnx
    except ImportError as error:
        missing = error

        def to_onnx(model, X_sample, **kwargs):
            """Stands in for fastmlp.onnx.to_onnx while onnx or skl2onnx is missing."""
            raise ImportError(str(missing)) from missing
    return to_onnx


def __dir__():
    return sorted(set(globals()) | {"to_onnx"})

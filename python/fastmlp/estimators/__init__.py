"""scikit-learn compatible estimators over fastmlp's native core.

Each keeps one `fastmlp.MLP` (the owner of the native network) and trains it
through the training engine (`fastmlp._engine`).
"""

from .logistic import LogisticRegression
from .mlp import MLPClassifier, MLPRegressor
from .perceptron import Perceptron

__all__ = ["LogisticRegression", "MLPClassifier", "MLPRegressor", "Perceptron"]

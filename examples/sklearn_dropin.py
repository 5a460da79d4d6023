"""fastmlp's estimators in place of scikit-learn's: same parameters, same Pipeline tools."""

import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastmlp

X, y, _, _ = fastmlp.datasets.load_mnist()
X, y = X[:3000].astype("float32"), y[:3000]

# from sklearn.neural_network import MLPClassifier   <- the only line that changes
from fastmlp import MLPClassifier  # noqa: E402

pipeline = make_pipeline(StandardScaler(),
                         MLPClassifier(hidden_layer_sizes=(64,), max_iter=8, random_state=0))
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # 8 epochs is deliberately short
    scores = cross_val_score(pipeline, X, y, cv=3)
print("3-fold accuracy:", scores.round(3), f"mean {scores.mean():.3f}")
assert scores.mean() > 0.85

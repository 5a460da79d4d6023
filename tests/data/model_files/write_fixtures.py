"""Wrote these model files with fastmlp 0.1.0 (before the io split), and their predictions.

Kept to show how the fixtures were made; do not rerun to "fix" a failing load test:
the point of the files is that they come from an earlier version.
"""
import warnings
import numpy as np
import fastmlp
from pathlib import Path
out = Path("tests/data/model_files")
rng = np.random.default_rng(7)
X = rng.normal(size=(60, 5))
labels = np.array(["cat", "dog", "emu"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.7)]
target = X @ rng.normal(size=(5, 2))
probe = rng.normal(size=(8, 5))
expected = {"probe": probe}
warnings.simplefilter("ignore")
models = {
    "mlp_softmax_zscore": fastmlp.MLP([5, 7, 3], activation="tanh", output="softmax", normalize="zscore", seed=1).fit(X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.7), epochs=3),
    "mlp_float64_regression": fastmlp.MLP([5, 4, 2], activation="relu", output="identity", dtype="float64", normalize="minmax", seed=2).fit(X, target, epochs=3),
    "mlp_classifier_strings": fastmlp.MLPClassifier((6,), max_iter=20, random_state=0).fit(X, labels),
    "mlp_regressor": fastmlp.MLPRegressor(hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(X, target),
    "logistic_regression": fastmlp.LogisticRegression(C=2.0).fit(X, labels),
    "perceptron": fastmlp.Perceptron(max_iter=10, random_state=0).fit(X, labels),
}
for name, model in models.items():
    fastmlp.save(model, out / f"{name}.fastmlp")
    if isinstance(model, fastmlp.MLP):
        expected[name] = model.predict_proba(probe)
    elif hasattr(model, "predict_proba"):
        expected[name + "__proba"] = model.predict_proba(probe)
        expected[name] = model.predict(probe)
    else:
        expected[name] = model.predict(probe)
np.savez(out / "expected.npz", **expected)
print(sorted(expected))

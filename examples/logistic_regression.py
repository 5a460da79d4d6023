"""Logistic regression, binary, multiclass and multi-label: one layer, three outputs.

binary:      sigmoid output, binary cross-entropy
multiclass:  softmax output, categorical cross-entropy
multi-label: one sigmoid per label, binary cross-entropy summed over labels
"""

import numpy as np

import fastmlp

rng = np.random.default_rng(0)
X = rng.normal(size=(600, 5))
scores = X @ rng.normal(size=(5, 3))

# Binary: does the first score exceed 0?
y_binary = (scores[:, 0] > 0).astype(int)
binary = fastmlp.MLP([5, 1], output="sigmoid", seed=0)
binary.fit(X, y_binary, epochs=30, batch_size=32, learning_rate=0.5)
print(f"binary      accuracy {binary.score(X, y_binary):.3f}, P(y=1) of the first rows:",
      np.round(binary.predict_proba(X[:3]).ravel(), 3))

# Multiclass: which of three scores is largest?
y_class = np.argmax(scores, axis=1)
multiclass = fastmlp.MLP([5, 3], output="softmax", seed=0)
multiclass.fit(X, y_class, epochs=30, batch_size=32, learning_rate=0.5)
print(f"multiclass  accuracy {multiclass.score(X, y_class):.3f}, rows of probabilities sum to",
      np.round(multiclass.predict_proba(X[:3]).sum(axis=1), 4))

# Multi-label: which of the three scores are positive (any number of them)?
y_labels = (scores > 0).astype(int)
multilabel = fastmlp.MLP([5, 3], output="sigmoid", seed=0)
multilabel.fit(X, y_labels, epochs=30, batch_size=32, learning_rate=0.5)
print(f"multi-label exact-match accuracy {multilabel.score(X, y_labels):.3f}")

# The scikit-learn style estimator fits the same model (L-BFGS by default).
estimator = fastmlp.LogisticRegression().fit(X, y_class)
print(f"fastmlp.LogisticRegression accuracy {estimator.score(X, y_class):.3f}")
assert min(binary.score(X, y_binary), multiclass.score(X, y_class)) > 0.9
assert multilabel.score(X, y_labels) > 0.8

"""The perceptron rule: a step unit that learns a linearly separable rule.

    w <- w + eta (y - y_hat) x,   b <- b + eta (y - y_hat)

fastmlp's Perceptron estimator runs this rule; the model API spells the same
unit as MLP([n_inputs, 1], output="step").
"""

import numpy as np

import fastmlp

rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, size=(400, 2))
y = (X[:, 0] + 2 * X[:, 1] > 0.3).astype(int)  # a line separates the classes

perceptron = fastmlp.Perceptron(max_iter=30, tol=None, random_state=0).fit(X, y)
print(f"Perceptron estimator: {perceptron.n_iter_} epochs, training accuracy "
      f"{perceptron.score(X, y):.3f}")
w, b = perceptron.coef_.ravel(), perceptron.intercept_[0]
print(f"learned boundary: {w[0]:.2f} x1 + {w[1]:.2f} x2 + {b:.2f} = 0 "
      f"(true: x1 + 2 x2 - 0.3 = 0, up to scale)")

unit = fastmlp.MLP([2, 1], output="step", seed=0)
unit.fit(X, y, epochs=20, batch_size=1, learning_rate=0.1)
print(f"MLP([2, 1], output='step'): training accuracy {unit.score(X, y):.3f}")
assert perceptron.score(X, y) > 0.95 and unit.score(X, y) > 0.95

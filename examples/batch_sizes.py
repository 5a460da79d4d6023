"""Batch, stochastic and mini-batch gradient descent on the same problem.

batch_size=None: one update per epoch (the exact gradient of the mean loss);
batch_size=1: one update per row (noisy, many cheap steps);
batch_size=k: the usual compromise, and where vectorized matrix code shines.
"""

import time

import fastmlp

X_train, y_train, X_test, y_test = fastmlp.datasets.load_mnist()
X_train, y_train = X_train[:3000], y_train[:3000]

print(f"{'batch size':>10}  {'updates/epoch':>13}  {'s/epoch':>8}  {'test accuracy':>13}")
for batch_size, learning_rate in ((None, 0.5), (1, 0.01), (32, 0.1)):
    model = fastmlp.MLP([784, 64, 10], "relu", normalize="minmax", seed=0)
    started = time.perf_counter()
    model.fit(X_train, y_train, epochs=3, batch_size=batch_size, optimizer="sgd",
              learning_rate=learning_rate)
    seconds = (time.perf_counter() - started) / 3
    updates = 1 if batch_size is None else -(-len(y_train) // batch_size)
    accuracy = model.score(X_test, y_test)
    print(f"{batch_size or 'full'!s:>10}  {updates:>13,}  {seconds:>8.3f}  {accuracy:>13.4f}")
    if batch_size == 32:
        assert accuracy > 0.85

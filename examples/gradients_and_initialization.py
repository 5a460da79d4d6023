"""Backpropagation checked numerically; what the initialization does to gradients.

1. check_gradients compares backprop with central finite differences, layer by layer.
2. In a deep sigmoid network, weights that are too small shrink the gradient at
   every layer on the way back (vanishing); too large, and units saturate.
   LeCun / Glorot / He scales keep the norms of the same order across layers.
"""

import numpy as np

import fastmlp
from fastmlp.diagnostics import activation_stats, layer_gradient_norms

rng = np.random.default_rng(0)
X = rng.normal(size=(256, 32))
y = rng.integers(0, 4, size=256)

model = fastmlp.MLP([32, 16, 16, 4], "tanh", seed=0)
report = fastmlp.check_gradients(model, X[:16], y[:16])
print(report)
assert report.passed(1e-5)

sizes = [32] + [64] * 8 + [4]
print("\n||dW[l]|| for layers 1..9 of a 9-layer network:")
for label, activation, scale in (("sigmoid, weights x 0.1", "sigmoid", 0.1),
                                 ("sigmoid, LeCun init", "sigmoid", 1.0),
                                 ("tanh, weights x 3", "tanh", 3.0),
                                 ("tanh, Glorot init", "tanh", 1.0)):
    deep = fastmlp.MLP(sizes, activation, init="glorot" if activation == "tanh" else "lecun",
                       seed=0)
    for W in deep.W:
        W *= scale
    norms = layer_gradient_norms(deep, X, y)
    saturated = activation_stats(deep, X)[0].get("saturated", 0.0)
    print(f"  {label:<24}" + " ".join(f"{n:8.1e}" for n in norms)
          + f"   first layer saturated: {saturated:.0%}")
    if scale == 0.1:
        vanishing = norms[0] / norms[-1]
print(f"with weights x 0.1 the first layer's gradient is {vanishing:.0e} of the last one's")
assert vanishing < 1e-6

# fit(track_gradients=True) records the same norms after every epoch.
model.fit(X, y, epochs=3, track_gradients=True)
print("per-epoch gradient norms while training:", np.round(model.history["grad_norms"], 4).tolist())

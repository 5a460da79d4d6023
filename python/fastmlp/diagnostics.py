"""Diagnostics that show what the theory says.

- `check_gradients`: backpropagation against central finite differences,
  layer by layer, on a float64 twin of the model.
- `layer_gradient_norms`: ||dW[l]|| per layer on a batch; too-small or
  too-large initial weights show up as norms that shrink or grow layer by layer.
- `activation_stats`: per-layer summaries of a[l] on a batch (saturated sigmoid
  or tanh units, dead ReLUs).

Each accepts an `MLP` or a fitted estimator (MLPClassifier, MLPRegressor,
LogisticRegression, Perceptron), whose inner `MLP` it inspects.
"""

from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from .model import MLP

# Below this, |backprop| + |finite difference| is treated as zero: the relative
# error of two numbers that are both rounding noise means nothing.
_RELATIVE_ERROR_FLOOR = 1e-10


@dataclass
class LayerGradientCheck:
    layer: int
    checked_weights: int
    checked_biases: int
    max_weight_error: float
    max_bias_error: float

    @property
    def max_error(self) -> float:
        return max(self.max_weight_error, self.max_bias_error)


@dataclass
class GradientCheckReport:
    """Per-layer largest relative errors |bp - fd| / (|bp| + |fd|) and the overall largest."""

    layers: list[LayerGradientCheck] = field(default_factory=list)
    epsilon: float = 1e-6

    @property
    def max_error(self) -> float:
        return max(layer.max_error for layer in self.layers)

    def passed(self, tolerance: float = 1e-5) -> bool:
        return self.max_error <= tolerance

    def __str__(self) -> str:
        lines = ["layer  weights checked  max rel. error W  biases checked  max rel. error b"]
        for r in self.layers:
            lines.append(f"{r.layer:5d}  {r.checked_weights:15d}  {r.max_weight_error:16.2e}  "
                         f"{r.checked_biases:14d}  {r.max_bias_error:16.2e}")
        lines.append(f"largest relative error: {self.max_error:.2e} "
                     f"(central differences, epsilon {self.epsilon:g}, float64)")
        return "\n".join(lines)


def inner_model(model: Any) -> MLP:
    """The `MLP` behind `model` (itself, or a fitted estimator's network)."""
    if isinstance(model, MLP):
        return model
    inner = getattr(model, "_model", None)
    if isinstance(inner, MLP):
        if hasattr(model, "_push_weights"):
            model._push_weights()  # coefs_ the user replaced reach the network first
        return inner
    raise TypeError(f"expected a fastmlp MLP or a fitted fastmlp estimator, got "
                    f"{type(model).__name__}" + (" (not fitted yet?)" if hasattr(model, "fit") else ""))


def _model_targets(model: Any, y: npt.ArrayLike) -> Any:
    """y as the inner network expects it: estimators encode labels their own way."""
    if isinstance(model, MLP):
        return y
    return np.asarray(model._encode_validation_targets(y), dtype=np.float64)


def check_gradients(model: Any, X: npt.ArrayLike, y: npt.ArrayLike, *, max_checks_per_layer: int = 30,
                    epsilon: float = 1e-6, seed: int = 0) -> GradientCheckReport:
    """Compare backpropagation with central finite differences, layer by layer.

    A float64 twin of the model (same weights and normalization) computes the
    mean loss on (X, y) and its backprop gradient; then, for up to
    `max_checks_per_layer` randomly chosen weights and biases of each layer,
    (L(theta + eps) - L(theta - eps)) / (2 eps). Returns a GradientCheckReport;
    correct backprop gives errors around 1e-7 or less. Keep X small (a few
    dozen rows): every checked parameter costs two forward passes. Kinks (ReLU
    at 0, step) can make single entries disagree; that is the function, not a bug.
    """
    net = inner_model(model)
    twin = MLP(net.layer_sizes, net.activations[:-1], net.activations[-1], loss=net.loss_name,
               slope=net.slope, dtype="float64")
    twin.params[...] = net.params
    Xn = net.normalizer.transform(np.asarray(X), np.float64)
    Y = twin._targets(_model_targets(model, y), Xn.shape[0])
    _, grads = twin.gradients_prepared(Xn, Y)
    backprop = np.array(grads, copy=True)
    params = twin.params

    def loss_at(index: int, value: float) -> float:
        saved = params[index]
        params[index] = value
        try:
            return twin.loss_prepared(Xn, Y)
        finally:
            params[index] = saved

    rng = np.random.default_rng(seed)
    report = GradientCheckReport(epsilon=epsilon)
    for l in range(twin.n_layers):
        errors = {}
        w_start, b_start = twin.offsets(l)
        for part, start, size in (("W", w_start, twin.W[l].size), ("b", b_start, twin.b[l].size)):
            picked = rng.choice(size, size=min(size, max_checks_per_layer), replace=False)
            worst = 0.0
            for index in start + picked:
                theta = params[index]
                numeric = (loss_at(index, theta + epsilon) - loss_at(index, theta - epsilon)) \
                    / (2 * epsilon)
                analytic = backprop[index]
                scale = abs(numeric) + abs(analytic)
                if scale > _RELATIVE_ERROR_FLOOR:
                    worst = max(worst, abs(numeric - analytic) / scale)
            errors[part] = (len(picked), worst)
        report.layers.append(LayerGradientCheck(l + 1, errors["W"][0], errors["b"][0],
                                                errors["W"][1], errors["b"][1]))
    return report


def layer_gradient_norms(model: Any, X: npt.ArrayLike, y: npt.ArrayLike) -> list[float]:
    """[||dW[1]||, ..., ||dW[L]||]: the Frobenius norm of each layer's weight gradient.

    The gradient is of the mean loss on (X, y) at the current weights. When
    the norms shrink by orders of magnitude from the last layer back to the
    first, the early layers barely learn (vanishing gradients); when they grow,
    updates blow up (exploding gradients). `MLP.fit(track_gradients=True)`
    records the same numbers after every epoch in history['grad_norms'].
    """
    net = inner_model(model)
    _, dW, _ = net.gradients(X, _model_targets(model, y))
    return [float(np.linalg.norm(g)) for g in dW]


def activation_stats(model: Any, X: npt.ArrayLike) -> list[dict[str, Union[int, float, str]]]:
    """One dict per layer on a batch: mean and std of a[l], and the share of dead
    or saturated units (ReLU family: a unit that is 0 on every row; sigmoid and
    tanh: outputs within 1% of their limits)."""
    net = inner_model(model)
    stats: list[dict[str, Union[int, float, str]]] = []
    for layer in net.activations_for(X):
        a, name = layer["a"], layer["activation"]
        row: dict[str, Union[int, float, str]] = {
            "layer": layer["layer"], "activation": name, "mean": float(np.mean(a)),
            "std": float(np.std(a))}
        if name in ("relu", "leaky_relu"):
            row["dead_units"] = float(np.mean(np.all(layer["z"] <= 0, axis=0)))
        elif name == "sigmoid":
            row["saturated"] = float(np.mean((a < 0.01) | (a > 0.99)))
        elif name == "tanh":
            row["saturated"] = float(np.mean(np.abs(a) > 0.99))
        stats.append(row)
    return stats

"""Name tables shared by the model API and the estimators.

Tables instead of if-chains: adding an activation is adding a row.
"""

# Elementwise activations usable on any layer; softmax and exp (the Poisson
# loss's log link) only at the output.
HIDDEN_ACTIVATIONS = ("identity", "step", "sigmoid", "tanh", "relu", "leaky_relu", "softplus")
OUTPUT_ACTIVATIONS = (*HIDDEN_ACTIVATIONS, "softmax", "exp")

# scikit-learn spells sigmoid 'logistic'.
ACTIVATION_ALIASES = {"logistic": "sigmoid"}

# The loss each output activation is trained with by default.
DEFAULT_LOSS = {
    "softmax": "categorical_cross_entropy",
    "sigmoid": "binary_cross_entropy",
    "step": "perceptron",
    "exp": "poisson",
}
FALLBACK_LOSS = "squared_error"

# Fan-in scaling by activation: sqrt(2/n) keeps ReLU-family variance, sqrt(1/n)
# suits the saturating ones.
DEFAULT_INIT = {"relu": "he", "leaky_relu": "he"}
FALLBACK_INIT = "lecun"

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")


def canonical_activation(name, *, allowed=OUTPUT_ACTIVATIONS, what="activation"):
    """Return the canonical activation name, or raise naming the choices."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string, got {type(name).__name__}")
    canonical = ACTIVATION_ALIASES.get(name, name)
    if canonical not in allowed:
        raise ValueError(f"unknown {what} {name!r}: expected one of {', '.join(allowed)}")
    return canonical


def default_loss(output_activation):
    return DEFAULT_LOSS.get(output_activation, FALLBACK_LOSS)


def default_init(activation):
    return DEFAULT_INIT.get(activation, FALLBACK_INIT)

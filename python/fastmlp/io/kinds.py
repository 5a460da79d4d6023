"""The fixed table of what a model file can hold: kind name -> codec.

A file names one of these kinds and nothing else: never a module, a class
path or a callable. This is the only module of fastmlp.io that imports the
model classes, and the imports go one way: the models never import io.
"""

# The model classes, imported here and nowhere else in fastmlp.io.
from ..estimators import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron
from ..model import MLP
from .estimator_codec import EstimatorCodec
from .mlp_codec import MLPCodec
from .saved_attributes import SAVED_ATTRIBUTES

_ESTIMATORS = {
    "MLPClassifier": MLPClassifier,
    "MLPRegressor": MLPRegressor,
    "LogisticRegression": LogisticRegression,
    "Perceptron": Perceptron,
}

CODECS = {
    "MLP": MLPCodec(MLP),
    **{kind: EstimatorCodec(cls, SAVED_ATTRIBUTES[kind], MLP) for kind, cls in _ESTIMATORS.items()},
}

_KIND_OF_CLASS = {codec.cls: kind for kind, codec in CODECS.items()}


def codec_of(obj):
    """(kind name, codec) for an object of exactly one of the saveable classes."""
    kind = _KIND_OF_CLASS.get(type(obj))
    if kind is None:
        raise TypeError(f"cannot save a {type(obj).__name__}: expected one of "
                        f"{', '.join(sorted(CODECS))}")
    return kind, CODECS[kind]

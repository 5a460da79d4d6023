"""Model files for the scikit-learn style estimators (fastmlp.save / load).

An estimator is stored as a record whose `config` is `get_params()`, whose
`attributes` are its fitted and private state, and whose nested `model` is the
MLP holding the weights. Values go through a small tagged JSON encoding
(tuples, non-finite floats, dicts with non-string keys, string arrays); numeric
arrays go to the data section. Nothing is pickled and nothing is executed on
load: every tag maps to one fixed decoder.
"""

import math
import numbers

import numpy as np
from sklearn.preprocessing import LabelBinarizer

from . import io as model_io
from .estimators import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron
from .model import MLP

ESTIMATORS = (MLPClassifier, MLPRegressor, LogisticRegression, Perceptron)

# Rebuilt from the MLP after loading, never stored.
_DERIVED = ("_model", "coefs_", "intercepts_", "_coef_views", "_intercept_views")
_LABEL_BINARIZER_FIELDS = ("neg_label", "pos_label", "sparse_output", "classes_", "y_type_",
                           "sparse_input_")
_NUMERIC_KINDS = "biuf"


class _Encoder:
    """Python/numpy values -> JSON values, numeric arrays set aside by name."""

    def __init__(self):
        self.arrays = {}

    def encode(self, value, where):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            value = float(value)
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {"__dict__": [[self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                                 for k, v in value.items()]}
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, np.random.Generator):
            return {"__generator__": self.encode(value.bit_generator.state, where)}
        if isinstance(value, np.random.RandomState):
            return None  # random_state objects: only their future draws are lost
        if isinstance(value, LabelBinarizer):
            return {"__label_binarizer__": {
                name: self.encode(getattr(value, name), f"{where}.{name}")
                for name in _LABEL_BINARIZER_FIELDS}}
        raise TypeError(f"cannot store {where} of type {type(value).__name__} in a model file")

    def _array(self, array, where):
        if array.dtype.kind in _NUMERIC_KINDS and array.dtype.itemsize <= 8:
            name = f"array{len(self.arrays)}"
            stored = np.float64 if array.dtype.kind == "f" else np.int64
            self.arrays[name] = np.asarray(array, dtype=stored)
            return {"__ndarray__": name, "dtype": array.dtype.str}
        if array.dtype.kind in "UO":
            items = [self.encode(v, f"{where} item") for v in array.ravel().tolist()]
            return {"__list_array__": items, "shape": list(array.shape),
                    "dtype": "str" if array.dtype.kind == "U" else "object"}
        raise TypeError(f"cannot store {where}: arrays of dtype {array.dtype} are not supported")


class _Decoder:
    """The inverse of _Encoder; anything unexpected is a ValueError."""

    def __init__(self, arrays):
        self.arrays = arrays

    def decode(self, value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict) or len(value) not in (1, 2, 3):
            raise ValueError(f"unexpected value {value!r:.80}")
        tag = next(iter(value))
        decoder = _DECODERS.get(tag)
        if decoder is None:
            raise ValueError(f"unknown value tag {tag!r}: expected one of {', '.join(_DECODERS)}")
        return decoder(self, value)

    def tuple_(self, value):
        return tuple(self.decode(_list(value["__tuple__"])))

    def float_(self, value):
        text = value["__float__"]
        if text not in ("inf", "-inf", "nan"):
            raise ValueError(f"__float__ must be 'inf', '-inf' or 'nan', got {text!r:.40}")
        return float(text)

    def dict_(self, value):
        pairs = _list(value["__dict__"])
        if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise ValueError("__dict__ must be a list of [key, value] pairs")
        result = {}
        for key, item in pairs:
            key = self.decode(key)
            if not isinstance(key, (str, int, float, bool, tuple)) and key is not None:
                raise ValueError(f"dict keys must be scalars, got {type(key).__name__}")
            result[key] = self.decode(item)
        return result

    def ndarray_(self, value):
        name = value["__ndarray__"]
        if not isinstance(name, str) or name not in self.arrays:
            raise ValueError(f"array {name!r:.40} is not in the file")
        dtype = _numeric_dtype(value.get("dtype"))
        return np.array(self.arrays[name], dtype=dtype)

    def list_array_(self, value):
        items = self.decode(_list(value["__list_array__"]))
        shape = _list(value.get("shape"))
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise ValueError(f"shape must be non-negative integers, got {shape!r:.60}")
        if math.prod(shape) != len(items):
            raise ValueError(f"shape {shape} does not hold {len(items)} items")
        kind = value.get("dtype")
        if kind == "str":
            if not all(isinstance(i, str) for i in items):
                raise ValueError("a string array holds a non-string")
            return np.array(items, dtype=str).reshape(shape)
        if kind == "object":
            array = np.empty(len(items), dtype=object)
            array[:] = items
            return array.reshape(shape)
        raise ValueError(f"array dtype must be 'str' or 'object', got {kind!r:.40}")

    def generator_(self, value):
        state = self.decode(value["__generator__"])
        if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
            raise ValueError("only PCG64 generator states can be restored")
        generator = np.random.default_rng()
        generator.bit_generator.state = state
        return generator

    def label_binarizer_(self, value):
        fields = value["__label_binarizer__"]
        if not isinstance(fields, dict) or set(fields) != set(_LABEL_BINARIZER_FIELDS):
            raise ValueError(f"a label binarizer needs exactly {', '.join(_LABEL_BINARIZER_FIELDS)}")
        fields = {name: self.decode(item) for name, item in fields.items()}
        binarizer = LabelBinarizer(neg_label=fields["neg_label"], pos_label=fields["pos_label"],
                                   sparse_output=fields["sparse_output"])
        for name in ("classes_", "y_type_", "sparse_input_"):
            setattr(binarizer, name, fields[name])
        if not isinstance(binarizer.classes_, np.ndarray) or not isinstance(binarizer.y_type_, str):
            raise ValueError("a label binarizer needs classes_ as an array and y_type_ as a string")
        return binarizer


_DECODERS = {
    "__tuple__": _Decoder.tuple_,
    "__float__": _Decoder.float_,
    "__dict__": _Decoder.dict_,
    "__ndarray__": _Decoder.ndarray_,
    "__list_array__": _Decoder.list_array_,
    "__generator__": _Decoder.generator_,
    "__label_binarizer__": _Decoder.label_binarizer_,
}


def _list(value):
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return value


def _numeric_dtype(text):
    try:
        dtype = np.dtype(text) if isinstance(text, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _NUMERIC_KINDS or dtype.itemsize > 8:
        raise ValueError(f"array dtype must be a numeric numpy dtype, got {text!r:.40}")
    return dtype


# --------------------------------------------------------------- the two hooks

def save_estimator(estimator):
    if "_model" not in estimator.__dict__:
        raise ValueError(f"this {type(estimator).__name__} is not fitted yet; fit it before saving")
    estimator._push_weights()  # coefs_ the user replaced reach the network first
    encoder = _Encoder()
    params = estimator.get_params(deep=False)
    config = {name: encoder.encode(value, name) for name, value in params.items()}
    attributes = {name: encoder.encode(value, name)
                  for name, value in vars(estimator).items()
                  if name not in params and name not in _DERIVED}
    return model_io.SavedState(config=config, attributes=attributes, arrays=encoder.arrays,
                               model=estimator._model)


def load_estimator(cls, state):
    if not isinstance(state.model, MLP):
        raise ValueError(f"a {cls.__name__} record needs a nested MLP record")
    decoder = _Decoder(state.arrays)
    params = {name: decoder.decode(value) for name, value in state.config.items()}
    expected = set(cls().get_params(deep=False))
    if set(params) != expected:
        raise ValueError(f"{cls.__name__} parameters must be {sorted(expected)}, got {sorted(params)}")
    estimator = cls(**params)
    for name, value in state.attributes.items():
        # Only data attributes: a file may not shadow a method or a class attribute.
        if not name.isidentifier() or not (name.startswith("_") or name.endswith("_")) \
                or hasattr(cls, name) or name in _DERIVED:
            raise ValueError(f"attribute {name!r:.40} cannot be restored on a {cls.__name__}")
        setattr(estimator, name, decoder.decode(value))
    estimator._model = state.model
    if "_optimizer_ready" in vars(estimator):
        estimator._optimizer_ready = False  # optimizer state is not stored; start it afresh
    estimator._expose_weights()
    return estimator


for _cls in ESTIMATORS:
    model_io.register_kind(_cls.__name__, _cls, save_estimator, load_estimator)

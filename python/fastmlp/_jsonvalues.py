"""Values <-> JSON, for the values JSON cannot say by itself.

Used by model files (`fastmlp.io`) and training backups (`BackupAndRestore`);
it imports nothing of fastmlp.

A few tags, each with exactly one fixed decoder (nothing is looked up by a
name the file chooses, nothing is pickled or evaluated):

    {"__tuple__": [...]}                       a tuple
    {"__float__": "inf" | "-inf" | "nan"}      a non-finite float
    {"__dict__": [[key, value], ...]}          a dict (keys may be class labels)
    {"__ndarray__": name, "dtype": "<i4"}      a numeric array in the data section
    {"__list_array__": [...], "shape": [...], "dtype": "str" | "object"}
                                               an array of strings or mixed labels
    {"__generator__": state}                   a numpy PCG64 Generator
    {"__label_binarizer__": {...}}             scikit-learn's fitted LabelBinarizer

Numeric arrays are stored as float64 or int64 and cast back to their dtype.
"""

import math
import numbers

import numpy as np
from sklearn.preprocessing import LabelBinarizer

# What a LabelBinarizer is rebuilt from: its parameters, then its fitted fields.
_BINARIZER_PARAMETERS = ("neg_label", "pos_label", "sparse_output")
_BINARIZER_FITTED = ("classes_", "y_type_", "sparse_input_")
_NUMERIC_KINDS = "biuf"


class ValueEncoder:
    """Python and numpy values -> JSON; numeric arrays are set aside in `arrays` by name."""

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
            return None  # a random_state object: only its future draws are lost
        if isinstance(value, LabelBinarizer):
            return {"__label_binarizer__": {
                name: self.encode(getattr(value, name), f"{where}.{name}")
                for name in _BINARIZER_PARAMETERS + _BINARIZER_FITTED}}
        raise TypeError(f"cannot store {where} of type {type(value).__name__}: expected numbers, "
                        "strings, lists, tuples, dicts, numpy arrays, a numpy Generator or a "
                        "LabelBinarizer")

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


class ValueDecoder:
    """The inverse of ValueEncoder over a record's arrays; anything unexpected is a ValueError."""

    def __init__(self, arrays):
        self._arrays = arrays

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
            raise ValueError(f"unknown value tag {tag!r:.40}: expected one of "
                             f"{', '.join(_DECODERS)}")
        return decoder(self, value)

    def _tuple(self, value):
        return tuple(self.decode(_list(value["__tuple__"])))

    def _float(self, value):
        text = value["__float__"]
        if text not in ("inf", "-inf", "nan"):
            raise ValueError(f"__float__ must be 'inf', '-inf' or 'nan', got {text!r:.40}")
        return float(text)

    def _dict(self, value):
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

    def _ndarray(self, value):
        name = value["__ndarray__"]
        if not isinstance(name, str) or name not in self._arrays:
            raise ValueError(f"array {name!r:.40} is not in the file")
        return np.array(self._arrays[name], dtype=_numeric_dtype(value.get("dtype")))

    def _list_array(self, value):
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

    def _generator(self, value):
        state = self.decode(value["__generator__"])
        if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
            raise ValueError("only PCG64 generator states can be restored")
        generator = np.random.default_rng()
        generator.bit_generator.state = state
        return generator

    def _label_binarizer(self, value):
        fields = value["__label_binarizer__"]
        expected = _BINARIZER_PARAMETERS + _BINARIZER_FITTED
        if not isinstance(fields, dict) or set(fields) != set(expected):
            raise ValueError(f"a label binarizer needs exactly {', '.join(expected)}")
        fields = {name: self.decode(item) for name, item in fields.items()}
        binarizer = LabelBinarizer(**{name: fields[name] for name in _BINARIZER_PARAMETERS})
        for name in _BINARIZER_FITTED:
            setattr(binarizer, name, fields[name])
        if not isinstance(binarizer.classes_, np.ndarray) or not isinstance(binarizer.y_type_, str):
            raise ValueError("a label binarizer needs classes_ as an array and y_type_ as a string")
        return binarizer


_DECODERS = {
    "__tuple__": ValueDecoder._tuple,
    "__float__": ValueDecoder._float,
    "__dict__": ValueDecoder._dict,
    "__ndarray__": ValueDecoder._ndarray,
    "__list_array__": ValueDecoder._list_array,
    "__generator__": ValueDecoder._generator,
    "__label_binarizer__": ValueDecoder._label_binarizer,
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

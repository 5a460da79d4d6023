"""What a restored attribute's value may be: one named check per shape of value.

The values come out of values.ValueDecoder already typed (a tuple, an
array, a Generator ...); these checks make sure each is the type its
attribute holds, so a tampered file cannot hand an estimator a string where
it counts epochs.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.preprocessing import LabelBinarizer

from .json_fields import is_int


@dataclass(frozen=True)
class Expected:
    description: str
    accepts: Callable[[object], bool]

    def check(self, name, value):
        if not self.accepts(value):
            raise ValueError(f"attribute {name!r} must be {self.description}, got "
                             f"{type(value).__name__} {value!r:.60}")
        return value


def _is_real(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_reals(value):
    return isinstance(value, list) and all(_is_real(v) for v in value)


COUNT = Expected("a non-negative integer", lambda v: is_int(v) and v >= 0)
NAME = Expected("a string", lambda v: isinstance(v, str))
REAL = Expected("a number", _is_real)
NON_NEGATIVE_REAL = Expected("a non-negative number", lambda v: _is_real(v) and v >= 0)
REAL_OR_NONE = Expected("a number or null", lambda v: v is None or _is_real(v))
REALS = Expected("a list of numbers", _is_reals)
REALS_OR_NONE = Expected("a list of numbers or null", lambda v: v is None or _is_reals(v))
LABELS = Expected("a one-dimensional array",
                  lambda v: isinstance(v, np.ndarray) and v.ndim == 1)
STRINGS = Expected("a one-dimensional array of strings",
                   lambda v: isinstance(v, np.ndarray) and v.ndim == 1
                   and all(isinstance(s, str) for s in v.tolist()))
GENERATOR = Expected("a numpy Generator", lambda v: isinstance(v, np.random.Generator))
BINARIZER = Expected("a fitted LabelBinarizer", lambda v: isinstance(v, LabelBinarizer))

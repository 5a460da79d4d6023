"""Typed reads of fields from parsed JSON, with errors that say what came.

JSON has one number type and Python's bool is an int, so "is this an
integer" needs care: a JSON `true` is not an integer anywhere in a file.
"""

import math

from .errors import ModelFileError

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", list: "a list",
               dict: "an object"}


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def get_field(mapping, key, kind, where):
    """mapping[key], checked to be of JSON type `kind` (int, float, str, list or dict)."""
    if key not in mapping:
        raise ModelFileError(f"{where}: missing field {key!r}")
    value = mapping[key]
    if kind is int:
        ok = is_int(value)
    elif kind is float:
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value))
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ModelFileError(
            f"{where}: field {key!r} must be {_TYPE_NAMES[kind]}, got "
            f"{type(value).__name__} {value!r:.60}")
    return float(value) if kind is float else value


def require_equal(value, expected, what):
    if value != expected:
        raise ModelFileError(f"{what} must be {expected!r}, got {value!r:.60}")

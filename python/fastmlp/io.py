"""Model files: ``save(model, path)`` and ``load(path)``, without pickle.

The layout (docs/file-format.md has the full description):

    preamble  24 bytes, little-endian:
              magic b"\\x89FASTMLP" | format version u32 | header bytes u32
              | CRC-32 of the header u32 | CRC-32 of the data section u32
    header    UTF-8 JSON: what the model is and where its arrays lie
    data      raw little-endian arrays at the offsets the header lists

Loading only parses JSON and calls ``numpy.frombuffer``: a file can name one
of the kinds in ``_KINDS`` but never code to run. Every inconsistency is a
ValueError (``ModelFileError``) that says what was expected and what came.

Other classes (the scikit-learn style estimators) plug in by registering a
kind with two functions, ``register_kind(name, cls, save_state, load_state)``;
see ``SavedState`` and ``_estimator_io.py``.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .model import MLP

MAGIC = b"\x89FASTMLP"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<8sIIII")
# Checked before the header is read, so a corrupt length cannot make us
# allocate gigabytes; real headers are a few kilobytes.
MAX_HEADER_BYTES = 16 * 1024 * 1024
# Each array starts on a multiple of this (from the data section's start),
# so the arrays could be memory-mapped and SIMD-loaded in place.
ARRAY_ALIGNMENT = 64
# The only element types a file may declare; little-endian by definition.
ARRAY_DTYPES = {"<f4": np.dtype("<f4"), "<f8": np.dtype("<f8"), "<i8": np.dtype("<i8")}


class ModelFileError(ValueError):
    """A model file is truncated, corrupt, tampered with or from a newer fastmlp."""


@dataclass
class SavedState:
    """What a saveable object hands to ``save`` and gets back from ``load``.

    config:     JSON-able constructor arguments.
    attributes: JSON-able learned state (e.g. ``classes_`` as a list).
    arrays:     named numpy arrays of dtype float32, float64 or int64 (on
                load: read-only views into the file's bytes; copy to keep).
    model:      the wrapped ``MLP``, stored as a nested record, or None.
    """

    config: dict
    attributes: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    model: MLP | None = None


# kind name in a file -> (class, save_state, load_state). A fixed table: a
# file can only choose among these, never name a module or a callable.
_KINDS: dict = {}
_KIND_OF_CLASS: dict = {}


def register_kind(name, cls, save_state, load_state):
    """Make instances of exactly ``cls`` saveable under the kind ``name``.

    ``save_state(obj) -> SavedState``; ``load_state(cls, state) -> obj``,
    which must validate what it reads and raise ValueError or TypeError when
    it does not fit (they become ModelFileError).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"kind name must be a non-empty string, got {name!r}")
    _KINDS[name] = (cls, save_state, load_state)
    _KIND_OF_CLASS[cls] = name


# --------------------------------------------------------------- public API

def save(model, path):
    """Write ``model`` to ``path`` atomically (see docs/file-format.md).

    The bytes go to a temporary file in the same directory, are flushed and
    fsync'ed, then renamed over ``path``; a crash leaves either the old file
    or the new one, never a mix.
    """
    data = dumps(model)
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o666 & ~_current_umask())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def load(path):
    """Read a model written by ``save``; raises ModelFileError (a ValueError) on a bad file."""
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            file_bytes = os.fstat(stream.fileno()).st_size
            preamble = stream.read(_PREAMBLE.size)
            # The preamble is checked before the rest is read, so neither a
            # huge non-model file nor a huge declared header is read whole.
            header_bytes = _check_preamble(preamble, file_bytes)
            rest = stream.read(file_bytes - _PREAMBLE.size)
        return _decode(preamble + rest, header_bytes)
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None


def dumps(model) -> bytes:
    """The file's bytes for ``model`` (what ``save`` writes)."""
    record, arrays = _record_of(model, prefix="")
    data, placements = _layout(arrays)
    header = {"format": "fastmlp", "root": record, "arrays": placements,
              "data_nbytes": len(data)}
    return assemble(header, data)


def loads(data: bytes):
    """A model from the bytes ``dumps`` made; the same checks as ``load``."""
    data = bytes(data)
    header_bytes = _check_preamble(data[:_PREAMBLE.size], len(data))
    return _decode(data, header_bytes)


def assemble(header: dict, data: bytes) -> bytes:
    """Preamble + JSON header (padded to the alignment) + data, with both CRCs."""
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    padding = -(_PREAMBLE.size + len(text)) % ARRAY_ALIGNMENT
    text += b" " * padding
    preamble = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(text), zlib.crc32(text),
                              zlib.crc32(data))
    return preamble + text + data


# --------------------------------------------------------------- writing

def _known_kinds():
    """The kind table, with the estimators registered on first use.

    Imported here rather than at module load: the estimator modules import
    the model API, and fastmlp.io must stay importable on its own.
    """
    from . import _estimator_io  # noqa: F401  (registers the estimator kinds)

    return _KINDS


def _record_of(obj, prefix):
    """(JSON record, {array name: array}) for a saveable object."""
    kinds = _known_kinds()
    kind = _KIND_OF_CLASS.get(type(obj))
    if kind is None:
        raise TypeError(
            f"cannot save a {type(obj).__name__}: expected one of {', '.join(sorted(kinds))}")
    state = kinds[kind][1](obj)
    arrays = {}
    names = {}
    for name, array in state.arrays.items():
        full = f"{prefix}{name}"
        arrays[full] = _little_endian(np.asarray(array), full)
        names[name] = full
    record = {"kind": kind, "config": state.config, "attributes": state.attributes,
              "arrays": names}
    if state.model is not None:
        record["model"], nested = _record_of(state.model, prefix=f"{prefix}model.")
        arrays.update(nested)
    return record, arrays


def _mlp_state(model):
    config = {
        "layer_sizes": [int(s) for s in model.layer_sizes],
        "activations": list(model.activations),
        "loss": model.loss_name,
        "slope": float(model.slope),
        "init": model.init,
        "normalize": model.normalizer.kind,
        # A Generator or RandomState seed cannot be stored; only its effect on
        # the weights (which are stored) matters for prediction.
        "seed": int(model.seed) if isinstance(model.seed, numbers.Integral) else None,
        "dtype": model.dtype.name,
    }
    arrays = {"params": np.array(model.params, copy=True)}
    if model.normalizer.kind is not None and model.normalizer.offset_ is not None:
        arrays["normalizer_offset"] = model.normalizer.offset_
        arrays["normalizer_scale"] = model.normalizer.scale_
    return SavedState(config=config, arrays=arrays)


def _little_endian(array, name):
    dtype = array.dtype.newbyteorder("<")
    if dtype.str not in ARRAY_DTYPES:
        raise TypeError(f"array {name!r} has dtype {array.dtype}: expected float32, float64 or int64")
    return np.ascontiguousarray(array, dtype=dtype)


def _layout(arrays):
    """Pack arrays into one aligned data section; returns (bytes, placements)."""
    chunks, placements, offset = [], {}, 0
    for name, array in arrays.items():
        pad = -offset % ARRAY_ALIGNMENT
        chunks.append(b"\0" * pad)
        offset += pad
        raw = array.tobytes()
        placements[name] = {"dtype": array.dtype.str, "shape": list(array.shape),
                            "offset": offset, "nbytes": len(raw)}
        chunks.append(raw)
        offset += len(raw)
    return b"".join(chunks), placements


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory):
    # Makes the rename itself durable. Not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------- reading

def _check_preamble(preamble, file_bytes):
    """Validates the fixed 24 bytes; returns the header's length."""
    if len(preamble) < _PREAMBLE.size:
        raise ModelFileError(
            f"not a fastmlp model file: expected at least {_PREAMBLE.size} bytes, got {len(preamble)}")
    magic, version, header_bytes, _, _ = _PREAMBLE.unpack(preamble)
    if magic != MAGIC:
        raise ModelFileError(
            f"not a fastmlp model file: expected magic {MAGIC!r}, got {magic!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"format version {version} is newer than this fastmlp reads (up to "
            f"{FORMAT_VERSION}); upgrade fastmlp to load it")
    if version < 1:
        raise ModelFileError(f"format version must be >= 1, got {version}")
    if header_bytes > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"header of {header_bytes} bytes exceeds the {MAX_HEADER_BYTES}-byte limit")
    if _PREAMBLE.size + header_bytes > file_bytes:
        raise ModelFileError(
            f"truncated file: the header needs {header_bytes} bytes after the preamble, "
            f"but the file holds {file_bytes - _PREAMBLE.size}")
    return header_bytes


def _decode(data, header_bytes):
    _, _, _, header_crc, data_crc = _PREAMBLE.unpack(data[:_PREAMBLE.size])
    header_end = _PREAMBLE.size + header_bytes
    text = data[_PREAMBLE.size:header_end]
    body = memoryview(data)[header_end:]
    if zlib.crc32(text) != header_crc:
        raise ModelFileError(
            f"header checksum mismatch: expected CRC-32 {header_crc:08x}, got "
            f"{zlib.crc32(text):08x}; the file is corrupt")
    header = _parse_header(text)
    _require_equal(header.get("format"), "fastmlp", "header 'format'")
    declared = _get(header, "data_nbytes", int, "header")
    if declared != len(body):
        what = "truncated file" if len(body) < declared else "unexpected trailing bytes"
        raise ModelFileError(
            f"{what}: the header declares a data section of {declared} bytes, "
            f"the file holds {len(body)}")
    if zlib.crc32(body) != data_crc:
        raise ModelFileError(
            f"data checksum mismatch: expected CRC-32 {data_crc:08x}, got "
            f"{zlib.crc32(body):08x}; the file is corrupt")
    arrays = _read_arrays(_get(header, "arrays", dict, "header"), body)
    root = _get(header, "root", dict, "header")
    used = set()
    try:
        obj = _restore(root, arrays, used, "root")
    except RecursionError:
        raise ModelFileError("header nests records or values too deeply") from None
    unused = sorted(set(arrays) - used)
    if unused:
        raise ModelFileError(f"arrays {unused} are listed in the header but belong to no model")
    return obj


def _parse_header(text):
    try:
        header = json.loads(text.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as error:
        raise ModelFileError(f"header is not valid UTF-8 JSON: {error}") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"header must be a JSON object, got {type(header).__name__}")
    return header


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed in a model header")


def _read_arrays(placements, body):
    """{name: array} after checking every placement against the data section."""
    spans, arrays = [], {}
    for name, place in placements.items():
        where = f"array {name!r}"
        if not isinstance(place, dict):
            raise ModelFileError(f"{where}: expected an object, got {type(place).__name__}")
        dtype_name = _get(place, "dtype", str, where)
        if dtype_name not in ARRAY_DTYPES:
            raise ModelFileError(
                f"{where}: unknown dtype {dtype_name!r}: expected one of {', '.join(ARRAY_DTYPES)}")
        dtype = ARRAY_DTYPES[dtype_name]
        shape = _get(place, "shape", list, where)
        if len(shape) > 8 or not all(_is_int(s) and s >= 0 for s in shape):
            raise ModelFileError(f"{where}: shape must be up to 8 non-negative integers, got {shape}")
        offset = _get(place, "offset", int, where)
        nbytes = _get(place, "nbytes", int, where)
        expected = math.prod(shape) * dtype.itemsize
        if nbytes != expected:
            raise ModelFileError(
                f"{where}: shape {shape} of {dtype_name} needs {expected} bytes, header says {nbytes}")
        if offset < 0 or offset + nbytes > len(body):
            raise ModelFileError(
                f"{where}: bytes [{offset}, {offset + nbytes}) lie outside the "
                f"{len(body)}-byte data section")
        spans.append((offset, offset + nbytes, name))
        arrays[name] = np.frombuffer(body, dtype=dtype, count=math.prod(shape),
                                     offset=offset).reshape(shape)
    spans.sort()
    for (_, end, first), (start, _, second) in zip(spans, spans[1:]):
        if start < end:
            raise ModelFileError(f"arrays {first!r} and {second!r} overlap in the data section")
    return arrays


def _restore(record, arrays, used, where):
    kind = _get(record, "kind", str, where)
    config = _get(record, "config", dict, where)
    attributes = _get(record, "attributes", dict, where)
    names = _get(record, "arrays", dict, where)
    own = {}
    for short, full in names.items():
        if not isinstance(full, str) or full not in arrays:
            raise ModelFileError(f"{where}: array {short!r} refers to {full!r}, which the header does not list")
        if full in used:
            raise ModelFileError(f"{where}: array {full!r} is used twice")
        used.add(full)
        own[short] = arrays[full]
    model = None
    if "model" in record:
        model = _restore(_get(record, "model", dict, where), arrays, used, f"{where}.model")
    state = SavedState(config=config, attributes=attributes, arrays=own, model=model)
    kinds = _known_kinds()
    if kind not in kinds:
        raise ModelFileError(
            f"{where}: unknown model kind {kind!r}: expected one of {', '.join(sorted(kinds))}")
    cls, _, load_state = kinds[kind]
    try:
        return load_state(cls, state)
    except ModelFileError as error:
        raise ModelFileError(f"{where}: {error}") from None
    except (ValueError, TypeError, KeyError) as error:
        raise ModelFileError(f"{where}: cannot restore a {kind}: {error}") from None
    except RecursionError:
        raise ModelFileError(f"{where}: values nest too deeply") from None


def _mlp_from_state(cls, state):
    where = "MLP"
    config = state.config
    sizes = _get(config, "layer_sizes", list, where)
    if len(sizes) < 2 or not all(_is_int(s) and s >= 1 for s in sizes):
        raise ModelFileError(f"{where}: layer_sizes must be >= 2 positive integers, got {sizes}")
    activations = _get(config, "activations", list, where)
    if len(activations) != len(sizes) - 1 or not all(isinstance(a, str) for a in activations):
        raise ModelFileError(
            f"{where}: expected {len(sizes) - 1} activation names for layer_sizes {sizes}, "
            f"got {activations}")
    dtype = _get(config, "dtype", str, where)
    if dtype not in ("float32", "float64"):
        raise ModelFileError(f"{where}: dtype must be 'float32' or 'float64', got {dtype!r}")
    # Checked before any network exists: the parameter count follows from
    # layer_sizes, and the file's own bytes bound the params array, so a
    # tampered layer_sizes cannot make us allocate more than the file holds.
    n_params = sum(i * o + o for i, o in zip(sizes, sizes[1:]))
    params = _array(state, "params", (n_params,), "<f4" if dtype == "float32" else "<f8", where)
    if not np.all(np.isfinite(params)):
        raise ModelFileError(f"{where}: params hold NaN or infinity; a saved model never does")
    normalize = config.get("normalize")
    seed = config.get("seed")
    if seed is not None and not _is_int(seed):
        raise ModelFileError(f"{where}: seed must be an integer or null, got {seed!r}")
    hidden = activations[:-1]
    try:
        model = cls(sizes, hidden if hidden else "relu", activations[-1],
                    loss=_get(config, "loss", str, where), slope=_get(config, "slope", float, where),
                    init=config.get("init"), normalize=normalize, seed=seed, dtype=dtype)
    except (ValueError, TypeError) as error:
        raise ModelFileError(f"{where}: invalid MLP config: {error}") from None
    model.params[...] = params
    if normalize is not None:
        offset = _array(state, "normalizer_offset", (sizes[0],), "<f4", where)
        scale = _array(state, "normalizer_scale", (sizes[0],), "<f4", where)
        model.normalizer.set_state(offset.copy(), scale.copy())
    extra = set(state.arrays) - {"params", "normalizer_offset", "normalizer_scale"}
    if extra or (normalize is None and len(state.arrays) != 1):
        raise ModelFileError(f"{where}: unexpected arrays {sorted(set(state.arrays) - {'params'})}")
    return model


register_kind("MLP", MLP, _mlp_state, _mlp_from_state)


def _array(state, name, shape, dtype, where):
    if name not in state.arrays:
        raise ModelFileError(f"{where}: array {name!r} is missing")
    array = state.arrays[name]
    if array.dtype.str != dtype or array.shape != shape:
        raise ModelFileError(
            f"{where}: array {name!r} must be {dtype} of shape {shape}, "
            f"got {array.dtype.str} of shape {array.shape}")
    return array


# --------------------------------------------------------------- small checks

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", list: "a list",
               dict: "an object"}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _get(mapping, key, kind, where):
    """mapping[key] checked to be of JSON type `kind` (bool is not an int)."""
    if key not in mapping:
        raise ModelFileError(f"{where}: missing field {key!r}")
    value = mapping[key]
    if kind is int:
        ok = _is_int(value)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ModelFileError(
            f"{where}: field {key!r} must be {_TYPE_NAMES[kind]}, got {type(value).__name__} {value!r:.60}")
    return float(value) if kind is float else value


def _require_equal(value, expected, what):
    if value != expected:
        raise ModelFileError(f"{what} must be {expected!r}, got {value!r:.60}")

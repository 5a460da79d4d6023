"""The model file container: framing, checksums, arrays and the atomic write.

This module knows nothing of models. A file is

    preamble  24 bytes, little-endian:
              magic b"\\x89FASTMLP" | format version u32 | header bytes u32
              | CRC-32 of the header u32 | CRC-32 of the data section u32
    header    a UTF-8 JSON object, padded with spaces to a multiple of 64 bytes
              (counted from the start of the file)
    data      raw little-endian arrays, each at a multiple of 64 bytes from
              the start of the data section

The header's `format`, `data_nbytes` and `arrays` fields belong to the
container; every other field is content for the layer above (records.py).
Reading checks everything the container defines and hands back plain JSON
and read-only numpy views: a file can hold no code and no pickle.
"""

import json
import math
import os
import struct
import zlib

import numpy as np

from .._atomic import write_atomically  # noqa: F401  (part of the container's interface)
from .errors import ModelFileError
from .json_fields import get_field, is_int, require_equal

MAGIC = b"\x89FASTMLP"
FORMAT_VERSION = 1
PREAMBLE = struct.Struct("<8sIIII")
# Checked before the header is read, so a corrupt length cannot make us
# allocate gigabytes; real headers are a few kilobytes.
MAX_HEADER_BYTES = 16 * 1024 * 1024
# Real headers nest about ten levels; a bound keeps every later walk over the
# header (all of them recursive) far from Python's recursion limit.
MAX_HEADER_DEPTH = 64
# Each array starts on a multiple of this (from the data section's start),
# so the arrays could be memory-mapped and SIMD-loaded in place.
ARRAY_ALIGNMENT = 64
MAX_ARRAY_DIMENSIONS = 8
# The only element types a file may declare; little-endian by definition.
ARRAY_DTYPES = {"<f4": np.dtype("<f4"), "<f8": np.dtype("<f8"), "<i8": np.dtype("<i8")}
CONTAINER_FIELDS = ("format", "data_nbytes", "arrays")


# --------------------------------------------------------------- writing

def pack(content, arrays):
    """The file's bytes for a JSON `content` object and named numpy `arrays`."""
    clash = sorted(set(content) & set(CONTAINER_FIELDS))
    if clash:
        raise ValueError(f"header fields {clash} belong to the container")
    data, placements = _layout({name: _little_endian(array, name)
                                for name, array in arrays.items()})
    header = {"format": "fastmlp", **content, "arrays": placements, "data_nbytes": len(data)}
    return assemble(header, data)


def assemble(header, data):
    """Preamble + JSON header (padded to the alignment) + data, with both CRCs."""
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-(PREAMBLE.size + len(text)) % ARRAY_ALIGNMENT)
    preamble = PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(text), zlib.crc32(text), zlib.crc32(data))
    return preamble + text + data


def _little_endian(array, name):
    array = np.asarray(array)
    dtype = array.dtype.newbyteorder("<")
    if dtype.str not in ARRAY_DTYPES:
        raise TypeError(f"array {name!r} has dtype {array.dtype}: expected float32, float64 "
                        "or int64")
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


# --------------------------------------------------------------- reading

def read_file(path):
    """The bytes of the file at `path`, its preamble checked before the rest is read.

    So neither a huge non-model file nor a huge declared header is read whole.
    """
    with open(path, "rb") as stream:
        file_bytes = os.fstat(stream.fileno()).st_size
        preamble = stream.read(PREAMBLE.size)
        check_preamble(preamble, file_bytes)
        return preamble + stream.read(file_bytes - PREAMBLE.size)


def check_preamble(preamble, file_bytes):
    """Validates the fixed 24 bytes against the file's size; returns the header's length."""
    if len(preamble) < PREAMBLE.size:
        raise ModelFileError(f"not a fastmlp model file: expected at least {PREAMBLE.size} "
                             f"bytes, got {len(preamble)}")
    magic, version, header_bytes, _, _ = PREAMBLE.unpack(preamble[:PREAMBLE.size])
    if magic != MAGIC:
        raise ModelFileError(f"not a fastmlp model file: expected magic {MAGIC!r}, got {magic!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"format version {version} is newer than this fastmlp reads (up to "
            f"{FORMAT_VERSION}); upgrade fastmlp to load it")
    if version < 1:
        raise ModelFileError(f"format version must be >= 1, got {version}")
    if header_bytes > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"header of {header_bytes} bytes exceeds the {MAX_HEADER_BYTES}-byte limit")
    if PREAMBLE.size + header_bytes > file_bytes:
        raise ModelFileError(
            f"truncated file: the header needs {header_bytes} bytes after the preamble, "
            f"but the file holds {file_bytes - PREAMBLE.size}")
    return header_bytes


def unpack(data):
    """(header, {name: read-only array}) of a whole file's bytes, everything checked."""
    header_bytes = check_preamble(data[:PREAMBLE.size], len(data))
    _, _, _, header_crc, data_crc = PREAMBLE.unpack(data[:PREAMBLE.size])
    header_end = PREAMBLE.size + header_bytes
    text = data[PREAMBLE.size:header_end]
    body = memoryview(data)[header_end:]
    if zlib.crc32(text) != header_crc:
        raise ModelFileError(
            f"header checksum mismatch: expected CRC-32 {header_crc:08x}, got "
            f"{zlib.crc32(text):08x}; the file is corrupt")
    header = _parse_header(text)
    require_equal(header.get("format"), "fastmlp", "header 'format'")
    declared = get_field(header, "data_nbytes", int, "header")
    if declared != len(body):
        what = "truncated file" if len(body) < declared else "unexpected trailing bytes"
        raise ModelFileError(f"{what}: the header declares a data section of {declared} bytes, "
                             f"the file holds {len(body)}")
    if zlib.crc32(body) != data_crc:
        raise ModelFileError(
            f"data checksum mismatch: expected CRC-32 {data_crc:08x}, got "
            f"{zlib.crc32(body):08x}; the file is corrupt")
    return header, _read_arrays(get_field(header, "arrays", dict, "header"), body)


def _parse_header(text):
    try:
        header = json.loads(text.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as error:
        raise ModelFileError(f"header is not valid UTF-8 JSON: {error}") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"header must be a JSON object, got {type(header).__name__}")
    if _depth(header) > MAX_HEADER_DEPTH:
        raise ModelFileError(f"header nests values too deeply: more than {MAX_HEADER_DEPTH} "
                             "levels")
    return header


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed in a model header")


def _depth(value):
    """How deeply lists and objects nest in a JSON value (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _read_arrays(placements, body):
    """{name: array} after checking every placement against the data section."""
    spans, arrays = [], {}
    for name, place in placements.items():
        where = f"array {name!r}"
        if not isinstance(place, dict):
            raise ModelFileError(f"{where}: expected an object, got {type(place).__name__}")
        dtype_name = get_field(place, "dtype", str, where)
        if dtype_name not in ARRAY_DTYPES:
            raise ModelFileError(f"{where}: unknown dtype {dtype_name!r}: expected one of "
                                 f"{', '.join(ARRAY_DTYPES)}")
        dtype = ARRAY_DTYPES[dtype_name]
        shape = get_field(place, "shape", list, where)
        if len(shape) > MAX_ARRAY_DIMENSIONS or not all(is_int(s) and s >= 0 for s in shape):
            raise ModelFileError(f"{where}: shape must be up to {MAX_ARRAY_DIMENSIONS} "
                                 f"non-negative integers, got {shape}")
        offset = get_field(place, "offset", int, where)
        nbytes = get_field(place, "nbytes", int, where)
        expected = math.prod(shape) * dtype.itemsize
        if nbytes != expected:
            raise ModelFileError(f"{where}: shape {shape} of {dtype_name} needs {expected} "
                                 f"bytes, header says {nbytes}")
        if offset < 0 or offset + nbytes > len(body):
            raise ModelFileError(f"{where}: bytes [{offset}, {offset + nbytes}) lie outside the "
                                 f"{len(body)}-byte data section")
        spans.append((offset, offset + nbytes, name))
        arrays[name] = np.frombuffer(body, dtype=dtype, count=math.prod(shape),
                                     offset=offset).reshape(shape)
    spans.sort()
    for (_, end, first), (start, _, second) in zip(spans, spans[1:]):
        if start < end:
            raise ModelFileError(f"arrays {first!r} and {second!r} overlap in the data section")
    return arrays

"""Bounded fuzzing of the two file readers: datasets.read_idx and fastmlp.load.

Whatever the bytes, the only exception allowed out is ValueError (for model
files its subclass fastmlp.ModelFileError): never a crash, a MemoryError, an
IndexError, a struct.error or a RecursionError.
"""

import gzip
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastmlp
from fastmlp import datasets
from fastmlp import io as model_io

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
SCRATCH = Path(tempfile.mkdtemp(prefix="fastmlp-fuzz-"))


def _valid_idx(array, compress):
    path = SCRATCH / ("valid.idx.gz" if compress else "valid.idx")
    datasets.write_idx(path, array, compress=compress)
    return path.read_bytes()


VALID_IDX = [
    _valid_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4), False),
    _valid_idx(np.arange(6, dtype=np.float32).reshape(3, 2), False),
    _valid_idx(np.arange(5, dtype=np.int16), True),
]


def _valid_model():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3)).astype(np.float32)
    model = fastmlp.MLP([3, 4, 2], normalize="zscore", seed=0).fit(X, np.arange(20) % 2, epochs=1)
    return model_io.dumps(model)


def _valid_estimator():
    import warnings
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = fastmlp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
        estimator.fit(X, np.array(["a", "b", "c"])[np.arange(30) % 3])
    return model_io.dumps(estimator)


VALID_MODEL = _valid_model()
VALID_ESTIMATOR = _valid_estimator()


@st.composite
def mutated(draw, originals):
    """A valid file with a few byte flips, cuts, insertions or duplicated chunks."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "truncate", "insert", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01]))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            data[at:at] = data[at:at + draw(st.integers(1, 32))]
    return bytes(data)


def _read_idx_bytes(data):
    path = SCRATCH / "fuzzed.idx"
    path.write_bytes(data)
    try:
        return datasets.read_idx(path)
    except ValueError as error:
        assert str(error)
        return None


# --------------------------------------------------------------- read_idx

@FUZZ
@given(st.binary(max_size=512))
def test_read_idx_on_arbitrary_bytes(data):
    _read_idx_bytes(data)


@FUZZ
@given(st.binary(max_size=256))
def test_read_idx_on_arbitrary_gzip_payloads(payload):
    # Valid gzip around garbage reaches the IDX parser, not just the gzip layer.
    _read_idx_bytes(gzip.compress(payload))


@FUZZ
@given(mutated(VALID_IDX))
def test_read_idx_on_mutated_files(data):
    result = _read_idx_bytes(data)
    if result is not None:
        assert isinstance(result, np.ndarray)


@FUZZ
@given(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
       st.lists(st.integers(0, 2**32 - 1), max_size=6), st.binary(max_size=64))
def test_read_idx_with_absurd_dimensions(type_code, dims, payload):
    header = bytes([0, 0, type_code, len(dims)]) + np.asarray(dims, ">u4").tobytes()
    result = _read_idx_bytes(header + payload)
    if result is not None:
        assert result.shape == tuple(dims)


# --------------------------------------------------------------- fastmlp.load

def _load_bytes(data):
    try:
        return model_io.loads(data)
    except fastmlp.ModelFileError as error:
        assert str(error)
        return None


@FUZZ
@given(st.binary(max_size=512))
def test_load_on_arbitrary_bytes(data):
    _load_bytes(data)


@FUZZ
@given(st.binary(max_size=256))
def test_load_on_arbitrary_bytes_after_a_valid_preamble(tail):
    _load_bytes(VALID_MODEL[:24] + tail)


@FUZZ
@given(mutated([VALID_MODEL]))
def test_load_on_mutated_files(data):
    model = _load_bytes(data)
    if model is not None:
        assert data == VALID_MODEL or np.all(np.isfinite(model.params))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(value, prefix=()):
    """Every path into a JSON value: tuples of keys and indexes."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


def _header_and_data(blob):
    length = model_io.PREAMBLE.unpack(blob[:24])[2]
    header = json.loads(blob[24:24 + length])
    return header, blob[24 + length:], [p for p in _paths(header) if p]


VALID_FILES = [_header_and_data(VALID_MODEL), _header_and_data(VALID_ESTIMATOR)]


@st.composite
def header_edits(draw):
    """(header, data, path into the header) of one of the valid files."""
    header, data, paths = draw(st.sampled_from(VALID_FILES))
    return json.loads(json.dumps(header)), data, draw(st.sampled_from(paths))


@FUZZ
@given(header_edits(), JSON_VALUES, st.booleans())
def test_load_on_headers_with_one_field_replaced_and_valid_checksums(edit, value, delete):
    """Tampering that keeps the checksums right reaches the semantic checks."""
    header, data, path = edit
    parent = header
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    try:
        blob = model_io.assemble(header, data)
    except ValueError:
        return  # a value JSON cannot hold (e.g. inf); not a file anyone can write
    model = _load_bytes(blob)
    if isinstance(model, fastmlp.MLP):
        # Whatever was accepted is a working model.
        X = np.zeros((2, model.n_inputs), dtype=np.float32)
        assert model.forward(X).shape == (2, model.n_outputs)


def test_deeply_nested_values_are_a_value_error():
    header, data, _ = VALID_FILES[1]
    header = json.loads(json.dumps(header))
    header["root"]["attributes"]["deep_"] = json.loads("[" * 900 + "]" * 900)
    with pytest.raises(fastmlp.ModelFileError, match="nest"):
        model_io.loads(model_io.assemble(header, data))


@pytest.mark.parametrize("blob", [b"", VALID_MODEL[:23], VALID_MODEL[:-1], VALID_MODEL + b"x"])
def test_load_from_a_path_gives_the_same_errors(tmp_path, blob):
    path = tmp_path / "model.fmlp"
    path.write_bytes(blob)
    with pytest.raises(fastmlp.ModelFileError):
        fastmlp.load(path)

"""fastmlp.save / fastmlp.load: round trips, atomic writes, and every kind of bad file."""

import json
import os
import struct
import zlib

import numpy as np
import pytest

import fastmlp
from fastmlp import io as model_io


def _data(n=60, features=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features)).astype(np.float32)
    return X, np.arange(n) % classes


@pytest.fixture
def trained():
    X, y = _data()
    return fastmlp.MLP([4, 6, 3], normalize="zscore", seed=1).fit(X, y, epochs=3), X


def _split(blob):
    """(header dict, data bytes) of a valid file."""
    _, _, header_bytes, _, _ = model_io.PREAMBLE.unpack(blob[:24])
    return json.loads(blob[24:24 + header_bytes]), blob[24 + header_bytes:]


# --------------------------------------------------------------- round trips

@pytest.mark.parametrize("kwargs", [
    dict(layer_sizes=[4, 6, 3], normalize="zscore"),
    dict(layer_sizes=[4, 6, 5, 3], activation=["tanh", "leaky_relu"], normalize="minmax", slope=0.2),
    dict(layer_sizes=[4, 3], normalize=None),
    dict(layer_sizes=[4, 1], output="sigmoid"),
    dict(layer_sizes=[4, 1], output="identity"),
    dict(layer_sizes=[4, 1], output="step"),
    dict(layer_sizes=[4, 8, 3], dtype="float64", init="glorot"),
])
def test_loaded_model_predicts_bit_identically(tmp_path, kwargs):
    X, y = _data()
    sizes = kwargs.pop("layer_sizes")
    model = fastmlp.MLP(sizes, seed=3, **kwargs)
    target = y if sizes[-1] == 3 else (y > 0).astype(np.float64)
    model.fit(X, target, epochs=2)
    path = tmp_path / "model.fmlp"
    fastmlp.save(model, path)
    loaded = fastmlp.load(path)
    assert loaded.layer_sizes == model.layer_sizes
    assert loaded.activations == model.activations
    assert loaded.loss_name == model.loss_name
    assert loaded.dtype == model.dtype
    assert loaded.normalizer.kind == model.normalizer.kind
    np.testing.assert_array_equal(loaded.params, model.params)
    assert loaded.forward(X).tobytes() == model.forward(X).tobytes()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_loaded_model_keeps_training(tmp_path, trained):
    model, X = trained
    fastmlp.save(model, tmp_path / "m")
    loaded = fastmlp.load(tmp_path / "m")
    loaded.fit(X, np.arange(len(X)) % 3, epochs=1)
    assert np.all(np.isfinite(loaded.params))
    assert not np.array_equal(loaded.params, model.params)


def test_dumps_loads_round_trip(trained):
    model, X = trained
    assert np.array_equal(model_io.loads(model_io.dumps(model)).forward(X), model.forward(X))


def test_arrays_are_aligned_and_listed(trained):
    header, data = _split(model_io.dumps(trained[0]))
    assert set(header["arrays"]) == {"params", "normalizer_offset", "normalizer_scale"}
    for place in header["arrays"].values():
        assert place["offset"] % model_io.ARRAY_ALIGNMENT == 0
    params = header["arrays"]["params"]
    assert params["dtype"] == "<f4" and params["shape"] == [trained[0].n_params]
    assert header["data_nbytes"] == len(data)


def test_saving_something_else_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="cannot save a dict"):
        fastmlp.save({"not": "a model"}, tmp_path / "x")


# --------------------------------------------------------------- atomic writes

def test_save_replaces_atomically_and_leaves_no_temp_file(tmp_path, trained):
    model, _ = trained
    path = tmp_path / "model.fmlp"
    path.write_bytes(b"old contents")
    fastmlp.save(model, path)
    assert os.listdir(tmp_path) == ["model.fmlp"]
    assert fastmlp.load(path).n_params == model.n_params


def test_failed_save_keeps_the_old_file(tmp_path, trained, monkeypatch):
    model, _ = trained
    path = tmp_path / "model.fmlp"
    fastmlp.save(model, path)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(model_io.container.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        fastmlp.save(fastmlp.MLP([4, 3], seed=9), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.fmlp"]


def test_save_fsyncs_file_and_directory(tmp_path, trained, monkeypatch):
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(model_io.container.os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd)))
    fastmlp.save(trained[0], tmp_path / "m")
    assert len(calls) == 2


# --------------------------------------------------------------- bad files

def _load_bytes(tmp_path, blob):
    path = tmp_path / "bad.fmlp"
    path.write_bytes(blob)
    return fastmlp.load(path)


def _repack(header, data):
    """A file with the given header and data and correct checksums."""
    return model_io.assemble(header, data)


@pytest.mark.parametrize("cut", [0, 5, 23, 24, 100, -1, -50])
def test_truncated_file(tmp_path, trained, cut):
    blob = model_io.dumps(trained[0])
    with pytest.raises(fastmlp.ModelFileError, match="truncated|expected at least|not valid"):
        _load_bytes(tmp_path, blob[:cut])


def test_trailing_bytes(tmp_path, trained):
    blob = model_io.dumps(trained[0])
    with pytest.raises(ValueError, match="trailing bytes"):
        _load_bytes(tmp_path, blob + b"\0" * 8)


def test_wrong_magic(tmp_path, trained):
    blob = model_io.dumps(trained[0])
    with pytest.raises(ValueError, match="not a fastmlp model file: expected magic"):
        _load_bytes(tmp_path, b"PK\x03\x04" + blob[4:])


def test_newer_format_version(tmp_path, trained):
    blob = bytearray(model_io.dumps(trained[0]))
    struct.pack_into("<I", blob, 8, model_io.FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match="format version 2 is newer.*upgrade fastmlp"):
        _load_bytes(tmp_path, bytes(blob))


def test_oversized_header_is_refused_before_reading(tmp_path, monkeypatch):
    blob = model_io.PREAMBLE.pack(model_io.MAGIC, 1, model_io.MAX_HEADER_BYTES + 1, 0, 0)
    with pytest.raises(ValueError, match="exceeds the 16777216-byte limit"):
        _load_bytes(tmp_path, blob + b"{}")


def test_flipped_bit_in_weights_is_detected(tmp_path, trained):
    blob = bytearray(model_io.dumps(trained[0]))
    blob[-5] ^= 0x10
    with pytest.raises(ValueError, match="data checksum mismatch"):
        _load_bytes(tmp_path, bytes(blob))


def test_flipped_bit_in_header_is_detected(tmp_path, trained):
    blob = bytearray(model_io.dumps(trained[0]))
    blob[40] ^= 0x01
    with pytest.raises(ValueError, match="header checksum mismatch"):
        _load_bytes(tmp_path, bytes(blob))


def _tamper(trained, edit):
    header, data = _split(model_io.dumps(trained[0]))
    edit(header)
    return _repack(header, data)


TAMPERINGS = {
    "root not an object": (lambda h: h.update(root=[1]), "'root' must be an object"),
    "unknown kind": (lambda h: h["root"].update(kind="os.system"), "unknown model kind 'os.system'"),
    "negative offset": (lambda h: h["arrays"]["params"].update(offset=-4), "outside"),
    "offset past end": (lambda h: h["arrays"]["params"].update(offset=10**6), "outside"),
    "overlap": (lambda h: h["arrays"]["normalizer_scale"].update(
        offset=h["arrays"]["normalizer_offset"]["offset"]), "overlap"),
    "unknown dtype": (lambda h: h["arrays"]["params"].update(dtype="|O"), "unknown dtype '|O'"),
    "string offset": (lambda h: h["arrays"]["params"].update(offset="0"), "'offset' must be an integer"),
    "bool offset": (lambda h: h["arrays"]["params"].update(offset=True), "'offset' must be an integer"),
    "float shape": (lambda h: h["arrays"]["params"].update(shape=[1.5]), "shape must be"),
    "nbytes lie": (lambda h: h["arrays"]["params"].update(nbytes=4), "needs .* bytes, header says 4"),
    "huge layer sizes": (lambda h: h["root"]["config"].update(layer_sizes=[10**9, 10**9, 3]),
                         "must be <f4 of shape"),
    "layer sizes wrong type": (lambda h: h["root"]["config"].update(layer_sizes="784"),
                               "'layer_sizes' must be a list"),
    "wrong activation count": (lambda h: h["root"]["config"].update(activations=["relu"]),
                               "expected 2 activation names"),
    "unknown activation": (lambda h: h["root"]["config"].update(activations=["relu", "evil"]),
                           "invalid MLP config"),
    "loss mismatch": (lambda h: h["root"]["config"].update(loss="perceptron"), "invalid MLP config"),
    "unknown model dtype": (lambda h: h["root"]["config"].update(dtype="float16"),
                            "dtype must be 'float32' or 'float64'"),
    "dtype disagrees": (lambda h: h["root"]["config"].update(dtype="float64"), "must be <f8"),
    "missing array": (lambda h: h["root"]["arrays"].pop("normalizer_scale"),
                      "array 'normalizer_scale' is missing"),
    "orphan array": (lambda h: h["arrays"].update(extra={"dtype": "<f4", "shape": [0], "offset": 0,
                                                         "nbytes": 0}),
                     r"arrays \['extra'\] are listed in the header but belong to no model"),
    "dangling array name": (lambda h: h["root"]["arrays"].update(params="nope"), "refers to 'nope'"),
    "missing field": (lambda h: h["root"].pop("config"), "missing field 'config'"),
    "wrong format tag": (lambda h: h.update(format="other"), "'format' must be 'fastmlp'"),
    "data size lie": (lambda h: h.update(data_nbytes=h["data_nbytes"] + 64), "truncated file"),
    "seed wrong type": (lambda h: h["root"]["config"].update(seed="1"), "seed must be an integer"),
    "slope a string": (lambda h: h["root"]["config"].update(slope="0.01"), "'slope' must be a number"),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_tampered_header(tmp_path, trained, name):
    edit, message = TAMPERINGS[name]
    with pytest.raises(fastmlp.ModelFileError, match=message):
        _load_bytes(tmp_path, _tamper(trained, edit))


@pytest.mark.parametrize("text", [b"{not json", b"[1, 2]", b"\xff\xfe", b"[" * 100000,
                                  b'{"a": NaN}'])
def test_header_that_is_not_a_json_object(tmp_path, text):
    with pytest.raises(fastmlp.ModelFileError, match="header"):
        _load_bytes(tmp_path, _raw_file(text))


def _raw_file(text, data=b""):
    padding = b" " * (-(24 + len(text)) % 64)
    return model_io.PREAMBLE.pack(model_io.MAGIC, 1, len(text + padding),
                                   zlib.crc32(text + padding), zlib.crc32(data)) + text + padding + data


def test_number_overflowing_to_infinity_in_header(tmp_path, trained):
    header, data = _split(model_io.dumps(trained[0]))
    text = json.dumps(header).replace('"slope": 0.01', '"slope": 1e400').encode()
    assert b"1e400" in text
    with pytest.raises(fastmlp.ModelFileError, match="'slope' must be a number"):
        _load_bytes(tmp_path, _raw_file(text, data))


def test_non_finite_weights_are_refused(tmp_path, trained):
    header, data = _split(model_io.dumps(trained[0]))
    data = bytearray(data)
    struct.pack_into("<f", data, header["arrays"]["params"]["offset"], float("nan"))
    with pytest.raises(ValueError, match="NaN or infinity"):
        _load_bytes(tmp_path, _repack(header, bytes(data)))


def test_error_names_the_file(tmp_path):
    with pytest.raises(ValueError, match="bad.fmlp"):
        _load_bytes(tmp_path, b"garbage" * 10)


# --------------------------------------------------------------- estimators

def _estimator_cases():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    labels = np.array(["cat", "dog", "emu"])[np.arange(60) % 3]
    return X, [
        (fastmlp.MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, normalize="zscore",
                               random_state=0), labels),
        (fastmlp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, early_stopping=True,
                               class_weight={"cat": 2.0, "dog": 1.0, "emu": 1.0},
                               random_state=1), labels),
        (fastmlp.MLPRegressor(hidden_layer_sizes=(5, 3), max_iter=5, random_state=0), X[:, 0]),
        (fastmlp.LogisticRegression(), np.arange(60) % 3),
        (fastmlp.Perceptron(), labels == "cat"),
    ]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("case", range(5))
def test_estimators_round_trip(tmp_path, case):
    X, cases = _estimator_cases()
    estimator, y = cases[case]
    estimator.fit(X, y)
    fastmlp.save(estimator, tmp_path / "e.fmlp")
    loaded = fastmlp.load(tmp_path / "e.fmlp")
    assert type(loaded) is type(estimator)
    assert loaded.get_params() == estimator.get_params()
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    if hasattr(estimator, "predict_proba"):
        assert loaded.predict_proba(X).tobytes() == estimator.predict_proba(X).tobytes()
    if hasattr(estimator, "classes_"):
        np.testing.assert_array_equal(loaded.classes_, estimator.classes_)
        assert loaded.classes_.dtype == estimator.classes_.dtype
    for a, b in zip(loaded.coefs_, estimator.coefs_):
        np.testing.assert_array_equal(a, b)
    loaded.fit(X, y)  # and it trains on


def _estimator_blob():
    X, cases = _estimator_cases()
    estimator, y = cases[0]
    with pytest.warns(Warning):
        estimator.fit(X, y)
    return model_io.dumps(estimator)


@pytest.mark.parametrize("edit, message", [
    (lambda h: h["root"]["attributes"].update(predict="x"), "attribute 'predict' cannot be restored"),
    (lambda h: h["root"]["attributes"].update(__class__="x"), "attribute '__class__' cannot be restored"),
    (lambda h: h["root"]["attributes"].update(n_iter_={"__eval__": "1"}), "unknown value tag '__eval__'"),
    (lambda h: h["root"]["attributes"].update(n_iter_={"__float__": "1e999"}), "__float__ must be"),
    (lambda h: h["root"]["config"].update(bogus=1), "parameters must be"),
    (lambda h: h["root"].pop("model"), "needs a nested MLP record"),
    (lambda h: h["root"]["attributes"]["classes_"].update(shape=[7]), r"shape \[7\] does not hold 3 items"),
])
def test_tampered_estimator_records(tmp_path, edit, message):
    header, data = _split(_estimator_blob())
    edit(header)
    if "model" not in header["root"]:
        header["arrays"] = {k: v for k, v in header["arrays"].items() if not k.startswith("model.")}
    with pytest.raises(fastmlp.ModelFileError, match=message):
        _load_bytes(tmp_path, _repack(header, data))


def test_unfitted_estimator_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not fitted yet"):
        fastmlp.save(fastmlp.MLPClassifier(), tmp_path / "e.fmlp")

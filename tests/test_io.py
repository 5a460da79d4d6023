"""fastmlp.save / fastmlp.load: round trips, the container on its own, atomic writes,
every kind of bad file, and the attributes each estimator kind saves."""

import json
import os
import struct
import zlib

import numpy as np
import pytest

import fastmlp
from fastmlp import io as model_io
from fastmlp.io import container
from fastmlp.io.saved_attributes import OLD_FILE_ATTRIBUTES, RESET_ON_LOAD, SAVED_ATTRIBUTES


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
    _, _, header_bytes, _, _ = container.PREAMBLE.unpack(blob[:24])
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


# --------------------------------------------------------------- the container alone

def test_container_round_trips_content_it_knows_nothing_about():
    arrays = {"a": np.arange(5, dtype=np.int64), "b": np.ones((2, 3), dtype=np.float32),
              "c": np.array([], dtype=np.float64)}
    blob = container.pack({"anything": {"x": [1, "two"]}}, arrays)
    assert blob[:8] == container.MAGIC
    header, read = container.unpack(blob)
    assert header["anything"] == {"x": [1, "two"]}
    assert set(read) == set(arrays)
    for name, array in arrays.items():
        assert read[name].dtype == array.dtype.newbyteorder("<")
        np.testing.assert_array_equal(read[name], array)
        assert not read[name].flags.writeable  # views into the file's bytes
        assert header["arrays"][name]["offset"] % container.ARRAY_ALIGNMENT == 0
    assert (container.PREAMBLE.size + container.PREAMBLE.unpack(blob[:24])[2]) % 64 == 0


def test_container_stores_big_endian_arrays_little_endian():
    blob = container.pack({}, {"x": np.arange(3, dtype=">f8")})
    _, read = container.unpack(blob)
    assert read["x"].dtype.str == "<f8" and read["x"].tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("content, arrays, error, message", [
    ({"arrays": {}}, {}, ValueError, r"fields \['arrays'\] belong to the container"),
    ({}, {"x": np.zeros(2, dtype=np.int32)}, TypeError, "expected float32, float64 or int64"),
    ({}, {"x": np.array(["a"])}, TypeError, "has dtype <U1"),
])
def test_container_refuses_what_it_cannot_write(content, arrays, error, message):
    with pytest.raises(error, match=message):
        container.pack(content, arrays)


def test_header_nesting_is_limited():
    deep = json.loads("[" * (container.MAX_HEADER_DEPTH + 1) + "]" * (container.MAX_HEADER_DEPTH + 1))
    blob = container.assemble({"format": "fastmlp", "arrays": {}, "data_nbytes": 0, "x": deep}, b"")
    with pytest.raises(fastmlp.ModelFileError, match="nests values too deeply: more than 64"):
        container.unpack(blob)
    ok = json.loads("[" * 60 + "]" * 60)
    header, _ = container.unpack(
        container.assemble({"format": "fastmlp", "arrays": {}, "data_nbytes": 0, "x": ok}, b""))
    assert header["x"] == ok


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

    monkeypatch.setattr(container.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        fastmlp.save(fastmlp.MLP([4, 3], seed=9), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.fmlp"]


def test_save_fsyncs_file_and_directory(tmp_path, trained, monkeypatch):
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(container.os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd)))
    fastmlp.save(trained[0], tmp_path / "m")
    assert len(calls) == 2


def test_saved_file_mode_follows_the_umask(tmp_path, trained):
    previous = os.umask(0o027)
    try:
        fastmlp.save(trained[0], tmp_path / "m")
    finally:
        os.umask(previous)
    assert (tmp_path / "m").stat().st_mode & 0o777 == 0o640


# --------------------------------------------------------------- bad files

def _load_bytes(tmp_path, blob):
    path = tmp_path / "bad.fmlp"
    path.write_bytes(blob)
    return fastmlp.load(path)


def _repack(header, data):
    """A file with the given header and data and correct checksums."""
    return container.assemble(header, data)


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
    struct.pack_into("<I", blob, 8, container.FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match="format version 2 is newer.*upgrade fastmlp"):
        _load_bytes(tmp_path, bytes(blob))


def test_oversized_header_is_refused_before_reading(tmp_path, monkeypatch):
    blob = container.PREAMBLE.pack(container.MAGIC, 1, container.MAX_HEADER_BYTES + 1, 0, 0)
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
    "attributes on an MLP": (lambda h: h["root"]["attributes"].update(history_={}),
                             "an MLP record has no attributes"),
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
    return container.PREAMBLE.pack(container.MAGIC, 1, len(text + padding),
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
    (lambda h: h["root"]["attributes"].update(_scratch=1), "attribute '_scratch' cannot be restored"),
    (lambda h: h.update(root={"kind": "MLP", "config": h["root"]["model"]["config"], "attributes": {},
                              "arrays": {}, "model": h["root"]["model"]}),
     "an MLP record holds no nested model"),
    (lambda h: h["root"]["attributes"].update(
        feature_names_in_={"__list_array__": ["a"], "shape": [1], "dtype": "object"}),
     "feature_names_in_ names 1 features, but the saved network has 4 inputs"),
    (lambda h: h["root"]["attributes"].pop("_rng"), r"needs the attributes \['_rng'\]"),
    (lambda h: h["root"]["attributes"].update(n_iter_="5"), "'n_iter_' must be a non-negative integer"),
    (lambda h: h["root"]["attributes"].update(t_=True), "'t_' must be a non-negative integer"),
    (lambda h: h["root"]["attributes"].update(loss_curve_=[1.0, "x"]), "must be a list of numbers"),
    (lambda h: h["root"]["attributes"].update(_rng=7), "'_rng' must be a numpy Generator"),
    (lambda h: h["root"]["attributes"].update(n_features_in_=9),
     "'n_features_in_' is 9, but the saved network has 4"),
    (lambda h: h["root"]["attributes"].update(n_outputs_=1), "'n_outputs_' is 1"),
    (lambda h: h["root"]["attributes"]["classes_"].update(__list_array__=["cat", "dog", "yak"]),
     "classes_ and the label binarizer's classes differ"),
    (lambda h: h["root"]["attributes"]["_label_binarizer"]["__label_binarizer__"].pop("y_type_"),
     "a label binarizer needs exactly"),
])
def test_tampered_estimator_records(tmp_path, edit, message):
    header, data = _split(_estimator_blob())
    edit(header)
    if "model" not in header["root"]:
        header["arrays"] = {k: v for k, v in header["arrays"].items() if not k.startswith("model.")}
    with pytest.raises(fastmlp.ModelFileError, match=message):
        _load_bytes(tmp_path, _repack(header, data))


def test_public_names_keep_working():
    assert fastmlp.save is model_io.save and fastmlp.load is model_io.load
    assert fastmlp.ModelFileError is model_io.ModelFileError
    assert issubclass(model_io.ModelFileError, ValueError)
    assert model_io.FORMAT_VERSION == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_weights_the_user_replaced_are_what_the_file_holds():
    X, cases = _estimator_cases()
    estimator, y = cases[0]
    estimator.fit(X, y)
    replaced = np.full_like(estimator.coefs_[0], 0.25)
    estimator.coefs_[0] = replaced
    loaded = model_io.loads(model_io.dumps(estimator))
    np.testing.assert_array_equal(loaded.coefs_[0], replaced)
    np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))


def test_unfitted_estimator_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not fitted yet"):
        fastmlp.save(fastmlp.MLPClassifier(), tmp_path / "e.fmlp")


def _attributes_in_file(blob):
    return set(_split(blob)[0]["root"]["attributes"])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("case", range(5))
def test_an_estimator_file_holds_exactly_its_kinds_listed_attributes(case):
    X, cases = _estimator_cases()
    estimator, y = cases[case]
    estimator.fit(X, y)
    estimator._not_on_any_list = 1
    estimator.something_fitted_ = 2
    kind = type(estimator).__name__
    listed = {entry.name for entry in SAVED_ATTRIBUTES[kind]}
    required = {entry.name for entry in SAVED_ATTRIBUTES[kind] if entry.required}
    blob = model_io.dumps(estimator)
    held = _attributes_in_file(blob)
    assert required | set(RESET_ON_LOAD) <= held <= listed | set(RESET_ON_LOAD)
    # Whatever the estimator has of its list is saved, and nothing else of it.
    assert held - set(RESET_ON_LOAD) == listed & set(vars(estimator))
    loaded = model_io.loads(blob)
    assert not hasattr(loaded, "_not_on_any_list") and not hasattr(loaded, "something_fitted_")
    for name in held - set(RESET_ON_LOAD) - {"_rng", "_label_binarizer"}:
        expected, got = getattr(estimator, name), getattr(loaded, name)
        if isinstance(expected, np.ndarray):
            np.testing.assert_array_equal(got, expected)
        else:
            assert got == expected or (expected != expected and got != got), name
    assert loaded._rng.bit_generator.state == estimator._rng.bit_generator.state


def test_every_kind_has_a_list_and_no_list_names_a_derived_attribute():
    assert set(SAVED_ATTRIBUTES) == {"MLPClassifier", "MLPRegressor", "LogisticRegression",
                                     "Perceptron"}
    for kind, entries in SAVED_ATTRIBUTES.items():
        names = [entry.name for entry in entries]
        assert len(names) == len(set(names)), kind
        # Views of the weights are rebuilt from the MLP, never stored twice.
        assert not {"coefs_", "intercepts_", "coef_", "intercept_", "_model"} & set(names), kind
        assert not (set(names) & OLD_FILE_ATTRIBUTES), kind


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("case", range(5))
def test_warm_start_after_loading_trains_exactly_as_without_the_round_trip(case):
    X, cases = _estimator_cases()
    estimator, y = cases[case]
    estimator.set_params(warm_start=True)
    estimator.fit(X, y)
    loaded = model_io.loads(model_io.dumps(estimator))
    estimator.fit(X, y)
    loaded.fit(X, y)
    for a, b in zip(loaded.coefs_ + loaded.intercepts_, estimator.coefs_ + estimator.intercepts_):
        assert a.tobytes() == b.tobytes()
    assert loaded.n_iter_ == estimator.n_iter_ and loaded.t_ == estimator.t_
    assert getattr(loaded, "loss_curve_", None) == getattr(estimator, "loss_curve_", None)


def test_partial_fit_after_loading_continues_the_counts():
    X, cases = _estimator_cases()
    estimator, y = cases[0]
    estimator.partial_fit(X, y, classes=np.unique(y))
    loaded = model_io.loads(model_io.dumps(estimator))
    loaded.partial_fit(X, y)
    assert loaded.t_ == 2 * len(X)
    assert len(loaded.loss_curve_) == 2
    assert loaded.loss_curve_[0] == estimator.loss_curve_[0]


def test_feature_names_are_saved():
    pandas = pytest.importorskip("pandas")
    X, cases = _estimator_cases()
    frame = pandas.DataFrame(X, columns=["a", "b", "c", "d"])
    estimator = fastmlp.LogisticRegression().fit(frame, np.arange(60) % 3)
    loaded = model_io.loads(model_io.dumps(estimator))
    assert loaded.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(loaded.predict(frame), estimator.predict(frame))


def test_feature_names_in_a_file_are_restored():
    header, data = _split(_estimator_blob())
    header["root"]["attributes"]["feature_names_in_"] = {
        "__list_array__": ["a", "b", "c", "d"], "shape": [4], "dtype": "object"}
    loaded = model_io.loads(_repack(header, data))
    assert loaded.feature_names_in_.dtype == object
    assert loaded.feature_names_in_.tolist() == ["a", "b", "c", "d"]


def test_a_parameter_the_file_does_not_name_keeps_its_default():
    # So a file from before a parameter existed still loads.
    header, data = _split(_estimator_blob())
    del header["root"]["config"]["n_threads"], header["root"]["config"]["alpha"]
    loaded = model_io.loads(_repack(header, data))
    assert loaded.n_threads is None and loaded.alpha == fastmlp.MLPClassifier().alpha


def test_attributes_of_old_files_are_accepted_and_dropped():
    header, data = _split(_estimator_blob())
    header["root"]["attributes"].update(_learning_rate_=0.5, _has_eval_set=False,
                                        _uses_validation_now=False, _optimizer_ready=True)
    loaded = model_io.loads(_repack(header, data))
    assert not hasattr(loaded, "_learning_rate_") and not hasattr(loaded, "_has_eval_set")
    assert loaded._optimizer_ready is False  # the file holds no optimizer state

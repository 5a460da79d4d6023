"""ONNX export: onnxruntime computes what fastmlp computes."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
skl2onnx = pytest.importorskip("skl2onnx")

from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

import fastmlp  # noqa: E402
import fastmlp.onnx  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)
HIDDEN = ["identity", "step", "sigmoid", "tanh", "relu", "leaky_relu", "softplus"]
DTYPES = ["float32", "float64"]


def run(onnx_model, X):
    """{output name: value} from onnxruntime."""
    session = ort.InferenceSession(onnx_model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X})))


def data(n=80, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.array([1.0, 3.0, 0.5, 10.0, 2.0])[:d] + 1.5


def quiet_fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def spread_weights(model, seed=1):
    """Non-zero biases and weights large enough that every activation is exercised."""
    rng = np.random.default_rng(seed)
    for W, b in zip(model.W, model.b):
        W[...] = rng.normal(scale=0.8, size=W.shape)
        b[...] = rng.normal(scale=0.5, size=b.shape)
    return model


# ---------------------------------------------------------------- the model API
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_mlp_every_hidden_activation(activation, dtype):
    X = data()
    model = spread_weights(fastmlp.MLP([5, 7, 6, 3], activation, "softmax", slope=0.2,
                                       normalize="zscore", seed=0, dtype=dtype))
    model.normalizer.fit(X)
    onnx_model = fastmlp.to_onnx(model, X[:1].astype(dtype))
    got = run(onnx_model, X.astype(dtype))
    assert [o.name for o in onnx_model.graph.output] == ["label", "output"]
    assert got["output"].dtype == np.dtype(dtype)
    np.testing.assert_allclose(got["output"], model.forward(X), **TOL)
    np.testing.assert_array_equal(got["label"], model.predict(X))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, n_outputs", [("softmax", 4), ("sigmoid", 1), ("sigmoid", 3),
                                               ("identity", 2), ("relu", 2), ("step", 1),
                                               ("step", 3), ("tanh", 1), ("leaky_relu", 2),
                                               ("softplus", 2)])
def test_mlp_every_output(output, n_outputs, dtype):
    X = data()
    model = spread_weights(fastmlp.MLP([5, 6, n_outputs], "tanh", output, slope=0.1, seed=2,
                                       dtype=dtype))
    got = run(fastmlp.to_onnx(model, X[:1]), X)
    np.testing.assert_allclose(got["output"], model.forward(X), **TOL)
    if model.loss_name == "squared_error":
        assert "label" not in got
    else:
        np.testing.assert_array_equal(got["label"], model.predict(X))
        assert got["label"].dtype == np.int64


def test_mlp_single_layer_and_regression_loss_on_a_sigmoid():
    X = data()
    model = spread_weights(fastmlp.MLP([5, 2], output="sigmoid", loss="squared_error", seed=0))
    got = run(fastmlp.to_onnx(model, X[:1]), X)
    assert list(got) == ["output"]
    np.testing.assert_allclose(got["output"], model.predict(X), **TOL)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalize", [None, "zscore", "minmax"])
def test_mlp_normalization_after_training(normalize, dtype):
    X = data(120)
    y = (X[:, 0] + X[:, 3] / 10 > 1.5).astype(int) + (X[:, 1] > 1.5)
    model = fastmlp.MLP([5, 8, 3], "relu", normalize=normalize, seed=0, dtype=dtype)
    model.fit(X, y, epochs=3, optimizer="adam", learning_rate=0.01)
    for sample_dtype in (np.float32, np.float64):
        got = run(fastmlp.to_onnx(model, X[:1].astype(sample_dtype)), X.astype(sample_dtype))
        np.testing.assert_allclose(got["output"], model.forward(X.astype(sample_dtype)), **TOL)
        np.testing.assert_array_equal(got["label"], model.predict(X.astype(sample_dtype)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_uint8_images_with_minmax_scaling(dtype):
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, size=(64, 12), dtype=np.uint8)
    X[:, 0] = 7  # a constant pixel: scale 1
    model = fastmlp.MLP([12, 9, 4], "relu", normalize="minmax", seed=0, dtype=dtype)
    model.fit(X, rng.integers(0, 4, 64), epochs=2)
    onnx_model = fastmlp.to_onnx(model, X[:1])
    assert onnx_model.graph.input[0].type.tensor_type.elem_type == 2  # UINT8
    got = run(onnx_model, X)
    np.testing.assert_allclose(got["output"], model.forward(X), **TOL)
    np.testing.assert_array_equal(got["label"], model.predict(X))


def test_mlp_integer_input():
    X = np.random.default_rng(4).integers(-50, 50, size=(40, 5)).astype(np.int64)
    model = fastmlp.MLP([5, 4, 2], "sigmoid", "identity", normalize="zscore", seed=0)
    model.fit(X, X[:, :2] / 50.0, epochs=1)
    got = run(fastmlp.to_onnx(model, X[:1]), X)
    np.testing.assert_allclose(got["output"], model.forward(X), **TOL)


def test_mlp_leaky_relu_slope_is_kept():
    X = data() - 3.0  # mostly negative pre-activations
    outs = []
    for slope in (0.01, 0.3):
        model = spread_weights(fastmlp.MLP([5, 4, 1], "leaky_relu", "identity", slope=slope,
                                           seed=0))
        got = run(fastmlp.to_onnx(model, X[:1]), X)["output"]
        np.testing.assert_allclose(got, model.forward(X), **TOL)
        outs.append(got)
    assert not np.allclose(outs[0], outs[1])


def test_softplus_large_inputs_stay_finite():
    X = data() * 100
    for dtype in DTYPES:
        model = spread_weights(fastmlp.MLP([5, 4, 2], "softplus", "softplus", seed=0,
                                           dtype=dtype))
        got = run(fastmlp.to_onnx(model, X[:1].astype(dtype)), X.astype(dtype))["output"]
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, model.forward(X), **TOL)


# ---------------------------------------------------------------- the estimators
def _labels(kind, n, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "binary_int":
        return rng.integers(0, 2, n) * 3 - 1  # -1 / 2
    if kind == "binary_str":
        return np.array(["no", "yes"])[rng.integers(0, 2, n)]
    if kind == "binary_bool":
        return rng.integers(0, 2, n).astype(bool)
    if kind == "multi_str":
        return np.array(["cat", "dog", "emu", "yak"])[rng.integers(0, 4, n)]
    if kind == "multi_int":
        return rng.integers(0, 3, n) + 10
    if kind == "multi_float":
        return rng.integers(0, 3, n).astype(float)
    if kind == "multilabel":
        return rng.integers(0, 2, size=(n, 3))
    raise AssertionError(kind)


def check_classifier(estimator, X, onnx_model, input_dtype=np.float32):
    got = run(onnx_model, X.astype(input_dtype))
    assert list(got) == ["label", "probabilities"]
    expected = estimator.predict(X.astype(input_dtype))
    np.testing.assert_array_equal(got["label"], expected)
    if expected.dtype.kind in "US":
        assert got["label"].dtype == object
    else:
        assert got["label"].dtype == np.int64
    assert got["probabilities"].dtype == np.float32
    np.testing.assert_allclose(got["probabilities"],
                               estimator.predict_proba(X.astype(input_dtype)), **TOL)


@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["binary_int", "binary_str", "binary_bool", "multi_str",
                                  "multi_int", "multi_float", "multilabel"])
def test_mlp_classifier_targets(kind, input_dtype):
    X = data(90)
    y = _labels(kind, 90)
    clf = quiet_fit(fastmlp.MLPClassifier((6,), max_iter=30, random_state=0,
                                          normalize="zscore"), X, y)
    onnx_model = fastmlp.to_onnx(clf, X[:1].astype(input_dtype), options={"zipmap": False})
    check_classifier(clf, X, onnx_model, input_dtype)


@pytest.mark.parametrize("activation", ["identity", "logistic", "sigmoid", "tanh", "relu",
                                        "leaky_relu", "softplus"])
def test_mlp_classifier_every_activation(activation):
    X = data(90)
    y = _labels("multi_str", 90)
    clf = quiet_fit(fastmlp.MLPClassifier((7, 5), activation=activation, max_iter=40,
                                          random_state=1, learning_rate_init=0.02), X, y)
    check_classifier(clf, X, fastmlp.to_onnx(clf, X[:1].astype(np.float32),
                                             options={"zipmap": False}))


@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["binary_str", "multi_int", "multilabel"])
@pytest.mark.parametrize("normalize", [None, "minmax"])
def test_logistic_regression(kind, normalize, input_dtype):
    X = data(90)
    clf = quiet_fit(fastmlp.LogisticRegression(normalize=normalize), X, _labels(kind, 90))
    onnx_model = fastmlp.to_onnx(clf, X[:1].astype(input_dtype), options={"zipmap": False})
    check_classifier(clf, X, onnx_model, input_dtype)


@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["binary_str", "binary_int", "multi_str"])
def test_perceptron_label_only(kind, input_dtype):
    X = data(90)
    clf = quiet_fit(fastmlp.Perceptron(normalize="zscore", max_iter=20), X, _labels(kind, 90))
    onnx_model = fastmlp.to_onnx(clf, X[:1].astype(input_dtype))
    got = run(onnx_model, X.astype(input_dtype))
    assert list(got) == ["label"]
    np.testing.assert_array_equal(got["label"], clf.predict(X.astype(input_dtype)))
    # the decision is z > 0 (or argmax z), so the labels are not all one class
    assert len(np.unique(got["label"])) > 1


@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("out_activation", ["identity", "relu", "sigmoid", "logistic", "tanh",
                                            "leaky_relu", "softplus"])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_mlp_regressor(out_activation, n_targets, input_dtype):
    X = data(90)
    Y = np.column_stack([np.tanh(X[:, 0] - 1.5), np.abs(X[:, 1]) / 3, X[:, 2]])[:, :n_targets]
    y = Y[:, 0] if n_targets == 1 else Y
    reg = quiet_fit(fastmlp.MLPRegressor(hidden_layer_sizes=(6,), activation="tanh",
                                         out_activation=out_activation, max_iter=30,
                                         random_state=0, normalize="zscore"), X, y)
    got = run(fastmlp.to_onnx(reg, X[:1].astype(input_dtype)), X.astype(input_dtype))
    assert list(got) == ["variable"]
    assert got["variable"].shape == (90, n_targets)
    expected = reg.predict(X.astype(input_dtype)).reshape(90, n_targets)
    np.testing.assert_allclose(got["variable"], expected, **TOL)


@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_poisson_regressor_and_model(n_targets, dtype):
    """The exp output of loss='poisson' (an estimator) and of MLP(output='exp')."""
    X = data(90)
    rng = np.random.default_rng(3)
    Y = rng.poisson(np.exp(0.2 * X[:, :n_targets] - 0.3)).astype(np.float64)
    y = Y[:, 0] if n_targets == 1 else Y
    reg = quiet_fit(fastmlp.MLPRegressor(loss="poisson", hidden_layer_sizes=(5,), max_iter=30,
                                         random_state=0, normalize="zscore"), X, y)
    got = run(fastmlp.to_onnx(reg, X[:1].astype(dtype)), X.astype(dtype))["variable"]
    np.testing.assert_allclose(got, reg.predict(X).reshape(90, n_targets), **TOL)
    model = fastmlp.MLP([5, 4, n_targets], activation="relu", output="exp", dtype=dtype,
                        normalize="minmax", seed=0).fit(X, Y, epochs=3, learning_rate=0.001)
    got = run(fastmlp.to_onnx(model, X[:1].astype(dtype)), X.astype(dtype))["output"]
    np.testing.assert_allclose(got, model.predict_proba(X), **TOL)


def test_replaced_coefs_are_exported():
    X = data(60)
    reg = quiet_fit(fastmlp.MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0),
                    X, X[:, 0])
    reg.coefs_ = [c * 2.0 for c in reg.coefs_]
    got = run(fastmlp.to_onnx(reg, X[:1]), X)["variable"]
    np.testing.assert_allclose(got.ravel(), reg.predict(X), **TOL)


# ---------------------------------------------------------------- options and skl2onnx
@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["binary_int", "multi_str"])
def test_zipmap_options(kind, input_dtype):
    X = data(90).astype(input_dtype)
    clf = quiet_fit(fastmlp.MLPClassifier((6,), max_iter=30, random_state=0), X,
                    _labels(kind, 90))
    proba, labels = clf.predict_proba(X), clf.predict(X)

    zipped = run(skl2onnx.to_onnx(clf, X[:1]), X)  # zipmap=True is skl2onnx's default
    assert list(zipped) == ["output_label", "output_probability"]
    np.testing.assert_array_equal(zipped["output_label"], labels)
    assert len(zipped["output_probability"]) == len(X)
    for row, p in zip(zipped["output_probability"], proba):
        assert list(row) == list(clf.classes_)
        np.testing.assert_allclose([row[c] for c in clf.classes_], p, **TOL)

    columns = run(fastmlp.to_onnx(clf, X[:1], options={"zipmap": "columns"}), X)
    assert next(iter(columns)) == "output_label"
    np.testing.assert_array_equal(columns["output_label"], labels)
    prefix = "s" if kind == "multi_str" else "i"
    for j, c in enumerate(clf.classes_):
        np.testing.assert_allclose(columns[f"{prefix}{c}"], proba[:, j], **TOL)

    with_classes = run(fastmlp.to_onnx(clf, X[:1], options={"zipmap": False,
                                                           "output_class_labels": True}), X)
    assert list(with_classes) == ["label", "probabilities", "class_labels"]
    np.testing.assert_array_equal(with_classes["class_labels"], clf.classes_)


def test_skl2onnx_options_by_id_in_a_pipeline():
    X = data(90)
    clf = fastmlp.LogisticRegression()
    pipe = make_pipeline(MinMaxScaler(), clf).fit(X, _labels("multi_str", 90))
    onnx_model = skl2onnx.to_onnx(pipe, X[:1], options={id(clf): {"zipmap": False}})
    got = run(onnx_model, X)
    np.testing.assert_array_equal(got["label"], pipe.predict(X))
    np.testing.assert_allclose(got["probabilities"], pipe.predict_proba(X), **TOL)


@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
def test_pipeline_scaler_and_mlp_classifier(input_dtype):
    X = data(120).astype(input_dtype)
    y = _labels("multi_str", 120)
    pipe = quiet_fit(make_pipeline(StandardScaler(),
                                   fastmlp.MLPClassifier((8,), max_iter=40, random_state=0)),
                     X, y)
    got = run(skl2onnx.to_onnx(pipe, X[:1], options={"zipmap": False}), X)
    np.testing.assert_array_equal(got["label"], pipe.predict(X))
    np.testing.assert_allclose(got["probabilities"], pipe.predict_proba(X), **TOL)


@pytest.mark.parametrize("final", ["regressor", "perceptron", "logistic_multilabel"])
def test_pipeline_other_estimators(final):
    X = data(90)
    if final == "regressor":
        step, y = fastmlp.MLPRegressor(hidden_layer_sizes=(5,), max_iter=20, random_state=0), \
            X[:, :2]
    elif final == "perceptron":
        step, y = fastmlp.Perceptron(), _labels("multi_str", 90)
    else:
        step, y = fastmlp.LogisticRegression(), _labels("multilabel", 90)
    pipe = quiet_fit(make_pipeline(StandardScaler(), step), X, y)
    options = {id(step): {"zipmap": False}} if final == "logistic_multilabel" else None
    got = run(skl2onnx.to_onnx(pipe, X[:1], options=options), X)
    if final == "regressor":
        np.testing.assert_allclose(got["variable"], pipe.predict(X), **TOL)
    else:
        np.testing.assert_array_equal(got["label"], pipe.predict(X))
    if final == "logistic_multilabel":
        np.testing.assert_allclose(got["probabilities"], pipe.predict_proba(X), **TOL)


def test_skl2onnx_fails_without_the_registration_and_works_after():
    out = _python("""
        import numpy as np, skl2onnx, fastmlp
        X = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
        clf = fastmlp.MLPClassifier((4,), max_iter=3).fit(X, X[:, 0] > 0)
        try:
            skl2onnx.to_onnx(clf, X[:1])
        except Exception as error:
            print("> before:", type(error).__name__)
        import fastmlp.onnx
        print("> after:", [o.name for o in skl2onnx.to_onnx(clf, X[:1]).graph.output])
    """)
    assert out == ["before: MissingShapeCalculator",
                   "after: ['output_label', 'output_probability']"]


# ---------------------------------------------------------------- bad input
def test_unfitted_estimators_are_refused():
    X = data(10)
    for cls in (fastmlp.MLPClassifier, fastmlp.MLPRegressor, fastmlp.LogisticRegression,
                fastmlp.Perceptron):
        with pytest.raises(NotFittedError, match=f"{cls.__name__} is not fitted yet"):
            fastmlp.to_onnx(cls(), X[:1])
        with pytest.raises(NotFittedError, match="not fitted yet"):
            skl2onnx.to_onnx(cls(), X[:1].astype(np.float32))


def test_unfitted_normalization_is_refused():
    model = fastmlp.MLP([5, 3], normalize="zscore")
    with pytest.raises(NotFittedError, match="zscore normalization is not fitted"):
        fastmlp.to_onnx(model, data(2))


def test_wrong_width_is_refused():
    X = data(40)
    model = fastmlp.MLP([5, 3, 2])
    with pytest.raises(ValueError, match="X_sample has 4 features, but the MLP expects 5"):
        fastmlp.to_onnx(model, X[:1, :4])
    clf = quiet_fit(fastmlp.LogisticRegression(), X, _labels("binary_int", 40))
    with pytest.raises(ValueError, match="LogisticRegression expects 5"):
        fastmlp.to_onnx(clf, X[:1, :3])
    with pytest.raises(ValueError, match="has 3 features, but the estimator expects 5"):
        skl2onnx.to_onnx(clf, X[:1, :3].astype(np.float32))
    with pytest.raises(ValueError, match="2-D array"):
        fastmlp.to_onnx(model, X[0])
    with pytest.raises(TypeError, match="complex128"):
        fastmlp.to_onnx(model, X[:1].astype(complex))


def test_unknown_model_kind_and_activation_are_refused():
    with pytest.raises(TypeError, match="got StandardScaler"):
        fastmlp.to_onnx(StandardScaler().fit(data(5)), data(1))
    model = fastmlp.MLP([5, 3, 2], "relu", "identity")
    model.activations = ["swish", "identity"]  # a name the exporter has no row for
    with pytest.raises(ValueError, match="hidden layer 1 has activation 'swish'"):
        fastmlp.to_onnx(model, data(1))
    model.activations = ["relu", "softmax_2d"]
    with pytest.raises(ValueError, match="output activation 'softmax_2d'"):
        fastmlp.to_onnx(model, data(1))
    reg = quiet_fit(fastmlp.MLPRegressor(hidden_layer_sizes=(3,), max_iter=2), data(20),
                    data(20)[:, 0])
    reg.out_activation_ = "cube"  # an output the exporter has no row for
    with pytest.raises(ValueError, match="MLPRegressor: the output activation 'cube' has no"):
        fastmlp.to_onnx(reg, data(1))
    with pytest.raises(ValueError, match="options apply to the estimators"):
        fastmlp.to_onnx(fastmlp.MLP([5, 2]), data(1), options={"zipmap": False})


def test_single_class_classifier_is_refused():
    X = data(20)
    clf = quiet_fit(fastmlp.MLPClassifier((3,), max_iter=3), X, np.zeros(20))
    with pytest.raises(ValueError, match=r"fitted on a single class \[0.0\]; ONNX export needs"):
        fastmlp.to_onnx(clf, X[:1])


def test_nocl_gives_class_indices():
    X = data(90)
    y = _labels("multi_str", 90)
    clf = quiet_fit(fastmlp.MLPClassifier((6,), max_iter=30, random_state=0), X, y)
    got = run(fastmlp.to_onnx(clf, X[:1], options={"zipmap": False, "nocl": True}), X)
    np.testing.assert_array_equal(clf.classes_[got["label"]], clf.predict(X))
    perceptron = quiet_fit(fastmlp.Perceptron(), X, y)
    got = run(fastmlp.to_onnx(perceptron, X[:1], options={"nocl": True}), X)
    np.testing.assert_array_equal(perceptron.classes_[got["label"]], perceptron.predict(X))


def test_unknown_options_are_refused():
    X = data(40)
    clf = quiet_fit(fastmlp.Perceptron(), X, _labels("binary_int", 40))
    with pytest.raises(NameError, match="raw_scores"):
        fastmlp.to_onnx(clf, X[:1], options={"raw_scores": True})
    # zipmap (which skl2onnx gives every classifier in a pipeline) changes nothing
    got = run(fastmlp.to_onnx(clf, X[:1], options={"zipmap": False}), X)
    assert list(got) == ["label"]


# ---------------------------------------------------------------- the lazy export
def _python(script):
    """The lines the script prints that start with '>' (a rebuild may print others)."""
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", textwrap.dedent(script)],
                         capture_output=True, text=True, check=True).stdout
    return [line[1:].strip() for line in out.splitlines() if line.startswith(">")]


def test_import_fastmlp_does_not_import_onnx():
    out = _python("""
        import sys, fastmlp
        print(">", "onnx" in sys.modules, "skl2onnx" in sys.modules, "to_onnx" in dir(fastmlp))
        to_onnx = fastmlp.to_onnx
        import fastmlp.onnx
        print(">", "onnx" in sys.modules, to_onnx is fastmlp.onnx.to_onnx,
              "to_onnx" in fastmlp.__all__)
    """)
    assert out == ["False False True", "True True True"]


def test_missing_onnx_gives_one_clear_line():
    out = _python("""
        import sys
        sys.modules["onnx"] = None  # as if onnx were not installed
        import fastmlp
        from fastmlp import *
        try:
            fastmlp.to_onnx(fastmlp.MLP([2, 2]), [[0.0, 1.0]])
        except ImportError as error:
            print("> call:", error)
        try:
            import fastmlp.onnx
        except ImportError as error:
            print("> import:", error)
    """)
    message = "ONNX export needs onnx, onnxruntime and skl2onnx: pip install 'fastmlp[onnx]'"
    assert out == [f"call: {message}", f"import: {message}"]


# ---------------------------------------------------------------- opsets, multi-label zipmap
@pytest.mark.parametrize("opset", [13, 15])
def test_target_opset(opset):
    X = data(60).astype(np.float32)
    model = spread_weights(fastmlp.MLP([5, 4, 3], "leaky_relu", seed=0))
    onnx_model = fastmlp.to_onnx(model, X[:1], target_opset=opset)
    assert [o.version for o in onnx_model.opset_import if o.domain == ""] == [opset]
    np.testing.assert_allclose(run(onnx_model, X)["output"], model.forward(X), **TOL)
    clf = quiet_fit(fastmlp.MLPClassifier((4,), max_iter=10, random_state=0), X,
                    _labels("binary_str", 60))
    onnx_model = fastmlp.to_onnx(clf, X[:1], options={"zipmap": False}, target_opset=opset)
    assert max(o.version for o in onnx_model.opset_import if o.domain == "") <= opset
    check_classifier(clf, X, onnx_model)
    with pytest.raises(ValueError, match="target_opset must be an integer >= 13, got 9"):
        fastmlp.to_onnx(model, X[:1], target_opset=9)


def test_multilabel_zipmap():
    X = data(90).astype(np.float32)
    clf = quiet_fit(fastmlp.MLPClassifier((6,), max_iter=30, random_state=0), X,
                    _labels("multilabel", 90))
    got = run(fastmlp.to_onnx(clf, X[:1]), X)
    np.testing.assert_array_equal(got["output_label"], clf.predict(X))
    proba = clf.predict_proba(X)
    np.testing.assert_allclose([[row[j] for j in range(3)] for row in got["output_probability"]],
                               proba, **TOL)


@pytest.mark.parametrize("input_dtype", [np.uint8, np.int64, np.bool_])
def test_estimators_take_integer_input(input_dtype):
    rng = np.random.default_rng(5)
    X = rng.integers(0, 2 if input_dtype == np.bool_ else 200, size=(80, 6)).astype(input_dtype)
    clf = quiet_fit(fastmlp.LogisticRegression(normalize="minmax"), X, _labels("multi_str", 80))
    onnx_model = fastmlp.to_onnx(clf, X[:1], options={"zipmap": False})
    got = run(onnx_model, X)
    np.testing.assert_array_equal(got["label"], clf.predict(X))
    np.testing.assert_allclose(got["probabilities"], clf.predict_proba(X), **TOL)
    reg = quiet_fit(fastmlp.MLPRegressor(hidden_layer_sizes=(4,), max_iter=10, random_state=0,
                                         normalize="zscore"), X, X[:, 0] * 0.01)
    got = run(fastmlp.to_onnx(reg, X[:1]), X)
    np.testing.assert_allclose(got["variable"].ravel(), reg.predict(X), **TOL)

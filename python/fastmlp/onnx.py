"""Export to ONNX.

`to_onnx(model, X_sample)` turns an `MLP` or a fitted estimator into an ONNX
model; importing this module also registers converters for the four
estimators with skl2onnx, so `skl2onnx.to_onnx` converts pipelines that hold
them (with the `zipmap`, `nocl` and `output_class_labels` options
scikit-learn's classifiers take).

The graph does what fastmlp does, in the same dtype: the input is cast to the
model's dtype (integers and booleans through float64, as fastmlp's input
checks do), the fitted normalization (x - offset) * scale is applied, then
every layer z = a W + b, a = g(z), then the decision (labels from the output
or, for the perceptron, from the logits).

MLP outputs: `label` (what `MLP.predict` returns; classification losses
only), then `output` (`MLP.forward`, a[L], shape (N, n_outputs)).
Estimator outputs (float32 tensors; a float64 estimator computes in float64
and casts them):
MLPClassifier and LogisticRegression `label` and `probabilities`
(`predict_proba`'s columns), or skl2onnx's zipped forms; Perceptron `label`
only; MLPRegressor `variable`, shape (N, n_outputs).
"""

import numbers

import numpy as np

_MISSING = "ONNX export needs onnx, onnxruntime and skl2onnx: pip install 'fastmlp[onnx]'"

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx import to_onnx as _skl2onnx_to_onnx
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import _parse_sklearn_classifier
    from skl2onnx.common.data_types import (
        DictionaryType,
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        SequenceType,
        StringTensorType,
    )
except ImportError as error:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(_MISSING) from error

from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ._names import ACTIVATION_ALIASES
from .model import MLP

__all__ = ["to_onnx"]

# The opset the standalone MLP graph declares (every op used exists since 13).
DEFAULT_OPSET = 17

_ONNX_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
}
# Input dtypes a graph accepts: floats as they are, integers and booleans as
# fastmlp takes them (through float64).
_INPUT_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.bool_): TensorProto.BOOL,
}


# ---------------------------------------------------------------- the estimators, in one place
def _estimator_classes():
    """The four estimator classes, imported here only (their modules may move)."""
    from . import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron

    return MLPClassifier, MLPRegressor, LogisticRegression, Perceptron


def _inner_model(estimator):
    """The fitted estimator's inner `MLP` (read for its normalizer, slope and dtype)."""
    return estimator._model


# ---------------------------------------------------------------- two ways to emit nodes
class _GraphBuilder:
    """Nodes and initializers of a standalone graph (onnx.helper)."""

    def __init__(self):
        self.nodes = []
        self.initializers = []
        self._used = set()

    def name(self, hint):
        candidate, k = hint, 1
        while candidate in self._used:
            k += 1
            candidate = f"{hint}_{k}"
        self._used.add(candidate)
        return candidate

    def constant(self, hint, array):
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op_type, inputs, hint=None, *, output=None, **attrs):
        output = output if output is not None else self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [output],
                                           name=self.name(f"{op_type}_node"), **attrs))
        return output


class _ContainerBuilder:
    """The same calls, emitted into a skl2onnx converter's container."""

    def __init__(self, scope, container):
        self.scope = scope
        self.container = container

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def constant(self, hint, array):
        name = self.name(hint)
        array = np.asarray(array)
        if array.dtype.kind in "US":
            self.container.add_initializer(name, TensorProto.STRING, list(array.shape),
                                           [str(s).encode("utf-8") for s in array.ravel()])
        else:
            proto = helper.np_dtype_to_tensor_dtype(array.dtype)
            self.container.add_initializer(name, proto, list(array.shape),
                                           array.ravel().tolist())
        return name

    def node(self, op_type, inputs, hint=None, *, output=None, **attrs):
        output = output if output is not None else self.name(hint or op_type.lower())
        self.container.add_node(op_type, list(inputs), [output],
                                name=self.scope.get_unique_operator_name(op_type), **attrs)
        return output


# ---------------------------------------------------------------- activations
def _scalar(b, value, dtype, hint="scalar"):
    return b.constant(hint, np.asarray(value, dtype=dtype))


def _plain(op_type):
    return lambda b, z, dtype, slope: b.node(op_type, [z], op_type.lower())


def _identity(b, z, dtype, slope):
    return z


def _step(b, z, dtype, slope):
    # 1 where z >= 0, as the native core computes it.
    at_least_zero = b.node("GreaterOrEqual", [z, _scalar(b, 0, dtype, "zero")], "step_mask")
    return b.node("Cast", [at_least_zero], "step", to=_ONNX_TYPES[dtype])


def _leaky_relu(b, z, dtype, slope):
    if dtype == np.float32:  # the attribute is a float32, as the native slope is
        return b.node("LeakyRelu", [z], "leaky_relu", alpha=float(np.float32(slope)))
    # A float attribute would round a float64 model's slope; spell it out instead.
    positive = b.node("Greater", [z, _scalar(b, 0, dtype, "zero")], "positive")
    scaled = b.node("Mul", [z, _scalar(b, slope, dtype, "slope")], "scaled")
    return b.node("Where", [positive, z, scaled], "leaky_relu")


def _softplus(b, z, dtype, slope):
    if dtype == np.float32:
        return b.node("Softplus", [z], "softplus")
    # max(z, 0) + log(1 + e^-|z|): onnxruntime has no float64 Softplus.
    negative_abs = b.node("Neg", [b.node("Abs", [z], "abs")], "neg_abs")
    tail = b.node("Log", [b.node("Add", [_scalar(b, 1, dtype, "one"),
                                          b.node("Exp", [negative_abs], "exp")], "one_plus")],
                  "log")
    return b.node("Add", [b.node("Relu", [z], "relu"), tail], "softplus")


def _softmax(b, z, dtype, slope):
    return b.node("Softmax", [z], "softmax", axis=1)


# Elementwise activations (any layer), then the output-only ones.
HIDDEN_ACTIVATIONS = {
    "identity": _identity,
    "step": _step,
    "sigmoid": _plain("Sigmoid"),
    "tanh": _plain("Tanh"),
    "relu": _plain("Relu"),
    "leaky_relu": _leaky_relu,
    "softplus": _softplus,
}
OUTPUT_ACTIVATIONS = {**HIDDEN_ACTIVATIONS, "softmax": _softmax, "exp": _plain("Exp")}


def _check_activations(activations, owner):
    hidden, output = activations[:-1], activations[-1]
    for l, name in enumerate(hidden, start=1):
        if name not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"{owner}: hidden layer {l} has activation {name!r}, which has no ONNX "
                f"export; expected one of {', '.join(HIDDEN_ACTIVATIONS)}"
            )
    if output not in OUTPUT_ACTIVATIONS:
        raise ValueError(
            f"{owner}: the output activation {output!r} has no ONNX export; expected one "
            f"of {', '.join(OUTPUT_ACTIVATIONS)}"
        )


# ---------------------------------------------------------------- what a graph computes
class _Network:
    """What the graph needs, read from an MLP or an estimator (all arrays copied)."""

    def __init__(self, W, b, activations, slope, dtype, normalizer, owner):
        self.dtype = np.dtype(dtype)
        if self.dtype not in _ONNX_TYPES:
            raise ValueError(f"{owner}: dtype must be float32 or float64, got {self.dtype}")
        self.W = [np.array(w, dtype=self.dtype, copy=True) for w in W]
        self.b = [np.array(v, dtype=self.dtype, copy=True).reshape(-1) for v in b]
        self.activations = list(activations)
        self.slope = float(slope)
        self.n_inputs = self.W[0].shape[0]
        self.n_outputs = self.W[-1].shape[1]
        if normalizer is None or normalizer.kind is None:
            self.offset = self.scale = None
        elif not normalizer.fitted:
            raise NotFittedError(f"{owner}: the {normalizer.kind} normalization is not fitted "
                                 "yet; call fit before exporting to ONNX")
        else:
            self.offset = np.asarray(normalizer.offset_, dtype=np.float32).reshape(-1)
            self.scale = np.asarray(normalizer.scale_, dtype=np.float32).reshape(-1)
        _check_activations(self.activations, owner)

    def emit(self, b, x, input_dtype):
        """Emit the network on input `x`; returns (z[L], a[L])."""
        dtype = self.dtype
        if input_dtype != dtype:
            if input_dtype.kind not in "f":
                # fastmlp reads integers and booleans as float64 (exact), then casts.
                x = b.node("Cast", [x], "x_float64", to=TensorProto.DOUBLE)
            if dtype != np.float64 or input_dtype.kind in "f":
                x = b.node("Cast", [x], "x_cast", to=_ONNX_TYPES[dtype])
        if self.offset is not None:
            # The offsets and scales are kept as float32 and converted to the model's dtype.
            x = b.node("Sub", [x, b.constant("norm_offset", self.offset.astype(dtype))], "x_sub")
            x = b.node("Mul", [x, b.constant("norm_scale", self.scale.astype(dtype))], "x_norm")
        a = z = x
        for l, (W, bias, name) in enumerate(zip(self.W, self.b, self.activations), start=1):
            z = b.node("Gemm", [a, b.constant(f"W{l}", W), b.constant(f"b{l}", bias)], f"z{l}")
            table = OUTPUT_ACTIVATIONS if l == len(self.W) else HIDDEN_ACTIVATIONS
            a = table[name](b, z, dtype, self.slope)
        return z, a


def _flatten(b, column, hint):
    """(N, 1) -> (N,)."""
    return b.node("Reshape", [column, b.constant("flat_shape", np.array([-1], dtype=np.int64))],
                  hint)


# ---------------------------------------------------------------- the model API
def _network_of_mlp(model):
    return _Network(model.W, model.b, model.activations, model.slope, model.dtype,
                    model.normalizer, "MLP")


def _emit_mlp_heads(b, model, net, z, out):
    """(label or None, output) for an MLP, as MLP.predict / MLP.forward return them."""
    loss = model.loss_name
    if loss == "categorical_cross_entropy":
        label = b.node("ArgMax", [out], "argmax", axis=1, keepdims=0)
    elif loss in ("binary_cross_entropy", "perceptron", "perceptron_hinge"):
        hit = b.node("GreaterOrEqual", [out, _scalar(b, 0.5, net.dtype, "half")], "hit")
        label = b.node("Cast", [hit], "label01", to=TensorProto.INT64)
        if net.n_outputs == 1:
            label = _flatten(b, label, "label_flat")
    else:
        label = None
    return label, out


def _mlp_to_onnx(model, X_sample, target_opset):
    net = _network_of_mlp(model)
    input_dtype = _check_sample(X_sample, net.n_inputs, "MLP")
    opset = DEFAULT_OPSET if target_opset is None else _check_opset(target_opset)
    b = _GraphBuilder()
    b.name("X")
    z, out = net.emit(b, "X", input_dtype)
    label, out = _emit_mlp_heads(b, model, net, z, out)
    outputs = []
    if label is not None:
        b.node("Identity", [label], output=b.name("label"))
        shape = ["N"] if net.n_outputs == 1 or model.loss_name == "categorical_cross_entropy" \
            else ["N", net.n_outputs]
        outputs.append(helper.make_tensor_value_info("label", TensorProto.INT64, shape))
    b.node("Identity", [out], output=b.name("output"))
    outputs.append(helper.make_tensor_value_info("output", _ONNX_TYPES[net.dtype],
                                                 ["N", net.n_outputs]))
    graph = helper.make_graph(
        b.nodes, "fastmlp_MLP",
        [helper.make_tensor_value_info("X", _INPUT_TYPES[input_dtype], ["N", net.n_inputs])],
        outputs, initializer=b.initializers)
    opsets = [helper.make_opsetid("", opset)]
    onnx_model = helper.make_model(graph, opset_imports=opsets, producer_name="fastmlp",
                                   doc_string=f"fastmlp MLP {model.layer_sizes}, "
                                              f"{', '.join(model.activations)}")
    onnx_model.ir_version = helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(onnx_model)
    return onnx_model


def _check_opset(target_opset):
    if isinstance(target_opset, bool) or not isinstance(target_opset, numbers.Integral) \
            or target_opset < 13:
        raise ValueError(f"target_opset must be an integer >= 13, got {target_opset!r}")
    return int(target_opset)


def _check_sample(X_sample, n_inputs, owner):
    """X_sample's dtype, after checking it is a 2-D array of the model's width."""
    X = np.asarray(X_sample)
    if X.ndim != 2:
        raise ValueError(f"X_sample must be a 2-D array of shape (n_samples, {n_inputs}), got "
                         f"a {X.ndim}-D array of shape {X.shape}")
    if X.shape[1] != n_inputs:
        raise ValueError(f"X_sample has {X.shape[1]} features, but the {owner} expects "
                         f"{n_inputs}")
    if X.dtype not in _INPUT_TYPES:
        raise TypeError(f"X_sample must be float32, float64, uint8, int32, int64 or bool, got "
                        f"dtype {X.dtype}")
    return X.dtype


# ---------------------------------------------------------------- the estimators
def _check_fitted(estimator):
    try:
        check_is_fitted(estimator, "coefs_")
    except NotFittedError:
        raise NotFittedError(f"This {type(estimator).__name__} is not fitted yet: call fit "
                             "before exporting it to ONNX") from None


def _canonical(name):
    """fastmlp's name for scikit-learn's spelling ('logistic' -> 'sigmoid')."""
    return ACTIVATION_ALIASES.get(name, name)


def _network_of_estimator(estimator):
    _check_fitted(estimator)
    name = type(estimator).__name__
    inner = _inner_model(estimator)
    n_hidden = len(estimator.coefs_) - 1
    hidden = []
    if n_hidden:  # the linear models have no hidden layer and no `activation`
        hidden = [_canonical(estimator.activation)] * n_hidden
    output = _canonical(estimator.out_activation_)
    return _Network(estimator.coefs_, estimator.intercepts_, hidden + [output], inner.slope,
                    inner.dtype, inner.normalizer, name)


def _label_table(estimator, nocl=False):
    """classes_ as an ONNX constant: int64 for numbers and booleans, else strings.

    With skl2onnx's option nocl, the labels are the class indices.
    """
    classes = np.asarray(estimator.classes_)
    if len(classes) < 2:
        raise ValueError(f"{type(estimator).__name__} was fitted on a single class "
                         f"{classes.tolist()}; ONNX export needs at least two")
    if nocl:
        return np.arange(len(classes), dtype=np.int64), TensorProto.INT64
    # scikit-learn's classifiers only take integer-valued floats as class labels.
    if classes.dtype.kind in "iubf":
        return classes.astype(np.int64), TensorProto.INT64
    if classes.dtype.kind in "US" or all(isinstance(c, str) for c in classes):
        return classes.astype(str), TensorProto.STRING
    raise ValueError(f"{type(estimator).__name__}.classes_ must hold integers or strings, got "
                     f"dtype {classes.dtype}")


def _nocl(scope, estimator):
    return bool(scope.get_options(estimator, dict(nocl=False))["nocl"])


def _is_multilabel(estimator):
    return estimator.out_activation_ == "logistic" and estimator.n_outputs_ > 1


def _gather_labels(b, estimator, index, nocl):
    classes, _ = _label_table(estimator, nocl)
    return b.node("Gather", [b.constant("classes", classes), index], "label", axis=0)


def _emit_classifier_heads(b, estimator, net, out, nocl):
    """(label, probabilities) as predict / predict_proba compute them."""
    if _is_multilabel(estimator):
        hit = b.node("Greater", [out, _scalar(b, 0.5, net.dtype, "half")], "hit")
        return b.node("Cast", [hit], "label", to=TensorProto.INT64), out
    if net.n_outputs == 1:
        # LabelBinarizer's inverse: the positive class where p > 0.5.
        p = out
        hit = b.node("Greater", [_flatten(b, p, "p_flat"), _scalar(b, 0.5, net.dtype, "half")],
                     "hit")
        index = b.node("Cast", [hit], "index", to=TensorProto.INT64)
        q = b.node("Sub", [_scalar(b, 1, net.dtype, "one"), p], "q")
        probabilities = b.node("Concat", [q, p], "probabilities", axis=1)
        return _gather_labels(b, estimator, index, nocl), probabilities
    index = b.node("ArgMax", [out], "index", axis=1, keepdims=0)
    return _gather_labels(b, estimator, index, nocl), out


def _emit_perceptron_label(b, estimator, net, z, nocl):
    """classes_[z > 0] for two classes, classes_[argmax z] otherwise (the decision)."""
    if net.n_outputs == 1:
        hit = b.node("Greater", [_flatten(b, z, "z_flat"), _scalar(b, 0, net.dtype, "zero")],
                     "hit")
        index = b.node("Cast", [hit], "index", to=TensorProto.INT64)
    else:
        index = b.node("ArgMax", [z], "index", axis=1, keepdims=0)
    return _gather_labels(b, estimator, index, nocl)


def _input_dtype(variable):
    proto = variable.type.to_onnx_type().tensor_type.elem_type
    return np.dtype(helper.tensor_dtype_to_np_dtype(proto))


def _convert(scope, operator, container):
    """skl2onnx converter for the four estimators."""
    _MLPClassifier, MLPRegressor, _LogisticRegression, Perceptron = _estimator_classes()
    estimator = operator.raw_operator
    net = _network_of_estimator(estimator)
    nocl = not isinstance(estimator, MLPRegressor) and _nocl(scope, estimator)
    b = _ContainerBuilder(scope, container)
    x = operator.inputs[0]
    z, out = net.emit(b, x.full_name, _input_dtype(x))
    names = [v.full_name for v in operator.outputs]
    if isinstance(estimator, Perceptron):
        results = [_emit_perceptron_label(b, estimator, net, z, nocl)]
    elif isinstance(estimator, MLPRegressor):
        results = [out]
    else:
        results = list(_emit_classifier_heads(b, estimator, net, out, nocl))
    for produced, name, variable in zip(results, names, operator.outputs):
        if net.dtype == np.float64 and isinstance(variable.type, FloatTensorType):
            # A float64 estimator computes in float64; the graph's values are
            # float32 tensors whatever the estimator's dtype (ZipMap takes no other).
            produced = b.node("Cast", [produced], f"{name}_float32", to=TensorProto.FLOAT)
        b.node("Identity", [produced], output=name)


def _check_operator_input(operator):
    estimator = operator.raw_operator
    _check_fitted(estimator)
    if len(operator.inputs) != 1:
        raise RuntimeError(f"{type(estimator).__name__} takes one input tensor, got "
                           f"{len(operator.inputs)}")
    shape = operator.inputs[0].type.shape
    width = shape[1] if shape is not None and len(shape) == 2 else None
    expected = estimator.n_features_in_
    if isinstance(width, numbers.Integral) and width != expected:
        raise ValueError(f"the input of {type(estimator).__name__} has {width} features, but "
                         f"the estimator expects {expected}")
    return estimator, operator.inputs[0].get_first_dimension()


def _label_type(operator, estimator, n_rows):
    if _is_multilabel(estimator):
        return Int64TensorType([n_rows, estimator.n_outputs_])
    _, proto = _label_table(estimator, _nocl(operator.scope_inst, estimator))
    return (StringTensorType if proto == TensorProto.STRING else Int64TensorType)([n_rows])


def _classifier_shapes(operator):
    estimator, N = _check_operator_input(operator)
    n_columns = len(estimator.classes_) if not _is_multilabel(estimator) \
        else estimator.n_outputs_
    operator.outputs[0].type = _label_type(operator, estimator, N)
    operator.outputs[1].type = FloatTensorType([N, n_columns])


def _perceptron_shapes(operator):
    estimator, N = _check_operator_input(operator)
    operator.outputs[0].type = _label_type(operator, estimator, N)


def _regressor_shapes(operator):
    estimator, N = _check_operator_input(operator)
    operator.outputs[0].type = FloatTensorType([N, estimator.n_outputs_])


def _parse_classifier(scope, model, inputs, custom_parsers=None):
    """scikit-learn's classifier parsing (zipmap, output_class_labels), float32 probabilities.

    skl2onnx types the zipped probabilities after the input; these
    estimators compute in float32 whatever the input, so the map holds floats.
    """
    _check_fitted(model)
    outputs = _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)
    for variable in outputs:
        if isinstance(variable.type, DoubleTensorType):  # zipmap='columns'
            variable.type = FloatTensorType(variable.type.shape)
        elif isinstance(variable.type, SequenceType) \
                and isinstance(variable.type.element_type, DictionaryType):
            key_type = variable.type.element_type.key_type
            variable.type = SequenceType(DictionaryType(key_type, FloatTensorType()))
    return outputs


def _parse_perceptron(scope, model, inputs, custom_parsers=None):
    """One output, the label: scikit-learn's Perceptron has no predict_proba."""
    _check_fitted(model)
    operator = scope.declare_local_operator(_ALIASES["Perceptron"], model)
    operator.inputs = inputs
    label = scope.declare_local_variable("label", Int64TensorType())
    operator.outputs.append(label)
    return operator.outputs


_ALIASES = {
    "MLPClassifier": "FastmlpMLPClassifier",
    "MLPRegressor": "FastmlpMLPRegressor",
    "LogisticRegression": "FastmlpLogisticRegression",
    "Perceptron": "FastmlpPerceptron",
}
_CLASSIFIER_OPTIONS = {"zipmap": [True, False, "columns"], "nocl": [False, True],
                       "output_class_labels": [False, True]}
# skl2onnx hands every classifier in a pipeline the zipmap option; the
# perceptron takes it and has nothing to zip (its one output is the label).
_PERCEPTRON_OPTIONS = {"zipmap": [True, False, "columns"], "nocl": [False, True]}


def register_converters():
    """Register the four estimators' converters with skl2onnx (done on import)."""
    MLPClassifier, MLPRegressor, LogisticRegression, Perceptron = _estimator_classes()
    for cls in (MLPClassifier, LogisticRegression):
        update_registered_converter(cls, _ALIASES[cls.__name__], _classifier_shapes, _convert,
                                    parser=_parse_classifier, options=dict(_CLASSIFIER_OPTIONS))
    update_registered_converter(MLPRegressor, _ALIASES["MLPRegressor"], _regressor_shapes,
                                _convert)
    update_registered_converter(Perceptron, _ALIASES["Perceptron"], _perceptron_shapes,
                                _convert, parser=_parse_perceptron,
                                options=dict(_PERCEPTRON_OPTIONS))


# ---------------------------------------------------------------- the entry point
def to_onnx(model, X_sample, *, options=None, target_opset=None):
    """An ONNX model (onnx.ModelProto) computing what `model` computes.

    model : an `MLP`, or a fitted MLPClassifier, MLPRegressor, LogisticRegression
        or Perceptron (for pipelines, call skl2onnx.to_onnx after importing
        fastmlp.onnx).
    X_sample : a few rows of input (their dtype is the graph's input type:
        float32, float64, uint8, int32, int64 or bool).
    options : for the estimators, skl2onnx's options, e.g. {"zipmap": False}
        (classifiers: zipmap True / False / 'columns', nocl, output_class_labels;
        the Perceptron: nocl; zipmap is accepted and changes nothing).
    target_opset : the ONNX opset (default: 17 for an MLP, skl2onnx's default
        for the estimators).
    """
    if isinstance(model, MLP):
        if options:
            raise ValueError(f"options apply to the estimators, not to an MLP; got {options!r}")
        return _mlp_to_onnx(model, X_sample, target_opset)
    classes = _estimator_classes()
    if not isinstance(model, classes):
        raise TypeError("to_onnx expects a fastmlp MLP, MLPClassifier, MLPRegressor, "
                        f"LogisticRegression or Perceptron, got {type(model).__name__}")
    _check_fitted(model)
    _check_sample(X_sample, model.n_features_in_, type(model).__name__)
    X = np.asarray(X_sample)
    kwargs = {}
    if target_opset is not None:
        kwargs["target_opset"] = _check_opset(target_opset)
    return _skl2onnx_to_onnx(model, X[:1], options=options, **kwargs)


register_converters()

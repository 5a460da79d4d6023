"""The record of a scikit-learn style estimator: parameters, listed attributes, nested MLP.

What is saved is saved_attributes.py's list for the kind, nothing else. The
estimator's own pickle hooks are the bridge: __getstate__ gives its state
(with weights the user replaced in coefs_ pushed into the network first), and
__setstate__ takes the restored attributes and rebuilds what derives from the
weights (coefs_, intercepts_, coef_ ...).
"""

import inspect

from .._jsonvalues import ValueDecoder, ValueEncoder
from .errors import ModelFileError
from .records import Record
from .saved_attributes import MODEL_ATTRIBUTE, OLD_FILE_ATTRIBUTES, RESET_ON_LOAD


class EstimatorCodec:
    def __init__(self, cls, saved, model_cls):
        self.cls = cls
        self.saved = {entry.name: entry for entry in saved}
        self.model_cls = model_cls

    # ------------------------------------------------------------ writing
    def encode(self, estimator):
        name = type(estimator).__name__
        if MODEL_ATTRIBUTE not in vars(estimator):
            raise ValueError(f"this {name} is not fitted yet; fit it before saving")
        state = estimator.__getstate__()
        encoder = ValueEncoder()
        config = {key: encoder.encode(value, key)
                  for key, value in estimator.get_params(deep=False).items()}
        attributes = {}
        for entry in self.saved.values():
            if entry.name in state:
                attributes[entry.name] = encoder.encode(state[entry.name], entry.name)
            elif entry.required:
                raise ValueError(f"this {name} has no attribute {entry.name!r} to save")
        attributes.update(RESET_ON_LOAD)
        return Record(config=config, attributes=attributes, arrays=encoder.arrays,
                      model=state[MODEL_ATTRIBUTE])

    # ------------------------------------------------------------ reading
    def decode(self, record):
        name = self.cls.__name__
        if not isinstance(record.model, self.model_cls):
            raise ValueError(f"a {name} record needs a nested MLP record under 'model'")
        decoder = ValueDecoder(record.arrays)
        params = self._parameters(record.config, decoder)
        restored = self._attributes(record.attributes, decoder)
        _check_consistency(restored, record.model)
        estimator = self.cls(**params)
        estimator.__setstate__({**restored, **RESET_ON_LOAD, MODEL_ATTRIBUTE: record.model})
        return estimator

    def _parameters(self, config, decoder):
        """Constructor arguments; one a file does not name keeps its default.

        (So a file from before a parameter existed still loads, with the
        behaviour it had.)
        """
        known = set(inspect.signature(self.cls.__init__).parameters) - {"self"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"{self.cls.__name__} parameters must be among {sorted(known)}, "
                             f"got unknown {unknown!r:.80}")
        return {key: decoder.decode(value) for key, value in config.items()}

    def _attributes(self, attributes, decoder):
        name = self.cls.__name__
        for key in attributes:
            if key not in self.saved and key not in RESET_ON_LOAD \
                    and key not in OLD_FILE_ATTRIBUTES:
                raise ModelFileError(
                    f"attribute {key!r:.40} cannot be restored on a {name}: expected one of "
                    f"{', '.join(sorted(self.saved))}")
        restored = {}
        for key, value in attributes.items():
            value = decoder.decode(value)  # every value must decode, kept or not
            if key in self.saved:
                restored[key] = self.saved[key].expected.check(key, value)
        missing = [entry.name for entry in self.saved.values()
                   if entry.required and entry.name not in restored]
        if missing:
            raise ModelFileError(f"a {name} record needs the attributes {missing}")
        return restored


def _check_consistency(attributes, model):
    """The attributes describe the network the file holds (a tampered count cannot lie)."""
    facts = {"n_features_in_": model.n_inputs, "n_outputs_": model.n_outputs,
             "n_params_": model.n_params, "n_layers_": model.n_layers + 1}
    for key, actual in facts.items():
        if key in attributes and attributes[key] != actual:
            raise ModelFileError(f"attribute {key!r} is {attributes[key]}, but the saved network "
                                 f"has {actual}")
    names = attributes.get("feature_names_in_")
    if names is not None and len(names) != model.n_inputs:
        raise ModelFileError(f"feature_names_in_ names {len(names)} features, but the saved "
                             f"network has {model.n_inputs} inputs")
    classes, binarizer = attributes.get("classes_"), attributes.get("_label_binarizer")
    if classes is not None:
        if len(classes) != model.n_outputs and not (len(classes) == 2 and model.n_outputs == 1):
            raise ModelFileError(f"{len(classes)} classes do not fit the saved network's "
                                 f"{model.n_outputs} outputs")
    if classes is not None and binarizer is not None:
        if classes.shape != binarizer.classes_.shape or not all(
                a == b for a, b in zip(classes.tolist(), binarizer.classes_.tolist())):
            raise ModelFileError("classes_ and the label binarizer's classes differ")

"""Label handling shared by the classifiers: LabelBinarizer, as scikit-learn's MLP does."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)

from .._exclusive import exclusive


class ClassifierTargets:
    """Mixed into the classifiers: classes_, the label encoding and its inverse."""

    _is_classifier_estimator = True
    _supported_target_types = ("binary", "multiclass", "multilabel-indicator")

    def _prepare_targets(self, y, *, incremental):
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(self._labels_of_all_ranks(y))
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        self._check_target_type()
        return self._label_binarizer.transform(y)

    def _partial_fit_incremental(self, X, y, sample_weight, classes, comm=None):
        """partial_fit for the classifiers: on the first call, the label set
        comes from `classes` (or from an indicator y, which names its labels)."""
        # Held before the label set is touched, so a refused second call changes nothing.
        with exclusive(self, "partial_fit"):
            if _check_partial_fit_first_call(self, classes):
                self._label_binarizer = LabelBinarizer()
                if type_of_target(y).startswith("multilabel"):
                    self._label_binarizer.fit(y)
                else:
                    self._label_binarizer.fit(classes)
            return self._fit(X, y, sample_weight, incremental=True, comm=comm)

    def _labels_of_all_ranks(self, y):
        """y, or in a distributed fit the union of every rank's labels (a rank
        may lack a class); indicator targets name their labels by column."""
        comm = self._comm
        if comm is None or type_of_target(y).startswith("multilabel"):
            return y
        return unique_labels(*comm.allgather(unique_labels(y)))

    def _check_target_type(self):
        if self._label_binarizer.y_type_ not in self._supported_target_types:
            raise ValueError(f"{type(self).__name__} does not support "
                             f"{self._label_binarizer.y_type_} targets")

    @property
    def _is_multilabel(self):
        return self._label_binarizer.y_type_.startswith("multilabel")

    def _output_activation_for_targets(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "sigmoid"

    def _class_sample_weight(self, sample_weight, y):
        """sample_weight times the class weights (None when neither is given)."""
        if self.class_weight is None:
            return sample_weight
        if np.ndim(y) == 2 and isinstance(self.class_weight, dict):
            raise ValueError("class_weight as a dict needs single-output (not multi-label) "
                             "targets; use 'balanced'")
        if self._comm is not None and self.class_weight == "balanced" and np.ndim(y) == 1:
            # 'balanced' over every rank's rows: n / (n_classes * count of the class)
            codes = np.searchsorted(self.classes_, y)
            counts = self._comm.sum(np.bincount(codes, minlength=len(self.classes_)))
            per_class = counts.sum() / (len(self.classes_) * np.maximum(counts, 1))
            weights = per_class[codes]
        else:
            weights = compute_sample_weight(self.class_weight, y)
        return weights if sample_weight is None else sample_weight * weights

    def _decode(self, out):
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    def _encode_validation_targets(self, y_val):
        return self._label_binarizer.transform(y_val)

    def _check_validation_targets(self, y_val):
        y_val = np.asarray(y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1 and not self._is_multilabel:
            y_val = y_val.ravel()
        return y_val

    def _score_output(self, out, y_val, sample_weight):
        if not np.all(np.isfinite(out)):
            return np.nan
        return float(accuracy_score(y_val, self._decode(out), sample_weight=sample_weight))

    def _probabilities(self, X):
        """predict_proba: rows over classes_ (sum to 1), or per-label for multi-label."""
        out = self._forward(X).astype(self._output_dtype(X), copy=False)
        if self.n_outputs_ == 1:
            p = out.ravel()
            return np.column_stack([1.0 - p, p])
        return out


class LogProbabilities:
    """predict_log_proba for the classifiers that have predict_proba (not the Perceptron)."""

    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """log(predict_proba(X))."""
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

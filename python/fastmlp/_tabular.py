"""Tables from CSV and NPZ files, for the command line.

CSV: comma-separated numbers, with or without a header row (a first row with
any non-numeric cell is a header). The label column is chosen by name or
index; by default a column named 'label', 'target', 'class' or 'y', else the
last one.

NPZ: arrays named X and y, or X_train / y_train (with optional X_test /
y_test); or a single 2-D array, read like a CSV table.
"""

import csv
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

DEFAULT_LABEL_NAMES = ("label", "target", "class", "y")
TABLE_SUFFIXES = (".csv", ".npz")


class Table(NamedTuple):
    """Features and labels; X_test / y_test are None when the file has no test part."""

    X: np.ndarray
    y: Optional[np.ndarray]
    X_test: Optional[np.ndarray] = None
    y_test: Optional[np.ndarray] = None


def load_table(path, label=None, *, n_features=None):
    """Read a CSV or NPZ file as a Table.

    label: a column name or index (negative counts from the end), 'none' for a
    file without labels, or None for the default column. n_features: when
    given and the table has exactly that many columns, it has no labels
    (what `fastmlp predict` needs).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        names, values = _read_csv(path)
        return _split_label(path, names, values, label, n_features)
    if suffix == ".npz":
        return _read_npz(path, label, n_features)
    raise ValueError(f"{path}: expected a .csv or .npz file (or mnist, fashion-mnist, or a "
                     f"folder of IDX files), got a {suffix or 'suffix-less'} file")


def _read_csv(path):
    with open(path, newline="") as stream:
        first = next(csv.reader(stream), None)
    if first is None:
        raise ValueError(f"{path}: the CSV file is empty")
    header = None if all(_is_number(cell) for cell in first) else [c.strip() for c in first]
    try:
        values = np.loadtxt(path, delimiter=",", skiprows=1 if header else 0, ndmin=2,
                            dtype=np.float64)
    except ValueError as error:
        raise ValueError(f"{path}: expected numbers in every cell after the header: {error}") \
            from None
    if values.shape[0] == 0:
        raise ValueError(f"{path}: the CSV file has a header but no rows")
    return header, values


def _is_number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _read_npz(path, label, n_features):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    for X_key, y_key in (("X_train", "y_train"), ("X", "y")):
        if X_key in arrays:
            X = _matrix(path, X_key, arrays[X_key])
            y = arrays.get(y_key)
            test = (_matrix(path, "X_test", arrays["X_test"]), arrays.get("y_test")) \
                if "X_test" in arrays else (None, None)
            return Table(X, y, *test)
    if len(arrays) == 1:
        (name, table), = arrays.items()
        return _split_label(path, None, _matrix(path, name, table), label, n_features)
    raise ValueError(f"{path}: expected arrays named X and y (or X_train and y_train), or a "
                     f"single 2-D table; got {', '.join(sorted(arrays)) or 'no arrays'}")


def _matrix(path, name, array):
    if array.ndim < 2:
        raise ValueError(f"{path}: expected {name} to have 2 dimensions (rows x features), "
                         f"got shape {array.shape}")
    return array.reshape(array.shape[0], -1)


def _split_label(path, names, values, label, n_features):
    n_columns = values.shape[1]
    if label == "none" or (label is None and n_features == n_columns):
        return Table(values, None)
    column = _label_column(path, names, n_columns, label)
    y = values[:, column]
    X = np.delete(values, column, axis=1)
    return Table(X, y)


def _label_column(path, names, n_columns, label):
    if label is None:
        for name in DEFAULT_LABEL_NAMES:
            if names and name in names:
                return names.index(name)
        return n_columns - 1
    if names and label in names:
        return names.index(label)
    try:
        index = int(label)
    except ValueError:
        known = f"columns: {', '.join(names)}" if names else "the file has no header row"
        raise ValueError(f"{path}: no label column {label!r} ({known})") from None
    if not -n_columns <= index < n_columns:
        raise ValueError(f"{path}: label column index {index} is outside the file's "
                         f"{n_columns} columns")
    return index % n_columns

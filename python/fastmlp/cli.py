"""The `fastmlp` command line: demo, train, predict, summary, bench."""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from . import _core, datasets
from ._progress import PROGRESS_MODES
from .model import MLP

DEMO_EPOCHS = 15
DEFAULT_MODEL_PATH = "model.fastmlp"
NAMED_DATASETS = ("mnist", "fashion-mnist")
# An expected failure (bad argument, missing or malformed file, missing optional
# library) becomes one line on stderr and this exit code, as argparse does.
USAGE_ERROR = 2


def run_demo(args):
    """Train 784-256-128-10 (ReLU, softmax) on the shipped MNIST sample."""
    data = datasets.load_mnist()
    print(f"MNIST sample: {len(data.y_train):,} training and {len(data.y_test):,} test digits "
          f"(native core: {_core.active_isa()}, {_core.get_num_threads()} threads)")
    model = MLP([784, 256, 128, 10], activation="relu", output="softmax",
                normalize="minmax", seed=args.seed)
    model.summary()
    started = time.perf_counter()
    model.fit(data.X_train, data.y_train, epochs=args.epochs, batch_size=64,
              optimizer="adam", learning_rate=0.001, validation_data=(data.X_test, data.y_test),
              train_metrics=True, verbose=True)
    elapsed = time.perf_counter() - started
    accuracy = model.score(data.X_test, data.y_test)
    print(f"test accuracy: {accuracy:.4f} on {len(data.y_test):,} held-out digits "
          f"({elapsed:.1f} s of training)")
    return 0


# ------------------------------------------------------------------ data
def load_data(source, data_dir=None, label=None, n_features=None):
    """(X_train, y_train, X_test, y_test, description); the test part may be None."""
    if source == "mnist":
        data = datasets.load_mnist(data_dir)
        what = "MNIST" if data_dir else "MNIST sample shipped with fastmlp"
        return (*data, what)
    if source == "fashion-mnist":
        return (*datasets.load_fashion_mnist(data_dir), "Fashion-MNIST")
    path = Path(source)
    if path.is_dir():
        return (*datasets.load_mnist(path), f"IDX files in {path}")
    if not path.exists():
        raise FileNotFoundError(f"data {source!r} is neither {' nor '.join(NAMED_DATASETS)} "
                                "nor an existing file or folder")
    from ._tabular import load_table
    table = load_table(path, label, n_features=n_features)
    return (*table, str(path))


def class_labels(y, where):
    """Labels as int64 class indices 0..K-1, or a one-line error."""
    y = np.asarray(y)
    as_int = y.astype(np.int64)
    if y.ndim != 1 or np.any(as_int != y) or np.any(as_int < 0):
        raise ValueError(f"{where}: classification needs one non-negative integer label per "
                         f"row, got {y.dtype} values such as {y.ravel()[:3].tolist()} "
                         "(use --output identity for regression)")
    return as_int


def split_validation(X, y, fraction, seed):
    """A random held-out part of the training rows, for early stopping and the curves."""
    if fraction == 0:
        return X, y, None
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_val = max(1, round(fraction * len(y)))
    if n_val >= len(y):
        raise ValueError(f"--val-fraction {fraction} leaves no training rows out of {len(y)}")
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return X[train], y[train], (X[val], y[val])


# ------------------------------------------------------------------ train
def run_train(args):
    from .callbacks import EarlyStopping
    from .io import save

    if args.plot:
        from ._plots import require_matplotlib
        require_matplotlib()  # fail before training, not after
    if args.threads is not None:
        _core.set_num_threads(args.threads)
    X, y, X_test, y_test, what = load_data(args.data, args.data_dir, args.label)
    if y is None:
        raise ValueError(f"{args.data}: training needs labels, but no label column was read")
    classify = args.output in ("softmax", "sigmoid", "step")
    if classify:
        y = class_labels(y, args.data)
        y_test = None if y_test is None else class_labels(y_test, args.data)
    if args.max_rows:
        X, y = X[:args.max_rows], y[:args.max_rows]
    if X_test is None and args.test_fraction > 0:
        X, y, held_out = split_validation(X, y, args.test_fraction, args.seed + 1)
        X_test, y_test = held_out
    X, y, validation = split_validation(X, y, args.val_fraction, args.seed)
    n_outputs = (int(max(y.max(), -1 if y_test is None else y_test.max())) + 1
                 if args.output == "softmax" else (1 if y.ndim == 1 else y.shape[1]))
    sizes = [X.shape[1], *args.hidden, n_outputs]
    print(f"{what}: {len(y):,} training, {0 if validation is None else len(validation[1]):,} "
          f"validation, {0 if y_test is None else len(y_test):,} test rows "
          f"(native core: {_core.active_isa()}, {_core.get_num_threads()} threads)")
    model = MLP(sizes, activation=args.activation, output=args.output, loss=args.loss,
                init=args.init, normalize=None if args.normalize == "none" else args.normalize,
                seed=args.seed)
    model.summary()
    callbacks = []
    if args.early_stopping:
        if validation is None:
            raise ValueError("--early-stopping needs validation rows: set --val-fraction above 0")
        stopper = EarlyStopping("val_loss", patience=args.early_stopping)
        callbacks.append(stopper)
    started = time.perf_counter()
    model.fit(X, y, epochs=args.epochs, batch_size=args.batch_size or None,
              optimizer=args.optimizer, learning_rate=args.learning_rate, l2=args.l2,
              validation_data=validation, train_metrics=classify, verbose=True,
              progress=args.progress, callbacks=callbacks, track_gradients=args.track_gradients)
    elapsed = time.perf_counter() - started
    if args.early_stopping and stopper.stopped_epoch is not None:
        print(f"early stopping at epoch {stopper.stopped_epoch}: best val loss "
              f"{stopper.best:.4f} at epoch {stopper.best_epoch} (weights restored)")
    confusion = None
    if y_test is not None:
        score = model.score(X_test, y_test)
        name = "accuracy" if classify else "R^2"
        print(f"test {name}: {score:.4f} on {len(y_test):,} rows ({elapsed:.1f} s of training)")
        if args.output == "softmax":
            from ._plots import confusion_matrix
            confusion = confusion_matrix(y_test, model.predict(X_test), n_outputs)
    save(model, args.out)
    print(f"model saved to {args.out}")
    if args.plot:
        from ._plots import plot_training
        plot_training(args.plot, model.history, confusion, title=f"fastmlp on {what}")
        print(f"plots written to {args.plot}")
    return 0


# ------------------------------------------------------------------ predict / summary / bench
def run_predict(args):
    from .io import load

    model = load(args.model)
    n_features = getattr(model, "n_inputs", None) or getattr(model, "n_features_in_", None)
    X, y, X_test, y_test, what = load_data(args.data, args.data_dir, args.label, n_features)
    if X_test is not None:  # a train/test dataset: predict its test part
        X, y = X_test, y_test
    predictions = model.predict(X)
    if args.out:
        np.savetxt(args.out, np.asarray(predictions).reshape(len(X), -1), delimiter=",",
                   fmt="%.9g")
        print(f"{len(X):,} predictions written to {args.out}")
    else:
        for row in np.asarray(predictions).reshape(len(X), -1):
            print(",".join(f"{value:.9g}" for value in row))
    if y is not None:
        print(f"score: {model.score(X, y):.4f} on {len(X):,} rows of {what}", file=sys.stderr)
    return 0


def run_summary(args):
    from .io import load

    model = load(args.model)
    print(f"{args.model}: {type(model).__name__}")
    model.summary()
    normalizer = getattr(model, "normalizer", None) or getattr(
        getattr(model, "_model", None), "normalizer", None)
    if normalizer is not None:
        print(f"input normalization: {normalizer.kind or 'none'}")
    return 0


def run_bench(args):
    from ._quickbench import run_quick_bench

    run_quick_bench(rows=args.rows, batch_size=args.batch_size, epochs=args.epochs,
                    threads=args.threads)
    return 0


# ------------------------------------------------------------------ arguments
class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (no usage dump) and exit code 2."""

    def error(self, message):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def _positive_int(text):
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _positive_float(text):
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _fraction(text):
    value = _float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def _hidden_sizes(text):
    """'256,128' -> [256, 128]; '' or 'none' -> [] (logistic regression / perceptron)."""
    if text.strip().lower() in ("", "none"):
        return []
    return [_positive_int(part) for part in text.split(",")]


def _add_data_arguments(parser):
    parser.add_argument("--data-dir", metavar="FOLDER",
                        help="folder holding the full MNIST / Fashion-MNIST IDX files")
    parser.add_argument("--label", metavar="COLUMN",
                        help="CSV/NPZ label column, by name or index (default: a column named "
                             "label/target/class/y, else the last; 'none' = no labels)")


def _add_train_parser(commands):
    train = commands.add_parser(
        "train", help="train an MLP and save it",
        description="Train a model on mnist (the shipped sample, or the full set with "
                    "--data-dir), fashion-mnist, a folder of IDX files, or a CSV/NPZ file.")
    train.add_argument("--data", default="mnist",
                       help="mnist, fashion-mnist, an IDX folder, or a .csv/.npz file")
    _add_data_arguments(train)
    train.add_argument("--test-fraction", type=_fraction, default=0.2,
                       help="held-out test share when the data has no test part (default 0.2)")
    train.add_argument("--val-fraction", type=_fraction, default=0.1,
                       help="share of the training rows held out for validation (default 0.1)")
    train.add_argument("--max-rows", type=_positive_int, help="train on the first N rows only")
    model = train.add_argument_group("model")
    model.add_argument("--hidden", type=_hidden_sizes, default=[256, 128], metavar="SIZES",
                       help="hidden layer sizes, comma-separated (default 256,128; 'none' = "
                            "no hidden layer)")
    model.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    model.add_argument("--output", default="softmax",
                       help="output activation: softmax, sigmoid, step, identity (default softmax)")
    model.add_argument("--loss", help="only to pair an elementwise output with squared_error")
    model.add_argument("--init", choices=("lecun", "he", "glorot"),
                       help="weight initialization (default: he for ReLU, lecun otherwise)")
    model.add_argument("--normalize", choices=("minmax", "zscore", "none"), default="minmax")
    fit = train.add_argument_group("training")
    fit.add_argument("--optimizer", default="adam", help="sgd, momentum, nesterov or adam")
    fit.add_argument("--learning-rate", type=_positive_float, default=0.001)
    fit.add_argument("--batch-size", type=_int, default=64, help="0 = full batch, 1 = stochastic")
    fit.add_argument("--epochs", type=_positive_int, default=10)
    fit.add_argument("--l2", type=_float, default=0.0, help="L2 penalty")
    fit.add_argument("--early-stopping", type=_positive_int, metavar="PATIENCE",
                     help="stop after PATIENCE epochs without a better validation loss")
    fit.add_argument("--seed", type=_int, default=0)
    fit.add_argument("--threads", type=_positive_int, help="OpenMP threads (default: all cores)")
    out = train.add_argument_group("output")
    out.add_argument("--out", default=DEFAULT_MODEL_PATH, help=f"model file ({DEFAULT_MODEL_PATH})")
    out.add_argument("--plot", metavar="FILE.png",
                     help="write loss/accuracy curves and a confusion matrix (needs matplotlib)")
    out.add_argument("--progress", choices=PROGRESS_MODES, default="auto",
                     help="progress bar within each epoch (auto: when stderr is a terminal)")
    out.add_argument("--track-gradients", action="store_true",
                     help="record per-layer gradient norms after every epoch (plotted by --plot)")
    train.set_defaults(run=run_train)


def build_parser():
    parser = _OneLineErrorParser(prog="fastmlp", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True,
                                     parser_class=_OneLineErrorParser)
    demo = commands.add_parser("demo", help="train an MLP on the shipped MNIST digits")
    demo.add_argument("--epochs", type=int, default=DEMO_EPOCHS)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=run_demo)
    _add_train_parser(commands)
    predict = commands.add_parser("predict", help="predict with a saved model")
    predict.add_argument("model", help="a file written by fastmlp train or fastmlp.save")
    predict.add_argument("data", help="mnist, fashion-mnist, an IDX folder, or a .csv/.npz file")
    _add_data_arguments(predict)
    predict.add_argument("--out", metavar="FILE.csv", help="write predictions here (default: stdout)")
    predict.set_defaults(run=run_predict)
    summary = commands.add_parser("summary", help="describe a saved model")
    summary.add_argument("model")
    summary.set_defaults(run=run_summary)
    bench = commands.add_parser("bench", help="a quick training benchmark against PyTorch and "
                                              "scikit-learn (when installed)")
    bench.add_argument("--rows", type=_positive_int, default=4000)
    bench.add_argument("--batch-size", type=_positive_int, default=64)
    bench.add_argument("--epochs", type=_positive_int, default=2, help="timed epochs")
    bench.add_argument("--threads", type=_positive_int, default=1)
    bench.set_defaults(run=run_bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError, ImportError) as error:
        # ModelFileError, TrainingDivergedError and bad CSVs are ValueErrors; missing
        # files are OSErrors; a missing optional library is an ImportError.
        message = " ".join(str(error).split())
        print(f"fastmlp: error: {message}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("fastmlp: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

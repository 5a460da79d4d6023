"""The `fastmlp` command line."""

import argparse
import sys
import time

from . import _core, datasets
from .model import MLP

DEMO_EPOCHS = 15


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


def build_parser():
    parser = argparse.ArgumentParser(prog="fastmlp", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train an MLP on the shipped MNIST digits")
    demo.add_argument("--epochs", type=int, default=DEMO_EPOCHS)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=run_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"fastmlp: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""fit_intercept=False against fit_intercept=True: seconds per epoch, same run.

A model without an intercept keeps its biases at zero through a flag of the
native update, so both settings make one native call per epoch and should
cost the same. This times `partial_fit` epochs (one epoch each) of
LogisticRegression and Perceptron with 'sgd' on the same synthetic data,
alternating the two settings round by round, and prints the medians and
their ratio.

    python bench/fit_intercept_bench.py [--rows 20000] [--features 784] [--rounds 7]
"""

import argparse
import statistics
import time

import numpy as np

import fastmlp


def epoch_seconds(make, X, y, classes, epochs):
    est = make()
    est.partial_fit(X, y, classes=classes)  # the first epoch builds the network
    times = []
    for _ in range(epochs):
        started = time.perf_counter()
        est.partial_fit(X, y)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per round")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.random((args.rows, args.features), dtype=np.float32)
    y = rng.integers(0, 10, args.rows)
    classes = np.arange(10)
    cases = {
        "LogisticRegression sgd, batch 32": lambda intercept: (
            lambda: fastmlp.LogisticRegression(solver="sgd", batch_size=32,
                                               fit_intercept=intercept, random_state=0)),
        "Perceptron, batch 1": lambda intercept: (
            lambda: fastmlp.Perceptron(fit_intercept=intercept, random_state=0)),
    }
    print(f"{args.rows} rows x {args.features} features, {fastmlp.get_num_threads()} threads, "
          f"{args.rounds} rounds; medians of seconds per epoch")
    print(f"{'model':34s} {'intercept':>10s} {'no intercept':>13s} {'ratio':>7s}")
    for name, make in cases.items():
        with_b, without_b = [], []
        for _ in range(args.rounds):
            with_b.append(epoch_seconds(make(True), X, y, classes, args.epochs))
            without_b.append(epoch_seconds(make(False), X, y, classes, args.epochs))
        a, b = statistics.median(with_b), statistics.median(without_b)
        print(f"{name:34s} {a:10.4f} {b:13.4f} {b / a:7.2f}x")


if __name__ == "__main__":
    main()

"""`fastmlp bench`: a quick, self-contained version of the training benchmark.

Times one epoch of the same network (784-256-128-10, ReLU, softmax
cross-entropy, SGD with momentum 0.9) on the same rows of the shipped MNIST
sample, in fastmlp and, when installed, PyTorch and scikit-learn. Each framework
gets one untimed warm-up epoch, then the median of the timed epochs is
reported. The full benchmark (bench/train_bench.py in a source checkout) runs
each framework in its own process on Fashion-MNIST; this one is for a first look.
"""

import statistics
import time
import warnings

import numpy as np

from . import _core, datasets
from .model import MLP

LAYER_SIZES = (784, 256, 128, 10)
LEARNING_RATE = 0.05
MOMENTUM = 0.9


def run_quick_bench(rows=4000, batch_size=64, epochs=2, threads=1, frameworks=None,
                    print_fn=print):
    """Time each framework; returns {name: median seconds per epoch} (None if not installed)."""
    X_uint8, y, _, _ = datasets.load_mnist()
    X = datasets.to_float32(X_uint8[:rows])
    y = y[:rows]
    print_fn(f"quick benchmark: {LAYER_SIZES[0]}-{LAYER_SIZES[1]}-{LAYER_SIZES[2]}-"
             f"{LAYER_SIZES[3]} MLP, {len(y):,} MNIST rows, batch {batch_size}, {threads} "
             f"thread(s), median of {epochs} epoch(s) after one warm-up")
    runners = {"fastmlp": _time_fastmlp, "pytorch": _time_pytorch, "scikit-learn": _time_sklearn}
    results = {}
    for name, runner in runners.items():
        if frameworks is not None and name not in frameworks:
            continue
        results[name] = runner(X, y, batch_size, epochs, threads)
    print_fn(format_results(results))
    return results


def format_results(results):
    ours = results.get("fastmlp")
    lines = [f"{'framework':<14}{'s/epoch':>10}{'vs fastmlp':>12}"]
    for name, seconds in results.items():
        if seconds is None:
            lines.append(f"{name:<14}{'not installed':>22}")
            continue
        ratio = f"{seconds / ours:.1f}x" if ours else "-"
        lines.append(f"{name:<14}{seconds:>10.3f}{ratio:>12}")
    return "\n".join(lines)


def _median_epoch_seconds(train_one_epoch, epochs):
    train_one_epoch()  # warm-up: allocations, thread pools, lazy imports
    times = []
    for _ in range(epochs):
        started = time.perf_counter()
        train_one_epoch()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _time_fastmlp(X, y, batch_size, epochs, threads):
    previous = _core.get_num_threads()
    _core.set_num_threads(threads)
    try:
        model = MLP(LAYER_SIZES, "relu", "softmax", seed=0)
        # One fit of warm-up + timed epochs: fit checks and converts the data once,
        # as a user's fit does, and history times each epoch on its own.
        model.fit(X, y, epochs=1 + epochs, batch_size=batch_size, optimizer="momentum",
                  learning_rate=LEARNING_RATE, momentum=MOMENTUM)
        return statistics.median(model.history["seconds"][1:])
    finally:
        _core.set_num_threads(previous)


def _time_pytorch(X, y, batch_size, epochs, threads):
    try:
        import torch
    except ImportError:
        return None
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        layers = []
        for fan_in, fan_out in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]):
            layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
        net = torch.nn.Sequential(*layers[:-1])
        optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
        loss_fn = torch.nn.CrossEntropyLoss()
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
        generator = torch.Generator().manual_seed(0)

        def one_epoch():
            order = torch.randperm(len(y_t), generator=generator)
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss_fn(net(X_t[rows]), y_t[rows]).backward()
                optimizer.step()

        return _median_epoch_seconds(one_epoch, epochs)
    finally:
        torch.set_num_threads(previous)


def _time_sklearn(X, y, batch_size, epochs, threads):
    try:
        from sklearn.neural_network import MLPClassifier
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    model = MLPClassifier(LAYER_SIZES[1:-1], solver="sgd", batch_size=batch_size,
                          learning_rate_init=LEARNING_RATE, momentum=MOMENTUM,
                          nesterovs_momentum=False, random_state=0)
    classes = np.arange(LAYER_SIZES[-1])
    with threadpool_limits(limits=threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _median_epoch_seconds(lambda: model.partial_fit(X, y, classes=classes), epochs)

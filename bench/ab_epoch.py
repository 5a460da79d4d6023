"""A/B timing of MLP.fit between two installed builds of fastmlp.

Runs each build in its own interpreter (a child process per measurement),
alternating the builds round after round so both see the same machine load,
and prints the median seconds per epoch of each and their ratio.

    python bench/ab_epoch.py --a /path/to/python-of-build-A --b /path/to/python-of-build-B

The workload: synthetic data, a 784-256-128-10 ReLU / softmax network, momentum,
batch 1 (3,000 rows) and batches of 32 and 128 (20,000 rows), on 1 and 2 threads.
"""

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
import fastmlp
batch, rows, threads, epochs = (int(v) for v in sys.argv[1:5])
fastmlp.set_num_threads(threads)
rng = np.random.default_rng(0)
X = rng.random((rows, 784), dtype=np.float32)
X[X < 0.6] = 0  # sparse like MNIST pixels
y = rng.integers(0, 10, rows)
model = fastmlp.MLP([784, 256, 128, 10], activation="relu", seed=0)
model.fit(X[:256], y[:256], epochs=1, batch_size=batch, optimizer="momentum")  # warm up
start = time.perf_counter()
model.fit(X, y, epochs=epochs, batch_size=batch, optimizer="momentum", learning_rate=0.01)
print(json.dumps((time.perf_counter() - start) / epochs))
"""

CASES = [(1, 3000), (32, 20000), (128, 20000)]


def run(python, batch, rows, threads, epochs):
    out = subprocess.run([python, "-c", CHILD, str(batch), str(rows), str(threads), str(epochs)],
                         capture_output=True, text=True, check=True, cwd="/")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="python of build A (the base)")
    parser.add_argument("--b", required=True, help="python of build B (the change)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    times = {}
    for r in range(args.rounds):
        for threads in (1, 2):
            for batch, rows in CASES:
                # Alternate which build goes first, so neither always runs warm.
                order = [("a", args.a), ("b", args.b)]
                if r % 2:
                    order.reverse()
                for name, python in order:
                    t = run(python, batch, rows, threads, args.epochs)
                    times.setdefault((threads, batch), {}).setdefault(name, []).append(t)
                    print(f"round {r + 1} threads {threads} batch {batch} build {name}: "
                          f"{t:.4f} s/epoch", file=sys.stderr, flush=True)
    print(f"{'threads':>7} {'batch':>5} {'A s/epoch':>10} {'B s/epoch':>10} {'B/A':>6}")
    for (threads, batch), t in sorted(times.items()):
        a, b = statistics.median(t["a"]), statistics.median(t["b"])
        print(f"{threads:>7} {batch:>5} {a:>10.4f} {b:>10.4f} {b / a:>6.3f}")
    print(json.dumps({f"{k[0]}t_b{k[1]}": v for k, v in times.items()}))


if __name__ == "__main__":
    main()

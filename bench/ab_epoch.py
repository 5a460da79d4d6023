"""A/B timing of MLP.fit between two installed builds of fastmlp.

Each build runs in its own long-lived interpreter (a child process that has
the data and a model ready for every case); the parent asks the two children
in turn for one timed fit at a time, swapping which goes first each round, so
both builds see the same machine load within seconds of each other. Prints
every measurement, then the median seconds per epoch of each build and the
ratio B / A.

    python bench/ab_epoch.py --a /path/to/python-of-build-A --b /path/to/python-of-build-B

--precision bfloat16 times fits with bfloat16 products (both builds must have
them); --batches 128,1024 picks the cases.

The workload: synthetic data, a 784-256-128-10 ReLU / softmax network, momentum,
batch 1 (3,000 rows) and batches of 32, 128 and 1024 (20,000 rows; by default 1, 32
and 128), on 1 and 2 threads.
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
rng = np.random.default_rng(0)
X = rng.random((20000, 784), dtype=np.float32)
X[X < 0.6] = 0  # sparse like MNIST pixels
y = rng.integers(0, 10, 20000)
precision = sys.argv[1]
for line in sys.stdin:
    batch, rows, threads, epochs = (int(v) for v in line.split())
    fastmlp.set_num_threads(threads)
    model = fastmlp.MLP([784, 256, 128, 10], activation="relu", seed=0)
    options = {} if precision == "float32" else {"precision": precision}
    model.fit(X[:256], y[:256], epochs=1, batch_size=batch, optimizer="momentum",
              **options)  # warm up
    start = time.perf_counter()
    model.fit(X[:rows], y[:rows], epochs=epochs, batch_size=batch, optimizer="momentum",
              learning_rate=0.01, **options)
    print(json.dumps((time.perf_counter() - start) / epochs), flush=True)
"""

CASES = {1: 3000, 32: 20000, 128: 20000, 1024: 20000}  # batch size: rows


class Build:
    def __init__(self, python, precision):
        self.proc = subprocess.Popen([python, "-c", CHILD, precision], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd="/")

    def time_fit(self, batch, rows, threads, epochs):
        self.proc.stdin.write(f"{batch} {rows} {threads} {epochs}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="python of build A (the base)")
    parser.add_argument("--b", required=True, help="python of build B (the change)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--batches", default="1,32,128",
                        help="comma-separated batch sizes, of " + ",".join(map(str, CASES)))
    args = parser.parse_args()
    cases = [(int(b), CASES[int(b)]) for b in args.batches.split(",")]
    builds = {"a": Build(args.a, args.precision), "b": Build(args.b, args.precision)}
    times = {}
    try:
        for r in range(args.rounds):
            for threads in (1, 2):
                for batch, rows in cases:
                    names = ["a", "b"] if r % 2 == 0 else ["b", "a"]
                    for name in names:
                        t = builds[name].time_fit(batch, rows, threads, args.epochs)
                        times.setdefault((threads, batch), {}).setdefault(name, []).append(t)
                        print(f"round {r + 1} threads {threads} batch {batch} build {name}: "
                              f"{t:.4f} s/epoch", file=sys.stderr, flush=True)
    finally:
        for build in builds.values():
            build.close()
    print(f"{'threads':>7} {'batch':>5} {'A s/epoch':>10} {'B s/epoch':>10} {'B/A':>6}")
    for (threads, batch), t in sorted(times.items()):
        a, b = statistics.median(t["a"]), statistics.median(t["b"])
        print(f"{threads:>7} {batch:>5} {a:>10.4f} {b:>10.4f} {b / a:>6.3f}")
    print(json.dumps({f"{k[0]}t_b{k[1]}": v for k, v in times.items()}))


if __name__ == "__main__":
    main()

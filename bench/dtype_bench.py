"""float64 training against float32: the same model and rows, one epoch each, same run.

`MLP([784, 256, 128, 10], 'relu', 'softmax')` trains one epoch of plain SGD
in float32 and in float64 on the same rows (20,000 random rows; 2,000 at
batch size 1), alternating the two in every round; the table holds the
median seconds and the float64 / float32 ratio per batch size. The vector
units hold half as many float64 values, so about 2x is the floor.

    python bench/dtype_bench.py [--threads 2] [--rounds 5] [--quick]

Writes bench/results/dtype.md and .json (dtype_quick.* with --quick).
"""

import argparse
import sys
import time

import numpy as np
from _common import RESULTS_DIR, cpu_model, markdown_table, median, write_json, write_text

import fastmlp

SIZES = [784, 256, 128, 10]
BATCHES = {1: 2000, 128: 20000, 1024: 20000}   # batch size: rows per epoch


def epoch_seconds(X, y, dtype, batch):
    model = fastmlp.MLP(SIZES, "relu", "softmax", seed=0, dtype=dtype)
    rows = X.astype(dtype)
    began = time.perf_counter()
    model.fit(rows, y, epochs=1, batch_size=batch, learning_rate=0.01)
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 rounds, a tenth of the rows")
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    fastmlp.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    X = rng.random((20000, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], 20000)
    samples = {(batch, dtype): [] for batch in BATCHES for dtype in ("float32", "float64")}
    for round_index in range(rounds):
        for batch, rows in BATCHES.items():
            rows = rows // 10 if args.quick else rows
            for dtype in ("float32", "float64"):
                samples[(batch, dtype)].append(epoch_seconds(X[:rows], y[:rows], dtype, batch))
        print(f"round {round_index + 1}/{rounds} done", flush=True)
    table_rows = []
    for batch, rows in BATCHES.items():
        f32, f64 = median(samples[(batch, "float32")]), median(samples[(batch, "float64")])
        rows = rows // 10 if args.quick else rows
        table_rows.append([str(batch), f"{rows:,}", f"{f32:.3f}", f"{f64:.3f}", f"{f64 / f32:.2f}x"])
    table = markdown_table(["batch size", "rows", "float32: s/epoch (median)",
                            "float64: s/epoch (median)", "float64 / float32"], table_rows)
    command = " ".join(["python", "bench/dtype_bench.py", *sys.argv[1:]])
    text = (f"# float64 against float32 training ({'quick' if args.quick else 'full'} run)\n\n"
            f"`{command}`: {SIZES} ReLU/softmax, plain SGD, {args.threads} thread(s), "
            f"{rounds} rounds, active instruction set {fastmlp._core.active_isa()}, "
            f"{cpu_model()}.\n\n{table}\n")
    print(text)
    stem = "dtype_quick" if args.quick else "dtype"
    write_text(RESULTS_DIR / f"{stem}.md", text)
    write_json(RESULTS_DIR / f"{stem}.json", {
        "threads": args.threads, "rounds": rounds, "sizes": SIZES, "cpu": cpu_model(),
        "isa": fastmlp._core.active_isa(),
        "seconds": {f"batch {b} | {d}": v for (b, d), v in samples.items()}})


if __name__ == "__main__":
    main()

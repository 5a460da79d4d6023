"""Sparse input: fastmlp's and scikit-learn's MLPClassifier on the same CSR matrix, same run.

A tf-idf-like matrix (20,000 x 200,000 at density 1e-4 by default, float32,
five classes) trains MLPClassifier((64,)) for one epoch (adam, batch 200,
alpha 1e-4: both libraries' defaults) in both libraries, each keeping it
sparse. Every measurement runs in a fresh worker process, which also reports
how much its peak resident memory grew during the fit. Rounds alternate the
contenders; the table holds medians and the ratio of scikit-learn's time to
fastmlp's.

    python bench/sparse_bench.py [--threads 2] [--rounds 3] [--quick]

Writes bench/results/sparse.md and .json (sparse_quick.* with --quick).
"""

import argparse
import json
import subprocess
import sys
import time
import warnings

from _common import (
    BENCH_DIR,
    RESULT_MARKER,
    RESULTS_DIR,
    cpu_model,
    markdown_table,
    median,
    write_json,
    write_text,
)

CONTENDERS = ("fastmlp", "scikit-learn")


def status_mb(name):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(contender, rows, cols, density, threads):
    """One fit in this process: prints seconds and the peak memory growth."""
    import numpy as np
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    X = sp.random(rows, cols, density=density, format="csr", dtype=np.float32, random_state=rng)
    y = rng.integers(0, 5, rows)
    if contender == "fastmlp":
        import fastmlp
        from fastmlp import MLPClassifier
        fastmlp.set_num_threads(threads)
    else:
        from sklearn.neural_network import MLPClassifier
    warnings.simplefilter("ignore")
    with threadpool_limits(threads):
        MLPClassifier((4,), max_iter=1).fit(X[:100], y[:100])   # imports, first allocations
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")   # the peak restarts from the current size
        start = status_mb("VmRSS")
        began = time.perf_counter()
        model = MLPClassifier((64,), max_iter=1, random_state=0).fit(X, y)
        seconds = time.perf_counter() - began
    accuracy = float(model.score(X[:2000], y[:2000]))
    print(RESULT_MARKER + json.dumps({"seconds": seconds,
                                      "growth_mb": status_mb("VmHWM") - start,
                                      "train_accuracy_2000": accuracy}), flush=True)


def measure(contender, args):
    command = [sys.executable, str(BENCH_DIR / "sparse_bench.py"), "--worker", contender,
               "--rows", str(args.rows), "--cols", str(args.cols), "--density", str(args.density),
               "--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{contender} worker failed:\n{done.stderr[-3000:]}")
    line = next(l for l in done.stdout.splitlines() if l.startswith(RESULT_MARKER))
    return json.loads(line[len(RESULT_MARKER):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--cols", type=int, default=200000)
    parser.add_argument("--density", type=float, default=1e-4)
    parser.add_argument("--quick", action="store_true", help="1 round on a 5,000-row matrix")
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.rows, args.cols, args.density, args.threads)
    if args.quick:
        args.rounds, args.rows = 1, 5000
    samples = {name: [] for name in CONTENDERS}
    for round_index in range(args.rounds):
        for name in CONTENDERS:
            samples[name].append(measure(name, args))
        print(f"round {round_index + 1}/{args.rounds}: " + ", ".join(
            f"{name} {samples[name][-1]['seconds']:.2f} s" for name in CONTENDERS), flush=True)
    seconds = {name: median([s["seconds"] for s in samples[name]]) for name in CONTENDERS}
    growth = {name: median([s["growth_mb"] for s in samples[name]]) for name in CONTENDERS}
    rows_out = [[name, f"{seconds[name]:.2f}", f"{seconds['scikit-learn'] / seconds[name]:.2f}x",
                 f"{growth[name]:.0f}",
                 f"{median([s['train_accuracy_2000'] for s in samples[name]]):.3f}"]
                for name in CONTENDERS]
    table = markdown_table(["contender", "one epoch: s (median)", "scikit-learn's time / this",
                            "peak memory growth: MB", "training accuracy (2,000 rows)"],
                           rows_out)
    command = " ".join(["python", "bench/sparse_bench.py", *sys.argv[1:]])
    dense_gb = args.rows * args.cols * 4 / 1e9
    text = (f"# Sparse input ({'quick' if args.quick else 'full'} run)\n\n"
            f"`{command}`: MLPClassifier((64,)), one epoch (adam, batch 200, alpha 1e-4) on a "
            f"{args.rows:,} x {args.cols:,} float32 CSR matrix at density {args.density:g} "
            f"({dense_gb:.1f} GB if it were dense), 5 classes, {args.threads} thread(s), "
            f"{args.rounds} round(s), each fit in a fresh process; {cpu_model()}.\n\n{table}\n")
    print(text)
    stem = "sparse_quick" if args.quick else "sparse"
    write_text(RESULTS_DIR / f"{stem}.md", text)
    write_json(RESULTS_DIR / f"{stem}.json", {
        "threads": args.threads, "rounds": args.rounds, "rows": args.rows, "cols": args.cols,
        "density": args.density, "cpu": cpu_model(), "samples": samples})


if __name__ == "__main__":
    main()

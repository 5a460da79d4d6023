"""bfloat16 products against float32 training: Fashion-MNIST, the same model, same run.

`MLP([784, 256, 128, 10], 'relu')` trains 5 epochs (SGD, momentum 0.9,
learning rate 0.05) on the 60,000 training images, once with
`precision='float32'` and once with `precision='bfloat16'` from the same
initial weights and epoch order (a seed of its own for every round and thread
count), alternating the two in every round, for each batch size and thread
count. The table holds the median seconds per epoch (the epochs after the
first of every fit, over all rounds), the float32 / bfloat16 ratio, the test
accuracy on the 10,000 test images after the 5 epochs as the mean over all
seeds of that batch size (results do not depend on the thread count, so
every fit adds a seed), the mean paired difference with its standard error
(one seed's accuracy moves by about half a point with the initial weights and
the order alone, so one pair of fits cannot tell a precision's effect from
that), and each
precision's throughput as a share of the float32 FMA peak measured in the
same run (vdpbf16ps does twice the float32 FMA's work per instruction, so a
bfloat16 share can pass 100%).

    python bench/bf16_bench.py [--rounds 3] [--batches 128,1024] [--threads 1,2] [--quick]
                               [--estimator]

--estimator trains `MLPClassifier((256, 128), solver='sgd')` instead, with the
same rates, on float64 images (pixels / 255, as a scikit-learn user passes
them), `precision='float32'` against `precision='bfloat16'`; seconds per epoch
are then each whole fit's time over its epochs (the rows' conversion to
float32 included).

Writes bench/results/bf16.md and .json and the bf16 section of
docs/benchmarks.md (bf16_estimator.* and section bf16_estimator with
--estimator; *_quick.* with --quick: 2 rounds, 2 epochs, 10,000 rows, no docs
update).
"""

import argparse
import sys
import time
import warnings

import numpy as np
from _common import (
    RESULTS_DIR,
    cpu_model,
    fma_peak_gflops,
    markdown_table,
    median,
    parse_int_list,
    share_of_peak,
    update_docs_section,
    write_json,
    write_text,
)

import fastmlp
from fastmlp import MLPClassifier, _core, datasets

SIZES = [784, 256, 128, 10]
FLOP_PER_ROW = 2 * (SIZES[0] * SIZES[1] * 2 + SIZES[1] * SIZES[2] * 3 + SIZES[2] * SIZES[3] * 3)
PRECISIONS = ("float32", "bfloat16")


def train(X, y, X_test, y_test, precision, batch, epochs, seed):
    """(seconds of each epoch after the first, test accuracy) of one fit from
    `seed`'s weights and order."""
    model = fastmlp.MLP(SIZES, "relu", seed=seed)
    model.fit(X, y, epochs=epochs, batch_size=batch, optimizer="momentum",
              learning_rate=0.05, precision=precision)
    return list(model.history["seconds"])[1:], float(np.mean(model.predict(X_test) == y_test))


def train_estimator(X, y, X_test, y_test, precision, batch, epochs, seed):
    """train()'s fit through MLPClassifier: ([the whole fit's seconds / epochs], accuracy)."""
    model = MLPClassifier(SIZES[1:-1], solver="sgd", momentum=0.9, nesterovs_momentum=False,
                          learning_rate_init=0.05, alpha=0.0, batch_size=batch,
                          max_iter=epochs, tol=0.0, n_iter_no_change=10**9, random_state=seed,
                          precision=precision)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # max_iter reached: the epochs are fixed on purpose
        start = time.perf_counter()
        model.fit(X, y)
        elapsed = time.perf_counter() - start
    return [elapsed / epochs], float(model.score(X_test, y_test))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", default="128,1024")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds, 2 epochs, 10,000 rows; no docs update")
    parser.add_argument("--estimator", action="store_true",
                        help="MLPClassifier(precision=...) on float64 X instead of MLP.fit")
    args = parser.parse_args()
    why = _core.bf16_unavailable()
    if why is not None:
        sys.exit(f"bf16_bench: bfloat16 products cannot run here: {why}")
    rounds, epochs = (2, 2) if args.quick else (args.rounds, 5)
    batches, thread_counts = parse_int_list(args.batches), parse_int_list(args.threads)
    data = datasets.load_fashion_mnist()
    rows = 10000 if args.quick else len(data.y_train)
    X, y = datasets.to_float32(data.X_train[:rows]), data.y_train[:rows].astype(np.int64)
    X_test, y_test = datasets.to_float32(data.X_test), data.y_test.astype(np.int64)
    fit = train
    if args.estimator:
        fit = train_estimator
        X = data.X_train[:rows].reshape(rows, -1) / 255.0
        X_test = data.X_test.reshape(len(data.X_test), -1) / 255.0

    seconds = {}   # (threads, batch, precision): epoch seconds after the first, all rounds
    accuracy = {}
    peaks = {t: [] for t in thread_counts}
    for r in range(rounds):
        for t_index, threads in enumerate(thread_counts):
            seed = r * len(thread_counts) + t_index
            fastmlp.set_num_threads(threads)
            peaks[threads].append(fma_peak_gflops(threads))
            for batch in batches:
                order = PRECISIONS if r % 2 == 0 else PRECISIONS[::-1]
                for precision in order:
                    times, acc = fit(X, y, X_test, y_test, precision, batch, epochs, seed)
                    seconds.setdefault((threads, batch, precision), []).extend(times)
                    accuracy.setdefault((batch, precision), {})[seed] = acc
                    print(f"round {r + 1}/{rounds} threads {threads} batch {batch} {precision}: "
                          f"{median(times):.3f} s/epoch, test accuracy {acc:.4f}", flush=True)
            peaks[threads].append(fma_peak_gflops(threads))

    table_rows = []
    for threads in thread_counts:
        peak = median([p for p in peaks[threads] if p]) if any(peaks[threads]) else None
        for batch in batches:
            f32 = median(seconds[(threads, batch, "float32")])
            b16 = median(seconds[(threads, batch, "bfloat16")])
            by_seed32, by_seed16 = accuracy[(batch, "float32")], accuracy[(batch, "bfloat16")]
            differences = np.array([by_seed16[k] - by_seed32[k] for k in by_seed32])
            acc32, acc16 = np.mean(list(by_seed32.values())), np.mean(list(by_seed16.values()))
            error = differences.std(ddof=1) / np.sqrt(len(differences)) if len(differences) > 1 else 0
            gf32, gf16 = rows * FLOP_PER_ROW / f32 / 1e9, rows * FLOP_PER_ROW / b16 / 1e9
            table_rows.append([str(threads), str(batch), f"{f32:.3f}", f"{b16:.3f}",
                               f"{f32 / b16:.2f}x", f"{100 * acc32:.2f}%", f"{100 * acc16:.2f}%",
                               f"{100 * differences.mean():+.2f} ± {100 * error:.2f} "
                               f"({len(differences)} seeds)", share_of_peak(gf32, peak),
                               share_of_peak(gf16, peak)])
    table = markdown_table(
        ["threads", "batch", "float32 s/epoch", "bfloat16 s/epoch", "speedup",
         "float32 test acc. (mean)", "bfloat16 test acc. (mean)",
         "bfloat16 - float32 (points, ± standard error)",
         "float32 share of peak", "bfloat16 share of float32 peak"], table_rows)
    peak_text = ", ".join(
        f"{median([p for p in peaks[t] if p]):.0f} GFLOP/s on {t} thread(s)"
        for t in thread_counts if any(peaks[t]))
    command = " ".join(["python", "bench/bf16_bench.py", *sys.argv[1:]])
    run = "quick" if args.quick else "full"
    if args.estimator:
        title = f"# bfloat16 products through MLPClassifier(precision=...) ({run} run)"
        what = ("`MLPClassifier(hidden_layer_sizes=(256, 128), solver='sgd', momentum=0.9, "
                "nesterovs_momentum=False, learning_rate_init=0.05, alpha=0)` on float64 X "
                "(pixels / 255), `precision='float32'` against `'bfloat16'`")
        timing = ("Seconds per epoch: each whole fit's time (validation and conversion of "
                  "the float64 rows included) over its epochs, the median over all rounds.")
    else:
        title = f"# bfloat16 products against float32 training ({run} run)"
        what = f"{'-'.join(map(str, SIZES))} ReLU/softmax"
        timing = ("Seconds per epoch: the median over every epoch after the first of each "
                  "fit, in all rounds.")
    text = (f"{title}\n\n"
            f"`{command}`: Fashion-MNIST ({rows:,} training rows, 10,000 test rows), "
            f"{what}, SGD with momentum 0.9 at 0.05, "
            f"{epochs} epochs per fit, {rounds} rounds, {cpu_model()}, instruction set "
            f"{_core.active_isa()}. {timing} Test accuracy after the {epochs} epochs: the mean "
            f"over every seed of the batch size (one per round and thread count, the same "
            f"seeds for both precisions; per seed in the JSON). Share "
            f"of peak: rows x {FLOP_PER_ROW / 1e6:.2f} MFLOP / epoch time / the float32 FMA "
            f"peak measured in this run (`fastmlp._core.fma_peak`, before and after every "
            f"round, median): {peak_text or 'no probe'}.\n\n{table}\n")
    print(text)
    section = "bf16_estimator" if args.estimator else "bf16"
    stem = f"{section}_quick" if args.quick else section
    write_text(RESULTS_DIR / f"{stem}.md", text)
    write_json(RESULTS_DIR / f"{stem}.json", {
        "rounds": rounds, "epochs": epochs, "rows": rows, "sizes": SIZES, "cpu": cpu_model(),
        "isa": _core.active_isa(), "peaks_gflops": {str(t): p for t, p in peaks.items()},
        "epoch_seconds": {f"{t} threads | batch {b} | {p}": v for (t, b, p), v in seconds.items()},
        "test_accuracy_by_seed": {f"batch {b} | {p}": {str(k): a for k, a in v.items()}
                                  for (b, p), v in accuracy.items()}})
    if not args.quick:
        update_docs_section(section, text)


if __name__ == "__main__":
    main()

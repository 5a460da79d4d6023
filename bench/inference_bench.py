"""Prediction latency: predict_proba on one row (and throughput on 10,000 rows), same run.

The same 784-256-128-10 ReLU network (weights copied, so every framework
computes the same function) answers through:

- fastmlp `MLPClassifier.predict_proba` (scikit-learn's interface, validation included);
- fastmlp `MLP.predict_proba`;
- the native forward alone (`MLP._net.predict`, no Python checks);
- PyTorch's eager forward (`torch.no_grad()`, `softmax(model(x))`), when torch is installed;
- scikit-learn's `MLPClassifier.predict_proba`.

Rounds alternate the contenders; each sample times many calls; the table
holds the median microseconds per call and each contender's ratio to PyTorch.

    python bench/inference_bench.py [--threads 2] [--rounds 7] [--quick]

Writes bench/results/inference.md and .json (inference_quick.* with --quick), and a
full run's table to its section of docs/benchmarks.md.
"""

import argparse
import sys
import warnings

import numpy as np
from _common import (
    RESULTS_DIR,
    blas_threads,
    cpu_model,
    fma_peak_gflops,
    markdown_table,
    median,
    seconds_per_call_samples,
    share_of_peak,
    thread_round_trip_ns,
    update_docs_section,
    write_json,
    write_text,
)

import fastmlp

SIZES = [784, 256, 128, 10]
# multiply-adds of one row's forward pass, counted as 2 flops each
FLOPS_PER_ROW = 2 * sum(i * o for i, o in zip(SIZES, SIZES[1:]))


def build(rng):
    """The same network in every framework: fastmlp's trained weights copied into the others."""
    X = rng.random((2000, SIZES[0]), dtype=np.float32)
    y = np.arange(2000) % SIZES[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = fastmlp.MLPClassifier(hidden_layer_sizes=tuple(SIZES[1:-1]), max_iter=1,
                                     random_state=0).fit(X, y)
    model = fastmlp.MLP(SIZES, "relu", "softmax", seed=0)
    for l in range(len(SIZES) - 1):
        model.W[l][...] = ours.coefs_[l]
        model.b[l][...] = ours.intercepts_[l]
    contenders = {
        "fastmlp MLPClassifier.predict_proba": ours.predict_proba,
        "fastmlp MLP.predict_proba": model.predict_proba,
        "fastmlp native forward": model._net.predict,
    }
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        layers = []
        for l in range(len(SIZES) - 1):
            linear = torch.nn.Linear(SIZES[l], SIZES[l + 1])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(ours.coefs_[l].T)))
                linear.bias.copy_(torch.from_numpy(ours.intercepts_[l].astype(np.float32)))
            layers += [linear, torch.nn.ReLU()] if l < len(SIZES) - 2 else [linear]
        net = torch.nn.Sequential(*layers).eval()

        def torch_proba(x):
            with torch.no_grad():
                return torch.softmax(net(torch.from_numpy(x)), dim=1).numpy()

        contenders["PyTorch eager forward"] = torch_proba
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = MLPClassifier(hidden_layer_sizes=tuple(SIZES[1:-1]), max_iter=1, random_state=0)
        theirs.fit(X.astype(np.float64), y)
    theirs.coefs_ = [np.asarray(w, dtype=np.float64) for w in ours.coefs_]
    theirs.intercepts_ = [np.asarray(b, dtype=np.float64) for b in ours.intercepts_]
    contenders["scikit-learn MLPClassifier.predict_proba"] = theirs.predict_proba
    return contenders, torch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2 rounds, short samples")
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    rng = np.random.default_rng(0)
    fastmlp.set_num_threads(args.threads)
    contenders, torch = build(rng)
    if torch is not None:
        torch.set_num_threads(args.threads)
    inputs = {1: rng.random((1, SIZES[0]), dtype=np.float32),
              10000: rng.random((10000, SIZES[0]), dtype=np.float32)}
    reference = contenders["fastmlp native forward"](inputs[1])
    for name, predict in contenders.items():  # the same function everywhere
        np.testing.assert_allclose(np.asarray(predict(inputs[1]), dtype=np.float64), reference,
                                   rtol=1e-4, atol=1e-6, err_msg=name)
    samples = {(name, rows): [] for name in contenders for rows in inputs}
    peaks, round_trips = [], []
    with blas_threads(args.threads):
        for round_index in range(rounds):
            peaks.append(fma_peak_gflops(args.threads))
            round_trips.append(thread_round_trip_ns() if args.threads > 1 else None)
            for rows, x in inputs.items():
                for name, predict in contenders.items():
                    per_call = seconds_per_call_samples(
                        lambda predict=predict, x=x: predict(x),
                        min_sample_seconds=0.02 if rows == 1 else 0.05,
                        samples=3 if args.quick else 5)
                    samples[(name, rows)].append(median(per_call))
            print(f"round {round_index + 1}/{rounds} done", flush=True)
    peaks.append(fma_peak_gflops(args.threads))
    peaks = [p for p in peaks if p]
    peak = median(peaks) if peaks else None
    medians = {key: median(values) for key, values in samples.items()}
    torch_name = "PyTorch eager forward"
    rows_out = []
    for name in contenders:
        one = medians[(name, 1)]
        many = medians[(name, 10000)]
        vs_torch = (f"{medians[(torch_name, 1)] / one:.2f}x" if torch is not None else "-")
        gflops = FLOPS_PER_ROW * 10000 / many / 1e9
        rows_out.append([name, f"{one * 1e6:.1f}", vs_torch,
                         f"{many * 1e3:.2f}", f"{gflops:.0f}", share_of_peak(gflops, peak)])
    table = markdown_table(["contender", "1 row: us/call (median)", "PyTorch's time / this",
                            "10,000 rows: ms", "10,000 rows: GFLOP/s", "share of peak"], rows_out)
    peak_text = (f"the float32 FMA peak of {args.threads} thread(s) measured in this run "
                 f"(`fastmlp._core.fma_peak`, before every round and at the end; median): "
                 f"{peak:.0f} GFLOP/s" if peak else "no FMA peak probe on this CPU")
    round_trips = [r for r in round_trips if r]
    trip_text = (f" A cache line's round trip between the two CPUs, before every round: "
                 f"{min(round_trips):.0f}-{max(round_trips):.0f} ns (median "
                 f"{median(round_trips):.0f}); a one-row forward on 2 threads hands its first "
                 f"layer to the thread team once (one round trip), so it moves with that."
                 if round_trips else "")
    command = " ".join(["python", "bench/inference_bench.py", *sys.argv[1:]])
    text = (f"# Prediction latency ({'quick' if args.quick else 'full'} run)\n\n"
            f"`{command}`: "
            f"{SIZES} ReLU/softmax, float32 input, {args.threads} thread(s), {rounds} rounds, "
            f"{cpu_model()}; share of peak: 10,000 rows' GFLOP/s over {peak_text}.{trip_text}\n\n"
            f"{table}\n")
    print(text)
    stem = "inference_quick" if args.quick else "inference"
    write_text(RESULTS_DIR / f"{stem}.md", text)
    write_json(RESULTS_DIR / f"{stem}.json", {
        "threads": args.threads, "rounds": rounds, "sizes": SIZES, "cpu": cpu_model(),
        "fma_peak_gflops": peaks, "round_trip_ns": round_trips,
        "seconds_per_call": {f"{name} | {rows} rows": values
                             for (name, rows), values in samples.items()}})
    if not args.quick:
        update_docs_section("inference", text)


if __name__ == "__main__":
    main()

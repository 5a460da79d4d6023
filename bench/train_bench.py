"""Training benchmark: fastmlp vs PyTorch vs scikit-learn on Fashion-MNIST.

The same network (784-256-128-10, ReLU, softmax cross-entropy), the same inputs
(pixels scaled to [0, 1] as float32), the same optimizer (SGD, momentum 0.9,
constant learning rate 0.05; 0.002 at batch 1) and the same number of updates per epoch
(ceil(rows / batch) batches that together cover every row once). Each
(framework, threads, batch size) runs in a fresh process. Reported: the median
wall time of the epochs after the warm-up epoch(s), and the test accuracy after
all epochs.

    python bench/train_bench.py                 # the full run (see bench/README.md)
    python bench/train_bench.py --quick         # a smoke run of a few seconds
"""

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

FRAMEWORKS = ("fastmlp", "pytorch", "sklearn")
LAYER_SIZES = (784, 256, 128, 10)
LEARNING_RATE = 0.05
MOMENTUM = 0.9
# The batch-1 subsample is drawn with DATA_SEED and stays fixed. Round r
# (1, 2, ...) trains every framework from seed FIRST_SEED + r - 1 (weights
# and epoch orders): timings take the median over rounds, accuracies the mean,
# so the same-learning check compares the frameworks over several seeds rather
# than on one chaotic SGD trajectory.
DATA_SEED = 0
FIRST_SEED = 0
# Batch 1 costs PyTorch and scikit-learn 0.5-1 ms per row on one core, and
# 10-30 ms per row when two OpenMP threads share a busy machine, so by default
# batch 1 trains on a fixed 5% subsample for 4 epochs (3 timed); every
# framework gets the same rows. Ratios do not depend on the row count.
DEFAULT_BATCH1_ROWS = 3000
DEFAULT_BATCH1_EPOCHS = 4
# One row per update with momentum 0.9 diverges at 0.05 in every framework
# (test accuracy 10%, NaN weights), and a diverged run times NaN arithmetic
# and each framework's handling of it, not training: fastmlp took 0.163 s
# per 3,000-row epoch diverged against 0.122 s learning. At 0.002 all three
# learn (76-80% after 4 epochs on the subsample).
BATCH1_LEARNING_RATE = 0.002
ACCURACY_BATCH = 128
SAME_LEARNING_POINTS = 0.5


# ================================================================== worker side
def load_training_data(rows):
    """The first `rows` rows of one fixed shuffle of the training set, and the full test set."""
    import numpy as np

    from fastmlp import datasets

    data = datasets.load_fashion_mnist()
    chosen = np.random.default_rng(DATA_SEED).permutation(len(data.y_train))[:rows]
    chosen.sort()  # keeps the subsample fixed while reading memory in order
    X_train = datasets.to_float32(data.X_train[chosen])
    X_test = datasets.to_float32(data.X_test)
    return X_train, data.y_train[chosen].astype(np.int64), X_test, data.y_test.astype(np.int64)


def shared_start(seed):
    """He-normal weights, zero biases (float32, inputs x outputs) and the generator after them.

    fastmlp and PyTorch both start from these weights, and PyTorch takes its
    epoch orders from the returned generator (one permutation per epoch), which
    mirrors fastmlp's batch plan (MLP(seed=...) draws He-normal weights, then
    permutations, from one numpy Generator). So both see the same batches and
    their accuracies differ only by floating-point arithmetic. If fastmlp's plan
    changes, the orders simply differ and the check gets noisier, nothing else.
    scikit-learn keeps its own Glorot init and shuffle (it has no public way to set them).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    weights = [(rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
               for fan_in, fan_out in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:])]
    biases = [np.zeros(fan_out, dtype=np.float32) for fan_out in LAYER_SIZES[1:]]
    return weights, biases, rng


def train_fastmlp(data, config):
    fastmlp = common.import_fastmlp_or_exit()
    from fastmlp.errors import TrainingDivergedError

    X, y, X_test, y_test = data
    fastmlp.set_num_threads(config["threads"])
    model = fastmlp.MLP(list(LAYER_SIZES), activation="relu", output="softmax", seed=config["seed"])
    weights, biases, _ = shared_start(config["seed"])
    for layer, (W, b) in enumerate(zip(weights, biases)):
        model.W[layer][...] = W
        model.b[layer][...] = b
    # Wall time between epoch ends, like the other frameworks' loops: it
    # includes the per-epoch shuffle and Python overhead, not only the native epoch.
    stamps = [time.perf_counter()]

    def stamp_epoch_end(_model, metrics):
        stamps.append(time.perf_counter())
        common.progress(f"      epoch {metrics['epoch']}: {stamps[-1] - stamps[-2]:.3f} s")

    diverged = False
    try:
        model.fit(X, y, epochs=config["epochs"], batch_size=config["batch_size"], optimizer="momentum",
                  learning_rate=config["learning_rate"], momentum=MOMENTUM, callbacks=[stamp_epoch_end])
    except TrainingDivergedError:
        diverged = True
    return {
        "epoch_seconds": [b - a for a, b in zip(stamps, stamps[1:])],
        "native_epoch_seconds": model.history.get("seconds", []),
        "final_train_loss": model.history["loss"][-1] if model.history.get("loss") else None,
        "test_accuracy": model.score(X_test, y_test),
        "diverged": diverged,
        "version": f"{fastmlp.__version__} ({fastmlp._core.active_isa()})",
    }


def train_pytorch(data, config):
    import torch

    X, y, X_test, y_test = data
    torch.set_num_threads(config["threads"])
    torch.manual_seed(config["seed"])
    model = torch.nn.Sequential(
        torch.nn.Linear(LAYER_SIZES[0], LAYER_SIZES[1]), torch.nn.ReLU(),
        torch.nn.Linear(LAYER_SIZES[1], LAYER_SIZES[2]), torch.nn.ReLU(),
        torch.nn.Linear(LAYER_SIZES[2], LAYER_SIZES[3]))
    weights, biases, order_generator = shared_start(config["seed"])
    with torch.no_grad():
        for linear, W, b in zip(model[::2], weights, biases):
            linear.weight.copy_(torch.from_numpy(W.T.copy()))  # torch stores (outputs x inputs)
            linear.bias.copy_(torch.from_numpy(b))
    optimizer = torch.optim.SGD(model.parameters(), lr=config["learning_rate"], momentum=MOMENTUM)
    X_train, y_train = torch.from_numpy(X), torch.from_numpy(y)
    n, batch = len(y), config["batch_size"]
    epoch_seconds, last_loss = [], None
    for epoch in range(1, config["epochs"] + 1):
        started = time.perf_counter()
        order = torch.from_numpy(order_generator.permutation(n))
        for start in range(0, n, batch):
            rows = order[start:start + batch]
            loss = torch.nn.functional.cross_entropy(model(X_train[rows]), y_train[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        epoch_seconds.append(time.perf_counter() - started)
        last_loss = float(loss.detach())
        common.progress(f"      epoch {epoch}: {epoch_seconds[-1]:.3f} s")
    with torch.no_grad():
        predicted = model(torch.from_numpy(X_test)).argmax(dim=1).numpy()
    return {
        "epoch_seconds": epoch_seconds,
        "final_train_loss": last_loss,  # of the last batch only
        "test_accuracy": float((predicted == y_test).mean()),
        "diverged": not math.isfinite(last_loss),
        "version": torch.__version__,
    }


def train_sklearn(data, config):
    import numpy as np
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y, X_test, y_test = data
    model = MLPClassifier(
        hidden_layer_sizes=LAYER_SIZES[1:-1], activation="relu", solver="sgd",
        batch_size=config["batch_size"], learning_rate="constant", learning_rate_init=config["learning_rate"],
        momentum=MOMENTUM, nesterovs_momentum=False, alpha=0.0, shuffle=True, random_state=config["seed"],
        early_stopping=False, tol=0.0, n_iter_no_change=10**9)
    classes = np.arange(LAYER_SIZES[-1])
    epoch_seconds = []
    # partial_fit is exactly one epoch over all rows in batch_size batches
    # (shuffled), and unlike fit(warm_start=True) it keeps the momentum between epochs.
    with common.blas_threads(config["threads"]), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(1, config["epochs"] + 1):
            started = time.perf_counter()
            model.partial_fit(X, y, classes=classes)
            epoch_seconds.append(time.perf_counter() - started)
            common.progress(f"      epoch {epoch}: {epoch_seconds[-1]:.3f} s")
        accuracy = float(model.score(X_test, y_test))
    blas = common.numpy_blas_info()
    return {
        "epoch_seconds": epoch_seconds,
        "final_train_loss": float(model.loss_),
        "test_accuracy": accuracy,
        "diverged": not math.isfinite(model.loss_),
        "version": f"{sklearn.__version__} ({blas.get('internal_api')} {blas.get('architecture')})",
    }


TRAINERS = {"fastmlp": train_fastmlp, "pytorch": train_pytorch, "sklearn": train_sklearn}


def batch1_bytes_per_step():
    """Bytes one batch-1 step of fastmlp's fused kernels moves (float32, momentum):
    the forward reads the weights of every layer but the first (whose forward
    the previous update summed), and each layer's fused backward + update reads
    and writes its weights and their velocity once. Biases are left out."""
    pairs = list(zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]))
    weights = sum(i * o for i, o in pairs)
    return 4 * sum(i * o for i, o in pairs[1:]) + 4 * 4 * weights


def batch1_working_set_bytes():
    """The weights and their velocity: what a batch-1 step sweeps, step after step."""
    return 2 * 4 * sum(i * o for i, o in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]))


def batch1_bandwidth(threads):
    """Read bandwidth of the cache level that holds each thread's share of the
    batch-1 working set (the fused kernels give each thread its own row blocks)."""
    return common.read_bandwidth_gbs(batch1_working_set_bytes() / threads, threads)


def run_worker(config):
    """One (framework, threads, batch size) measurement in this fresh process."""
    common.import_fastmlp_or_exit()  # the data loader lives in fastmlp
    data = load_training_data(config["rows"])
    probe = config["threads"] >= 2
    before = common.thread_round_trip_ns() if probe else None
    peaks = [common.fma_peak_gflops(config["threads"])]
    roofline = config["framework"] == "fastmlp" and config["batch_size"] == 1
    bandwidths = [batch1_bandwidth(config["threads"])] if roofline else []
    result = TRAINERS[config["framework"]](data, config)
    peaks.append(common.fma_peak_gflops(config["threads"]))
    result["fma_peak_gflops"] = [p for p in peaks if p]
    if roofline:
        bandwidths.append(batch1_bandwidth(config["threads"]))
        result["batch1_bandwidth_gbs"] = [b for b in bandwidths if b]
    if probe:
        result["round_trip_ns"] = [before, common.thread_round_trip_ns()]
    timed = result["epoch_seconds"][config["warmup_epochs"]:]
    result.update(config)
    result["timed_epochs"] = len(timed)
    result["median_epoch_seconds"] = common.median(timed) if timed else None
    result["updates_per_epoch"] = math.ceil(config["rows"] / config["batch_size"])
    common.emit_worker_result(result)


# ================================================================== parent side
def plan_configs(args):
    """Every (batch, threads, framework) to measure, frameworks adjacent so drift hits all alike."""
    configs = []
    for batch in args.batch_sizes:
        rows, epochs = args.rows, args.epochs
        if batch == 1 and args.batch1_rows:
            rows = min(rows, args.batch1_rows)
        if batch == 1 and args.batch1_epochs:
            epochs = args.batch1_epochs
        for threads in args.threads:
            for framework in args.frameworks:
                configs.append({"framework": framework, "threads": threads, "batch_size": batch,
                                "rows": rows, "epochs": epochs,
                                "learning_rate": (args.batch1_learning_rate if batch == 1
                                                  else args.learning_rate),
                                "warmup_epochs": args.warmup_epochs})
    return configs


def run_all(configs, timeout_seconds, rounds):
    """Every configuration once per round; rounds repeat the whole sweep, so a
    burst of outside load lands in one round of each configuration, not in
    all of them, and the median over rounds discards it."""
    per_config = [[] for _ in configs]
    for round_number in range(1, rounds + 1):
        for number, config in enumerate(configs, 1):
            config = {**config, "seed": FIRST_SEED + round_number - 1}
            common.progress(f"[round {round_number}/{rounds}, {number}/{len(configs)}] "
                            f"{config['framework']}: batch {config['batch_size']}, "
                            f"{config['threads']} thread(s), {config['rows']:,} rows, "
                            f"{config['epochs']} epochs, seed {config['seed']}")
            started = time.perf_counter()
            result = {**config, **common.run_worker(__file__, config, config["threads"], timeout_seconds)}
            per_config[number - 1].append(result)
            if "error" in result:
                common.progress(f"    FAILED: {result['error']}")
            else:
                median = result.get("median_epoch_seconds")
                trip = result.get("round_trip_ns")
                common.progress(f"    median epoch {'n/a' if median is None else f'{median:.3f} s'}, "
                                f"test accuracy {result['test_accuracy']:.4f}"
                                f"{' (diverged)' if result.get('diverged') else ''} "
                                f"({time.perf_counter() - started:.0f} s including start-up)"
                                + (f", CPU round trip {trip[0]} / {trip[1]} ns" if trip else ""))
    return [merge_rounds(runs) for runs in per_config]


def merge_rounds(runs):
    """One result per configuration: the first successful round's details, with
    the epoch time replaced by the median over rounds of each round's median
    and the test accuracy by the mean over rounds (one seed each). Rounds that
    failed are left out of both and listed in round_errors."""
    good = [r for r in runs if "error" not in r and r.get("median_epoch_seconds")]
    failed = [f"seed {r.get('seed')}: {r.get('error') or 'no timed epoch'}" for r in runs if r not in good]
    if not good:
        return {**runs[0], "round_errors": failed}
    merged = dict(good[0])
    merged["round_median_epoch_seconds"] = [r["median_epoch_seconds"] for r in good]
    merged["median_epoch_seconds"] = common.median(merged["round_median_epoch_seconds"])
    merged["round_seeds"] = [r.get("seed") for r in good]
    merged["round_test_accuracy"] = [r["test_accuracy"] for r in good]
    merged["round_diverged"] = [bool(r.get("diverged")) for r in good]
    merged["round_trip_ns"] = [r.get("round_trip_ns") for r in good]
    merged["fma_peak_gflops"] = [p for r in good for p in r.get("fma_peak_gflops", [])]
    merged["batch1_bandwidth_gbs"] = [b for r in good for b in r.get("batch1_bandwidth_gbs", [])]
    merged["test_accuracy"] = sum(merged["round_test_accuracy"]) / len(good)
    merged["diverged"] = any(merged["round_diverged"])
    merged["round_errors"] = failed
    return merged


def find(results, framework, threads, batch):
    for result in results:
        if (result["framework"], result["threads"], result["batch_size"]) == (framework, threads, batch):
            if "error" not in result and result.get("median_epoch_seconds"):
                return result
    return None


def ratio(numerator, denominator):
    if numerator is None or denominator is None:
        return None
    return numerator["median_epoch_seconds"] / denominator["median_epoch_seconds"]


def flops_per_row():
    """Multiply-adds x 2 of one training row: forward and dW of every layer, and
    dA of every layer but the first (nothing needs the input's gradient)."""
    pairs = list(zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]))
    macs = sum(2 * i * o for i, o in pairs) + sum(i * o for i, o in pairs[1:])
    return 2 * macs


def peaks_by_threads(results, args):
    """{threads: median of every FMA-peak probe taken around that thread count's runs}."""
    peaks = {}
    for threads in args.threads:
        probes = [p for r in results if r.get("threads") == threads for p in r.get("fma_peak_gflops", [])]
        peaks[threads] = common.median(probes) if probes else None
    return peaks


def share_of_peak(result, peak):
    """fastmlp's training arithmetic per second as a share of the FMA peak."""
    if result is None or not peak:
        return None
    gflops = result["rows"] * flops_per_row() / result["median_epoch_seconds"] / 1e9
    return gflops / peak


def summarize(results, args):
    """Speedups per (batch, threads), shares of the peak, thread scaling, and the same-learning check."""
    rows = []
    peaks = peaks_by_threads(results, args)
    for batch in args.batch_sizes:
        for threads in args.threads:
            fast = find(results, "fastmlp", threads, batch)
            torch_ = find(results, "pytorch", threads, batch)
            skl = find(results, "sklearn", threads, batch)
            any_result = fast or torch_ or skl
            rows.append({
                "fastmlp_share_of_peak": share_of_peak(fast, peaks[threads]),
                "pytorch_share_of_peak": share_of_peak(torch_, peaks[threads]),
                "batch_size": batch, "threads": threads,
                "rows": any_result["rows"] if any_result else None,
                "updates_per_epoch": any_result["updates_per_epoch"] if any_result else None,
                "seconds": {name: (r["median_epoch_seconds"] if r else None)
                            for name, r in (("fastmlp", fast), ("pytorch", torch_), ("sklearn", skl))},
                "speedup_vs_pytorch": ratio(torch_, fast),
                "speedup_vs_sklearn": ratio(skl, fast),
            })
    scaling = {}
    for batch in args.batch_sizes:
        one, two = find(results, "fastmlp", 1, batch), find(results, "fastmlp", 2, batch)
        scaling[str(batch)] = ratio(one, two)
    accuracy_checks = []
    for threads in args.threads:
        fast = find(results, "fastmlp", threads, ACCURACY_BATCH)
        torch_ = find(results, "pytorch", threads, ACCURACY_BATCH)
        if fast and torch_:
            # Only seeds both frameworks trained without diverging are compared, pairwise.
            fast_by_seed, torch_by_seed = accuracy_by_seed(fast), accuracy_by_seed(torch_)
            seeds = [seed for seed in fast_by_seed if seed in torch_by_seed]
            if not seeds:
                continue
            gaps = [100 * (fast_by_seed[seed] - torch_by_seed[seed]) for seed in seeds]
            gap = sum(gaps) / len(gaps)
            accuracy_checks.append({"threads": threads, "batch_size": ACCURACY_BATCH,
                                    "epochs": fast["epochs"], "seeds": seeds,
                                    "fastmlp": sum(fast_by_seed[s] for s in seeds) / len(seeds),
                                    "pytorch": sum(torch_by_seed[s] for s in seeds) / len(seeds),
                                    "gap_points_per_seed": gaps, "gap_points": gap,
                                    "passed": abs(gap) <= SAME_LEARNING_POINTS})
    roofline = []
    if 1 in args.batch_sizes:
        for threads in args.threads:
            fast = find(results, "fastmlp", threads, 1)
            bandwidths = (fast or {}).get("batch1_bandwidth_gbs") or []
            if not fast or not bandwidths:
                continue
            step_seconds = fast["median_epoch_seconds"] / fast["updates_per_epoch"]
            bandwidth = common.median(bandwidths)
            moved = batch1_bytes_per_step() / step_seconds / 1e9
            roofline.append({"threads": threads, "step_us": 1e6 * step_seconds,
                             "bytes_per_step": batch1_bytes_per_step(),
                             "working_set_bytes": batch1_working_set_bytes(),
                             "bandwidth_gbs": bandwidth, "moved_gbs": moved,
                             "share_of_roofline": moved / bandwidth})
    return {"ratios": rows, "fma_peak_gflops": {str(t): p for t, p in peaks.items()},
            "batch1_roofline": roofline,
            "flops_per_row": flops_per_row(),
            "fastmlp_2_vs_1_thread": scaling, "same_learning": accuracy_checks,
            "pytorch_accuracy_spread_points": pytorch_accuracy_spread(results, args)}


def accuracy_by_seed(result):
    """{seed: test accuracy} of a merged result's rounds that did not diverge
    (one entry for a result from before per-round seeds)."""
    seeds = result.get("round_seeds") or [result.get("seed")]
    accuracies = result.get("round_test_accuracy") or [result["test_accuracy"]]
    # (results written before round_diverged existed carry one flag for all rounds)
    diverged = result.get("round_diverged") or [bool(result.get("diverged"))] * len(seeds)
    return {seed: acc for seed, acc, bad in zip(seeds, accuracies, diverged) if not bad}


def pytorch_accuracy_spread(results, args):
    """How far PyTorch's own accuracy at the check's batch size moves with its thread count.

    Its summation order depends on the thread count, and after a few epochs of
    SGD that alone moves the test accuracy; it is the noise floor of the check.
    """
    runs = [find(results, "pytorch", threads, ACCURACY_BATCH) for threads in args.threads]
    by_seed = [accuracy_by_seed(run) for run in runs if run]
    if len(by_seed) < 2:
        return None
    seeds = [seed for seed in by_seed[0] if all(seed in other for other in by_seed)]
    spreads = [max(b[seed] for b in by_seed) - min(b[seed] for b in by_seed) for seed in seeds]
    return 100 * sum(spreads) / len(spreads) if spreads else None


def fmt_seconds(value):
    if value is None:
        return "n/a"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def fmt_ratio(value):
    if value is None:
        return "n/a"
    return f"{value:.2f}x" if value >= 0.1 else f"{value:.3f}x"


def fmt_share(value):
    return "n/a" if value is None else f"{100 * value:.0f}%"


def fmt_accuracy(result):
    return "n/a" if result is None else f"{100 * result['test_accuracy']:.2f}"


def render_markdown(results, summary, args, machine, command, wall_seconds):
    timed = args.epochs - args.warmup_epochs
    batch1_note = ""
    if 1 in args.batch_sizes:
        batch1 = [r for r in results if r["batch_size"] == 1]
        rows1, epochs1 = (batch1[0]["rows"], batch1[0]["epochs"]) if batch1 else (args.rows, args.epochs)
        if (rows1, epochs1) != (args.rows, args.epochs):
            batch1_note = (f" **Batch 1 trains on a fixed subsample of {rows1:,} rows for {epochs1} epochs** "
                           f"(the same rows for every framework), so its epoch times are for {rows1:,} "
                           f"rows; the ratios do not depend on it.")
    lines = [
        "# Training benchmark: fastmlp vs PyTorch vs scikit-learn",
        "",
        f"Fashion-MNIST, {'-'.join(map(str, LAYER_SIZES))} MLP, ReLU, softmax cross-entropy, SGD with "
        f"momentum {MOMENTUM} (constant learning rate {args.learning_rate}"
        + (f"; {args.batch1_learning_rate} at batch 1, where one row per update diverges at the "
           f"larger rate" if 1 in args.batch_sizes and args.batch1_learning_rate < args.learning_rate
           else "")
        + "), inputs scaled to [0, 1] float32. "
        f"Every epoch visits each of the {args.rows:,} training rows once in ceil(rows / batch) "
        f"updates.{batch1_note}",
        "",
        f"Epoch time = median wall time of the epochs after the first {args.warmup_epochs} "
        f"(warm-up, not timed): {timed} timed epochs per configuration"
        + (f" ({args.batch1_epochs - args.warmup_epochs} at batch 1)"
           if args.batch1_epochs and 1 in args.batch_sizes else "")
        + ", "
        "measured around each framework's own epoch loop including its shuffle. "
        f"Test accuracy on the 10,000 test images after all {args.epochs} epochs"
        + (f" ({args.batch1_epochs} at batch 1)" if args.batch1_epochs and 1 in args.batch_sizes else "")
        + ". Each (framework, "
        f"threads, batch) ran in a fresh process, once in each of {getattr(args, 'rounds', 1)} "
        "rounds over all configurations; the time reported is the median over rounds.",
        "",
        common.describe_machine(machine),
        f"- Command: `{command}` (took {wall_seconds / 60:.1f} min)",
        "",
        "## Speedup of fastmlp",
        "",
    ]
    headers = ["batch", "threads", "rows", "updates/epoch", "fastmlp s/epoch", "fastmlp share of peak",
               "PyTorch s/epoch", "PyTorch share of peak", "scikit-learn s/epoch", "vs PyTorch",
               "vs scikit-learn"]
    table = [[r["batch_size"], r["threads"], f"{r['rows']:,}" if r["rows"] else "n/a",
              f"{r['updates_per_epoch']:,}" if r["updates_per_epoch"] else "n/a",
              fmt_seconds(r["seconds"]["fastmlp"]), fmt_share(r.get("fastmlp_share_of_peak")),
              fmt_seconds(r["seconds"]["pytorch"]), fmt_share(r.get("pytorch_share_of_peak")),
              fmt_seconds(r["seconds"]["sklearn"]), fmt_ratio(r["speedup_vs_pytorch"]),
              fmt_ratio(r["speedup_vs_sklearn"])] for r in summary["ratios"]]
    peaks = summary.get("fma_peak_gflops", {})
    peak_text = ", ".join(f"{p:.0f} GFLOP/s on {t} thread{'s' if t != '1' else ''}"
                          for t, p in peaks.items() if p) or "not measured (no probe for this CPU)"
    lines += [common.markdown_table(headers, table), "",
              "\"vs X\" = X's epoch time / fastmlp's epoch time (above 1: fastmlp is faster). "
              f"Share of peak = rows x {summary.get('flops_per_row', flops_per_row()) / 1e6:.2f} MFLOP "
              "(forward, dW, and dA below the output layers: 2 x multiply-adds per row) / epoch time / "
              "the float32 FMA peak measured in this run, around every worker's training "
              f"(`fastmlp._core.fma_peak`, median of the probes): {peak_text}.", "",
              "## fastmlp with 2 threads vs 1 thread", ""]
    scaling_rows = [[batch, fmt_ratio(value)] for batch, value in summary["fastmlp_2_vs_1_thread"].items()]
    if {1, 2} <= set(args.threads):
        lines += [common.markdown_table(["batch", "1-thread time / 2-thread time"], scaling_rows), ""]
    else:
        lines += ["Not measured (needs --threads 1,2).", ""]
    lines += render_roofline(summary)
    lines += render_round_table(results, args)
    lines += ["## Test accuracy (%)", ""]
    accuracy_rows = []
    for batch in args.batch_sizes:
        for threads in args.threads:
            accuracy_rows.append([batch, threads] + [fmt_accuracy(find(results, name, threads, batch))
                                                     for name in FRAMEWORKS])
    lines += [common.markdown_table(["batch", "threads", "fastmlp", "PyTorch", "scikit-learn"],
                                    accuracy_rows), "",
              "Mean over the rounds (one seed each; a failed round is left out and listed "
              "under Problems). "
              "fastmlp and PyTorch start from the same He-normal weights; scikit-learn uses its own "
              "initialization. Batch 1 trains a few epochs on a subsample, so its accuracies "
              "are lower; a diverged run (10%) says nothing about its framework.", ""]
    lines += ["## Same-learning check (batch 128)", ""]
    if args.epochs < 5 or args.rows < 60000:
        lines += ["Informational only: the check is meant for >= 5 epochs on all 60,000 rows.", ""]
    if summary["same_learning"]:
        check_rows = [[c["threads"], c["epochs"], len(c.get("seeds", [None])),
                       f"{100 * c['fastmlp']:.2f}", f"{100 * c['pytorch']:.2f}",
                       ", ".join(f"{g:+.2f}" for g in c.get("gap_points_per_seed", [c["gap_points"]])),
                       f"{c['gap_points']:+.2f}", "pass" if c["passed"] else "FAIL"]
                      for c in summary["same_learning"]]
        lines.append(common.markdown_table(
            ["threads", "epochs", "seeds", "fastmlp % (mean)", "PyTorch % (mean)", "gap per seed",
             "mean gap (points)", f"within {SAME_LEARNING_POINTS} points"], check_rows))
        lines += ["", "Both frameworks start each seed from the same weights and visit the same batches; "
                  "the gap is fastmlp's accuracy minus PyTorch's for that seed, and the check is on its "
                  "mean over seeds."]
        spread = summary["pytorch_accuracy_spread_points"]
        if spread is not None:
            lines += ["", f"For scale: with the same seed, PyTorch's own accuracy differs by {spread:.2f} "
                      "points on average between its thread counts (its summation order depends on them; "
                      "fastmlp's does not)."]
    else:
        lines.append("Not measured in this run (needs fastmlp and PyTorch at batch 128).")
    problems = []
    for r in results:
        where = f"{r['framework']} batch {r['batch_size']} threads {r['threads']}"
        if "error" in r and not r.get("round_errors"):
            problems.append(f"- {where}: {r['error']}")
        problems += [f"- {where}: round with {error}" for error in r.get("round_errors", [])]
        if r.get("diverged"):
            bad = [s for s, d in zip(r.get("round_seeds", []), r.get("round_diverged", [])) if d]
            problems.append(f"- {where}: training diverged (non-finite loss)"
                            + (f" with seed {', '.join(map(str, bad))}" if bad else ""))
    if problems:
        lines += ["", "## Problems", ""] + problems
    return "\n".join(lines)


def render_roofline(summary):
    """Batch 1 against the bandwidth of the cache that holds its working set."""
    rows = summary.get("batch1_roofline") or []
    if not rows:
        return []
    table = [[r["threads"], f"{r['step_us']:.1f}", f"{r['bytes_per_step'] / 1e6:.2f}",
              f"{r['moved_gbs']:.0f}", f"{r['bandwidth_gbs']:.0f}",
              f"{100 * r['share_of_roofline']:.0f}%"] for r in rows]
    working_set = rows[0]["working_set_bytes"] / 1e6
    return ["## Batch 1 against the memory roofline", "",
            common.markdown_table(["threads", "fastmlp us/step", "MB moved per step", "GB/s moved",
                                   "read bandwidth GB/s", "share of roofline"], table), "",
            "A batch-1 step of the fused kernels moves the weights and their velocity once (read "
            "and written) and reads the weights of every layer after the first once more "
            f"(float32, biases left out). The weights and velocity ({working_set:.2f} MB) are split "
            "by row blocks between the threads, so the roofline is the read bandwidth of one "
            "thread's share of them, measured in this run around the batch-1 workers "
            "(`fastmlp._core.read_bandwidth`, median); writes are counted at the read rate, so the "
            "roofline is an optimistic bound.", ""]


def render_round_table(results, args):
    """Every round of every multi-thread run, with the CPUs' round-trip time around it."""
    rows = []
    for batch in args.batch_sizes:
        for threads in [t for t in args.threads if t >= 2]:
            for framework in args.frameworks:
                result = find(results, framework, threads, batch)
                trips = (result or {}).get("round_trip_ns")
                if not result or not trips:
                    continue
                cells = []
                for seconds, trip in zip(result["round_median_epoch_seconds"], trips):
                    witness = f" ({trip[0]:.0f} / {trip[1]:.0f} ns)" if trip and None not in trip else ""
                    cells.append(f"{fmt_seconds(seconds)}{witness}")
                rows.append([batch, threads, framework, ", ".join(cells)])
    if not rows:
        return []
    return ["## Multi-thread runs round by round", "",
            "Epoch time of each round (seconds), with the time a cache line takes to go from one "
            "CPU to the other and back, measured just before and just after that run. On a "
            "virtual machine the hypervisor decides where the two CPUs run and can move them "
            "(the round trip then changes between measurements); rounds far slower than the "
            "others show how much two-thread timings move with it.", "",
            common.markdown_table(["batch", "threads", "framework", "rounds: s/epoch (round trip before / after)"],
                                  rows), ""]


def plot(results, args, path):
    """Epoch time against batch size, log-log; scaled to the full row count where subsampled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"fastmlp": "tab:red", "pytorch": "tab:blue", "sklearn": "tab:green"}
    labels = {"fastmlp": "fastmlp", "pytorch": "PyTorch", "sklearn": "scikit-learn"}
    styles = {1: "-", 2: "--"}
    figure, axes = plt.subplots(figsize=(7, 4.5))
    scaled_any = False
    for framework in args.frameworks:
        for threads in args.threads:
            points = []
            for batch in args.batch_sizes:
                result = find(results, framework, threads, batch)
                if result:
                    # Epoch time is linear in rows for a fixed batch size.
                    scale = args.rows / result["rows"]
                    scaled_any |= scale != 1
                    points.append((batch, result["median_epoch_seconds"] * scale))
            if points:
                xs, ys = zip(*points)
                axes.plot(xs, ys, styles.get(threads, ":"), marker="o", color=colors[framework],
                          label=f"{labels[framework]}, {threads} thread{'s' if threads > 1 else ''}")
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xticks(args.batch_sizes, [str(b) for b in args.batch_sizes])
    axes.set_xlabel("batch size")
    axes.set_ylabel(f"seconds per epoch of {args.rows:,} rows")
    title = "Fashion-MNIST 784-256-128-10, SGD + momentum: epoch time (lower is better)"
    if scaled_any:
        title += f"\n(batch 1 measured on {min(args.rows, args.batch1_rows):,} rows, scaled linearly)"
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def available_frameworks(requested):
    """The requested frameworks that import here; the rest are skipped with a note."""
    modules = {"fastmlp": "fastmlp", "pytorch": "torch", "sklearn": "sklearn"}
    usable = []
    for name in requested:
        if name not in modules:
            raise SystemExit(f"unknown framework {name!r}: expected some of {', '.join(FRAMEWORKS)}")
        try:
            __import__(modules[name])
            usable.append(name)
        except ImportError:
            common.progress(f"skipping {name}: {modules[name]} is not installed")
    return usable


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=common.parse_int_list, default=[1, 32, 128, 1024])
    parser.add_argument("--threads", type=common.parse_int_list, default=[1, 2])
    parser.add_argument("--epochs", type=int, default=5, help="epochs trained per configuration")
    parser.add_argument("--warmup-epochs", type=int, default=1, help="leading epochs left out of the median")
    parser.add_argument("--rounds", type=int, default=5,
                        help="sweeps over every configuration; the report takes the median over rounds")
    parser.add_argument("--rows", type=int, default=60000,
                        help="train on a fixed subsample of this many rows (all frameworks alike)")
    parser.add_argument("--batch1-rows", type=int, default=DEFAULT_BATCH1_ROWS,
                        help="row cap for batch size 1 only; 0 = no cap")
    parser.add_argument("--batch1-epochs", type=int, default=DEFAULT_BATCH1_EPOCHS,
                        help="epochs for batch size 1 only; 0 = same as --epochs")
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    parser.add_argument("--batch1-learning-rate", type=float, default=BATCH1_LEARNING_RATE,
                        help="the learning rate at batch size 1")
    parser.add_argument("--frameworks", type=common.parse_name_list, default=list(FRAMEWORKS))
    parser.add_argument("--timeout", type=float, default=600, help="seconds per configuration")
    parser.add_argument("--out-dir", type=Path, default=None, help="default: bench/results")
    parser.add_argument("--plot", type=Path, default=None, help="default: docs/img/train_bench.png "
                        "(not drawn in --quick runs unless given)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2,000 rows, batches 32 and 128, 1 thread, 2 epochs")
    parser.add_argument("--rerender", action="store_true",
                        help="rewrite the report, plot and docs from the saved JSON without measuring")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.batch_sizes, args.threads = 2000, [32, 128], [1]
        args.epochs, args.warmup_epochs, args.rounds = 2, 1, 1
    if args.epochs - args.warmup_epochs < 1:
        parser.error("--epochs must exceed --warmup-epochs")
    return args


def write_report(results, args, machine, command, wall_seconds):
    """train(.quick).md/.json, the plot and, for a full run, docs/benchmarks.md."""
    summary = summarize(results, args)
    out_dir = args.out_dir or common.RESULTS_DIR
    stem = "train_quick" if args.quick else "train"
    markdown = render_markdown(results, summary, args, machine, command, wall_seconds)
    common.write_text(out_dir / f"{stem}.md", markdown)
    common.write_json(out_dir / f"{stem}.json", {
        "command": command, "wall_seconds": wall_seconds, "machine": machine,
        "settings": {"layer_sizes": LAYER_SIZES, "learning_rate": args.learning_rate,
                     "batch1_learning_rate": args.batch1_learning_rate, "momentum": MOMENTUM,
                     "epochs": args.epochs, "warmup_epochs": args.warmup_epochs, "rows": args.rows,
                     "batch1_rows": args.batch1_rows, "batch1_epochs": args.batch1_epochs,
                     "batch_sizes": args.batch_sizes, "threads": args.threads,
                     "frameworks": args.frameworks, "quick": args.quick, "rounds": args.rounds},
        "summary": summary, "results": results})
    # The docs' plot belongs to full runs into bench/results; a run elsewhere
    # (--out-dir) draws its plot beside its own results.
    if args.plot:
        plot_path = args.plot
    elif args.quick:
        plot_path = None
    elif args.out_dir is not None:
        plot_path = out_dir / "train_bench.png"
    else:
        plot_path = common.REPO_DIR / "docs" / "img" / "train_bench.png"
    if plot_path:
        plot(results, args, plot_path)
    if not args.quick and args.out_dir is None:
        image = "img/train_bench.png"
        common.update_docs_section("train", markdown + f"\n\n![epoch time per batch size]({image})")
    print(markdown)
    common.progress(f"wrote {out_dir / stem}.md and .json" + (f", {plot_path}" if plot_path else ""))


def rerender(args):
    """Rewrite the report of an earlier run from its JSON (after a change to the report code)."""
    stem = "train_quick" if args.quick else "train"
    saved = json.loads(((args.out_dir or common.RESULTS_DIR) / f"{stem}.json").read_text())
    results, settings = saved["results"], saved["settings"]
    for name in ("epochs", "warmup_epochs", "rows", "batch1_rows", "batch1_epochs", "learning_rate"):
        setattr(args, name, settings[name])
    # Runs before the batch-1 rate existed trained batch 1 at the common rate.
    args.batch1_learning_rate = settings.get("batch1_learning_rate", args.learning_rate)
    args.rounds = settings.get("rounds", 1)
    args.batch_sizes = settings.get("batch_sizes") or sorted({r["batch_size"] for r in results})
    args.threads = settings.get("threads") or sorted({r["threads"] for r in results})
    args.frameworks = settings.get("frameworks") or [f for f in FRAMEWORKS
                                                     if any(r["framework"] == f for r in results)]
    write_report(results, args, saved["machine"], saved["command"], saved["wall_seconds"])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    # sklearn's numpy BLAS must run with its own kernel choice, as for a user.
    common.reexec_without_blas_overrides()
    if args.worker:
        run_worker(json.loads(args.worker))
        return 0
    if args.rerender:
        rerender(args)
        return 0
    if args.epochs - args.warmup_epochs < 3:
        common.progress(f"note: only {args.epochs - args.warmup_epochs} timed epoch(s) per configuration")
    args.frameworks = available_frameworks(args.frameworks)
    machine = common.machine_info()
    command = "python bench/train_bench.py" + ("" if not argv else " " + " ".join(argv))
    started = time.perf_counter()
    results = run_all(plan_configs(args), args.timeout, args.rounds)
    wall_seconds = time.perf_counter() - started
    machine["load_average_at_end"] = common.load_average()
    write_report(results, args, machine, command, wall_seconds)
    common.progress(f"total {wall_seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Distributed training benchmark: fastmlp's data-parallel fit over MPI on one machine.

Fashion-MNIST (60,000 rows, pixels scaled to [0, 1] as float32), a
784-256-128-10 MLP with ReLU and softmax cross-entropy, SGD with momentum 0.9
and a constant learning rate of 0.05, per-rank batch sizes 64 and 256, in
three configurations:

- 1 rank x 1 thread: one process, the plain fit (no communicator);
- 1 rank x 2 threads: the same with two OpenMP threads;
- 2 ranks x 1 thread: `mpiexec -n 2`, each rank its contiguous half of the
  rows, `fit(..., comm=MPI.COMM_WORLD)`.

This script is started once; it launches every measurement itself
(`mpiexec -n K python bench/distributed_bench.py --worker ...`, with a
timeout), round by round, the configurations alternating within a round, and
reports medians over rounds. Inside the 2-rank workers it wraps
`Communicator.step_sum` (the reduce-then-broadcast the native epoch loop calls
once per step) with a timer, so each step's time splits into compute,
waiting for the other rank and the collective itself. Each round also times
`step_sum` alone on buffers of 8 B to 4 MiB in 2 ranks (latency and
bandwidth of the reduce-then-broadcast on this machine), in three setups
(`SETUPS`: the C allocator's state, both ranks on one core).

    python bench/distributed_bench.py              # the full run (see bench/README.md)
    python bench/distributed_bench.py --quick      # a smoke run of about a minute
    python bench/distributed_bench.py --cost-model # the N-machine table from the saved results
"""

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

LAYER_SIZES = (784, 256, 128, 10)
N_PARAMS = sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]))
# The native loop sums the loss and a stop request with the gradients.
REDUCE_SLOTS = 2
BYTES_PER_STEP = 4 * (N_PARAMS + REDUCE_SLOTS)
LEARNING_RATE = 0.05
MOMENTUM = 0.9
FIRST_SEED = 0
# (name, ranks, OpenMP threads per rank)
CONFIGS = (("1 rank x 1 thread", 1, 1), ("1 rank x 2 threads", 1, 2), ("2 ranks x 1 thread", 2, 1))
BASELINE = CONFIGS[0][0]
# Buffer sizes (bytes) for the collective alone; BYTES_PER_STEP is this model's step.
COLLECTIVE_SIZES = (8, 64, 512, 4096, 32768, 262144, BYTES_PER_STEP, 2097152, 4194304)
# Sizes from here up set the bandwidth (a least-squares line through their times).
BANDWIDTH_FROM_BYTES = 262144
# The collective alone runs in three setups:
#   warm:     after one 16 MiB block was allocated and freed, as a training process
#             has after loading its data. MPICH allocates a scratch buffer the size
#             of the message for every reduce and frees it again; glibc's malloc
#             maps blocks from 128 KiB up from the operating system and unmaps them
#             when freed (fresh pages to fault in on every call) until the process
#             has freed a larger block, which raises its mmap threshold (here to
#             16 MiB) and its trim threshold (to 32 MiB), so the memory stays;
#   fresh:    a new process that has freed no large block;
#   one core: warm, with both ranks pinned to CPU 0 (an oversubscribed machine).
SETUPS = ("warm", "fresh", "one core")
WARM_BLOCK_BYTES = 16 * 2**20
ONE_CORE_SIZES = (8, 4096, 262144, BYTES_PER_STEP)
# Round-to-round spread (slowest / fastest) above which the report warns.
NOISY_SPREAD = 1.2
# Cost model defaults.
COST_MACHINES = (8, 64, 512)
COST_GBITS = (10, 100)
COST_LATENCY_US = 5.0
COST_EFFICIENCY = 0.8


def shard_bounds(n, rank, size):
    """[start, stop) of rank `rank`'s contiguous share of n rows (np.array_split's split)."""
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


# ================================================================== worker side
class StepTimer:
    """Wraps Communicator.step_sum (the class attribute, in this process only) with a clock.

    Every call appends its entry and exit time (time.perf_counter, which is
    CLOCK_MONOTONIC on Linux: the same clock in every process of the machine,
    so the ranks' times can be compared step by step).
    """

    def __init__(self):
        from fastmlp.distributed import Communicator

        self.enter, self.exit = [], []
        self.buffer = None
        original = Communicator.step_sum
        timer = self

        def timed_step_sum(communicator, buffer):
            started = time.perf_counter()
            result = original(communicator, buffer)
            timer.exit.append(time.perf_counter())
            timer.enter.append(started)
            if timer.buffer is None:
                timer.buffer = (int(buffer.nbytes), str(buffer.dtype))
            return result

        Communicator.step_sum = timed_step_sum


def load_rows(rows, rank, size):
    """This rank's contiguous share of the first `rows` training rows, and the test set."""
    import numpy as np

    from fastmlp import datasets

    data = datasets.load_fashion_mnist()
    start, stop = shard_bounds(rows, rank, size)
    X = datasets.to_float32(data.X_train[start:stop])
    return X, data.y_train[start:stop].astype(np.int64), datasets.to_float32(data.X_test), data.y_test


def train_worker(config):
    """One fit on this rank; rank 0 emits the result (every rank's timings gathered)."""
    import numpy as np
    from mpi4py import MPI

    fastmlp = common.import_fastmlp_or_exit()
    world = MPI.COMM_WORLD
    rank, size = world.Get_rank(), world.Get_size()
    timer = StepTimer() if size > 1 else None
    X, y, X_test, y_test = load_rows(config["rows"], rank, size)
    fastmlp.set_num_threads(config["threads"])
    model = fastmlp.MLP(list(LAYER_SIZES), activation="relu", output="softmax", seed=config["seed"])
    stamps, boundaries, threads_during = [], [], []

    def end_of_epoch(_model, metrics):
        stamps.append(time.perf_counter())
        boundaries.append(len(timer.enter) if timer else 0)
        threads_during.append(fastmlp.get_num_threads())
        if rank == 0:
            common.progress(f"      epoch {metrics['epoch']}: {stamps[-1] - stamps[-2]:.3f} s")

    load_before = common.load_average()
    world.Barrier()
    stamps.append(time.perf_counter())
    boundaries.append(0)
    model.fit(X, y, epochs=config["epochs"], batch_size=config["batch_size"], optimizer="momentum",
              learning_rate=LEARNING_RATE, momentum=MOMENTUM, callbacks=[end_of_epoch],
              comm=world if size > 1 else None)
    mine = {"stamps": stamps, "boundaries": boundaries, "threads": threads_during,
            "enter": timer.enter if timer else [], "exit": timer.exit if timer else [],
            "buffer": timer.buffer if timer else None}
    everyone = world.gather(mine, root=0)
    if rank != 0:
        return
    accuracy = model.score(X_test, y_test)
    result = summarize_training(everyone, config, np)
    result.update(config)
    result.update({"test_accuracy": float(accuracy), "final_loss": float(model.history["loss"][-1]),
                   "steps_per_epoch": int(model.history.params["steps"]),
                   "load_average_before": load_before, "load_average_after": common.load_average()})
    common.emit_worker_result(result)


def summarize_training(everyone, config, np):
    """Epoch times (max over ranks) and, with 2+ ranks, the split of each step's time."""
    warmup = config["warmup_epochs"]
    per_rank = [np.diff(r["stamps"]) for r in everyone]
    epoch_seconds = np.max(per_rank, axis=0)
    result = {"epoch_seconds": epoch_seconds.tolist(),
              "epoch_seconds_per_rank": [s.tolist() for s in per_rank],
              "median_epoch_seconds": float(np.median(epoch_seconds[warmup:])),
              "threads_during": [r["threads"][0] for r in everyone]}
    if len(everyone) < 2:
        return result
    # The timed epochs' steps, aligned across ranks (every rank runs the same steps).
    first, last = everyone[0]["boundaries"][warmup], everyone[0]["boundaries"][-1]
    if any(r["boundaries"] != everyone[0]["boundaries"] for r in everyone):
        result["error"] = "the ranks ran different numbers of steps"
        return result
    enter = np.array([r["enter"][first:last] for r in everyone])   # ranks x steps
    leave = np.array([r["exit"][first:last] for r in everyone])
    steps = enter.shape[1]
    held = leave - enter                     # each rank's time inside step_sum
    last_arrival = enter.max(axis=0)
    waiting = last_arrival[None, :] - enter  # until the last rank arrived
    after = leave - last_arrival[None, :]    # the collective once every rank is in
    # Compute between two steps of the same epoch: from one step_sum's return
    # to the next call (backward of the next batch, update, gather, forward).
    starts = set(np.array(everyone[0]["boundaries"][warmup:-1]) - first)
    inner = np.array([s for s in range(1, steps) if s not in starts])
    compute = enter[:, inner] - leave[:, inner - 1]
    timed_seconds = np.array([np.sum(s[warmup:]) for s in per_rank])
    result["reduce"] = {
        "buffer_bytes": everyone[0]["buffer"][0], "buffer_dtype": everyone[0]["buffer"][1],
        "timed_steps": int(steps),
        "ms_per_step": 1e3 * float(held.mean()),
        "ms_per_step_by_rank": (1e3 * held.mean(axis=1)).tolist(),
        "median_ms_per_step": 1e3 * float(np.median(held)),
        "p90_ms_per_step": 1e3 * float(np.percentile(held, 90)),
        "p99_ms_per_step": 1e3 * float(np.percentile(held, 99)),
        "waiting_ms_per_step": 1e3 * float(waiting.mean()),
        "waiting_ms_per_step_by_rank": (1e3 * waiting.mean(axis=1)).tolist(),
        "collective_ms_per_step": 1e3 * float(after.mean()),
        "median_collective_ms_per_step": 1e3 * float(np.median(after)),
        "median_waiting_ms_per_step": 1e3 * float(np.median(waiting)),
        "compute_ms_per_step": 1e3 * float(compute.mean()),
        "median_compute_ms_per_step": 1e3 * float(np.median(compute)),
        "share_of_epoch": float(np.mean(held.sum(axis=1) / timed_seconds)),
        "waiting_share_of_epoch": float(np.mean(waiting.sum(axis=1) / timed_seconds)),
    }
    return result


def collective_worker(config):
    """step_sum alone (and MPI's own Allreduce for comparison) on buffers of several sizes."""
    import numpy as np
    from mpi4py import MPI

    common.import_fastmlp_or_exit()
    from fastmlp.distributed import Communicator

    if config["setup"] in ("warm", "one core"):
        block = np.ones(WARM_BLOCK_BYTES // 4, dtype=np.float32)
        del block
    if config["setup"] == "one core":
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    world = MPI.COMM_WORLD
    rank = world.Get_rank()
    communicator = Communicator(world)
    def reduce_alone(buffer):
        if rank == 0:
            world.Ireduce(MPI.IN_PLACE, buffer, op=MPI.SUM, root=0).Wait()
        else:
            world.Ireduce(buffer, None, op=MPI.SUM, root=0).Wait()

    kinds = {
        "step_sum": communicator.step_sum,
        # its two halves alone, waited for in C (no Python polling)
        "ireduce": reduce_alone,
        "ibcast": lambda buffer: world.Ibcast(buffer, root=0).Wait(),
        "mpi_allreduce": lambda buffer: world.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM),
    }
    measured = {kind: [] for kind in kinds}
    for size in config["sizes"]:
        buffer = np.zeros(size // 4, dtype=np.float32)   # zeros stay zeros: no overflow, no denormals
        for kind, call in kinds.items():
            for _ in range(5):
                call(buffer)
            # Rank 0 picks the calls per sample (every rank must make the same number).
            started = time.perf_counter()
            for _ in range(10):
                call(buffer)
            guess = (time.perf_counter() - started) / 10
            calls = world.bcast(max(3, min(20000, int(config["sample_seconds"] / max(guess, 1e-7)))), root=0)
            samples = []
            for _ in range(config["samples"]):
                world.Barrier()
                started = time.perf_counter()
                for _ in range(calls):
                    call(buffer)
                samples.append((time.perf_counter() - started) / calls)
            # A sample's time is the slower rank's.
            slowest = np.max(world.allgather(samples), axis=0)
            measured[kind].append(1e6 * float(np.median(slowest)))
    communicator.close()
    if rank == 0:
        common.emit_worker_result({"kind": "collective", "setup": config["setup"],
                                   "sizes": list(config["sizes"]), "microseconds": measured,
                                   "load_average": common.load_average()})


# ================================================================== parent side
def find_mpiexec():
    here = Path(sys.executable).parent
    return shutil.which("mpiexec", path=f"{here}{os.pathsep}{os.environ.get('PATH', '')}")


def launch(config, ranks, threads, timeout_seconds, extra_env=None):
    """`mpiexec -n ranks` this script as a worker; rank 0's result dict, or {"error": ...}."""
    command = [find_mpiexec(), "-n", str(ranks), sys.executable, str(Path(__file__).resolve()),
               "--worker", json.dumps(config)]
    env = common.worker_environment(threads)
    env["PYTHONWARNINGS"] = "ignore"
    env.update(extra_env or {})
    for attempt in range(4):
        # Its own session, so a timeout ends mpiexec and every rank it started.
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return {"error": f"timed out after {timeout_seconds:.0f} s"}
        if process.returncode == common.IMPORT_FAILED_EXIT and attempt < 3:
            common.progress("    fastmlp did not import (being rebuilt?); retrying in 30 s")
            time.sleep(30)
            continue
        break
    for line in reversed(output.splitlines()):
        if line.startswith(common.RESULT_MARKER):
            return json.loads(line[len(common.RESULT_MARKER):])
    return {"error": f"mpiexec exited with code {process.returncode} and no result"}


def run_all(args):
    """Every (configuration, batch) once per round, then the collective alone; the
    configurations' order rotates from round to round."""
    runs, collectives = [], []
    plan = [(name, ranks, threads, batch) for batch in args.batch_sizes for name, ranks, threads in CONFIGS]
    for round_number in range(1, args.rounds + 1):
        seed = FIRST_SEED + round_number - 1
        shift = (round_number - 1) % len(CONFIGS)
        ordered = []
        for batch in args.batch_sizes:
            block = [p for p in plan if p[3] == batch]
            ordered += block[shift:] + block[:shift]
        for number, (name, ranks, threads, batch) in enumerate(ordered, 1):
            common.progress(f"[round {round_number}/{args.rounds}, {number}/{len(ordered) + 1}] {name}, "
                            f"batch {batch} per rank, {args.rows:,} rows, {args.epochs} epochs, seed {seed}")
            config = {"kind": "train", "config": name, "ranks": ranks, "threads": threads, "batch_size": batch,
                      "rows": args.rows, "epochs": args.epochs, "warmup_epochs": args.warmup_epochs,
                      "seed": seed}
            started = time.perf_counter()
            result = {**config, **launch(config, ranks, threads, args.timeout), "round": round_number}
            runs.append(result)
            if "error" in result:
                common.progress(f"    FAILED: {result['error']}")
                continue
            line = f"    median epoch {result['median_epoch_seconds']:.3f} s"
            if "reduce" in result:
                reduce = result["reduce"]
                line += (f", step_sum {reduce['ms_per_step']:.3f} ms/step (waiting {reduce['waiting_ms_per_step']:.3f},"
                         f" collective {reduce['collective_ms_per_step']:.3f}), compute "
                         f"{reduce['compute_ms_per_step']:.3f} ms/step")
            common.progress(line + f", test accuracy {result['test_accuracy']:.4f} "
                            f"({time.perf_counter() - started:.0f} s with start-up)")
        for setup in SETUPS:
            sizes = ONE_CORE_SIZES if setup == "one core" else COLLECTIVE_SIZES
            common.progress(f"[round {round_number}/{args.rounds}] step_sum alone in 2 ranks, "
                            f"{len(sizes)} buffer sizes, {setup}")
            config = {"kind": "collective", "sizes": list(sizes), "samples": args.collective_samples,
                      "sample_seconds": args.collective_sample_seconds, "setup": setup}
            result = {"setup": setup, **launch(config, 2, 1, args.timeout), "round": round_number}
            collectives.append(result)
            if "error" in result:
                common.progress(f"    FAILED: {result['error']}")
            else:
                times = result["microseconds"]["step_sum"]
                common.progress(f"    step_sum {times[0]:.1f} us at {sizes[0]} B, "
                                f"{times[sizes.index(BYTES_PER_STEP)]:.0f} us at {BYTES_PER_STEP:,} B")
    return runs, collectives


# ------------------------------------------------------------------ summary
def good_runs(runs, name, batch):
    return [r for r in runs if r.get("config") == name and r["batch_size"] == batch
            and "error" not in r and r.get("median_epoch_seconds")]


def median_of(values):
    values = [v for v in values if v is not None]
    return common.median(values) if values else None


def fit_line(xs, ys):
    """Least-squares intercept and slope of y = a + b x."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    return mean_y - slope * mean_x, slope


def summarize(runs, collectives, args):
    table = []
    for batch in args.batch_sizes:
        for name, ranks, threads in CONFIGS:
            good = good_runs(runs, name, batch)
            entry = {"config": name, "ranks": ranks, "threads": threads, "batch_size": batch,
                     "global_batch": batch * ranks, "rounds": len(good),
                     "round_seconds": [r["median_epoch_seconds"] for r in good],
                     "failed_rounds": [f"round {r['round']}: {r.get('error', 'no timed epoch')}"
                                       for r in runs if r.get("config") == name and r["batch_size"] == batch
                                       and r not in good]}
            if good:
                seconds = median_of(entry["round_seconds"])
                entry.update({
                    "seconds_per_epoch": seconds, "rows_per_second": args.rows / seconds,
                    "steps_per_epoch": good[0]["steps_per_epoch"],
                    "ms_per_step": 1e3 * seconds / good[0]["steps_per_epoch"],
                    "spread": max(entry["round_seconds"]) / min(entry["round_seconds"]),
                    "threads_during": good[0]["threads_during"],
                    "test_accuracy": sum(r["test_accuracy"] for r in good) / len(good)})
                reduced = [r["reduce"] for r in good if "reduce" in r]
                if reduced:
                    entry["reduce"] = {key: median_of([r[key] for r in reduced])
                                       for key in ("ms_per_step", "median_ms_per_step", "p90_ms_per_step",
                                                   "p99_ms_per_step", "waiting_ms_per_step",
                                                   "median_waiting_ms_per_step", "collective_ms_per_step",
                                                   "median_collective_ms_per_step", "compute_ms_per_step",
                                                   "median_compute_ms_per_step", "share_of_epoch",
                                                   "waiting_share_of_epoch")}
                    entry["reduce"]["buffer_bytes"] = reduced[0]["buffer_bytes"]
                    entry["reduce"]["buffer_dtype"] = reduced[0]["buffer_dtype"]
                    entry["reduce"]["round_ms_per_step"] = [r["ms_per_step"] for r in reduced]
                    entry["reduce"]["round_waiting_ms_per_step"] = [r["waiting_ms_per_step"] for r in reduced]
            table.append(entry)
    scaling = []
    for batch in args.batch_sizes:
        base = find(table, BASELINE, batch)
        for name, _, _ in CONFIGS[1:]:
            other = find(table, name, batch)
            if base and other and base.get("seconds_per_epoch") and other.get("seconds_per_epoch"):
                scaling.append({"batch_size": batch, "config": name,
                                "speedup": base["seconds_per_epoch"] / other["seconds_per_epoch"],
                                "efficiency": other["rows_per_second"] / (2 * base["rows_per_second"])})
    by_setup = {setup: summarize_collectives([c for c in collectives if c.get("setup", "fresh") == setup])
                for setup in SETUPS}
    return {"table": table, "scaling": scaling, "collective": by_setup.get("warm"), "collective_by_setup": by_setup,
            "compute": compute_model(table, args)}


def find(table, name, batch):
    for entry in table:
        if entry["config"] == name and entry["batch_size"] == batch:
            return entry
    return None


def summarize_collectives(collectives):
    good = [c for c in collectives if "error" not in c]
    if not good:
        return None
    sizes = good[0]["sizes"]
    medians = {kind: [median_of([c["microseconds"][kind][i] for c in good]) for i in range(len(sizes))]
               for kind in good[0]["microseconds"]}
    out = {"sizes": sizes, "rounds": len(good), "microseconds": medians,
           "round_microseconds": {kind: [c["microseconds"][kind] for c in good] for kind in medians}}
    for kind, times in medians.items():
        big = [(s, t) for s, t in zip(sizes, times) if s >= BANDWIDTH_FROM_BYTES]
        if len(big) < 2:
            continue
        intercept, slope = fit_line([s for s, _ in big], [t for _, t in big])
        out[kind] = {"latency_us": times[0], "bandwidth_bytes_per_s": 1e6 / slope,
                     "line_intercept_us": intercept,
                     "step_buffer_us": times[sizes.index(BYTES_PER_STEP)] if BYTES_PER_STEP in sizes else None}
    return out


def compute_model(table, args):
    """compute(B) = per_step + B x per_row from the 1 rank x 1 thread epochs at two batch sizes.

    An epoch of `steps` steps over `rows` rows takes steps x per_step + rows x per_row;
    two batch sizes give two such equations (the per-step part: the update of
    every parameter, the epoch loop's own work per batch).
    """
    points = [(e["steps_per_epoch"], e["seconds_per_epoch"]) for e in table
              if e["config"] == BASELINE and e.get("seconds_per_epoch")]
    if len(points) < 2:
        return None
    (steps_a, seconds_a), (steps_b, seconds_b) = points[0], points[-1]
    per_step = max(0.0, (seconds_a - seconds_b) / (steps_a - steps_b))
    per_row = (seconds_b - steps_b * per_step) / args.rows
    return {"per_step_seconds": per_step, "per_row_seconds": per_row,
            "from": f"{BASELINE}, batches {', '.join(str(e['batch_size']) for e in table if e['config'] == BASELINE)}"}


# ------------------------------------------------------------------ cost model
def ring_allreduce_seconds(machines, parameter_bytes, bytes_per_second, latency_seconds):
    """A ring allreduce: reduce-scatter then allgather, 2(N-1) messages of P/N bytes each."""
    n = machines
    return 2 * (n - 1) / n * parameter_bytes / bytes_per_second + 2 * (n - 1) * latency_seconds


def mpich_reduce_bcast_seconds(machines, parameter_bytes, bytes_per_second, latency_seconds):
    """fastmlp's reduce-then-broadcast with MPICH's default algorithms for a large buffer
    (one rank per machine, N a power of two): Ireduce = reduce-scatter by recursive halving
    then a binomial gather (Rabenseifner); Ibcast = binomial below 8 ranks, else a binomial
    scatter then a ring allgather."""
    n = machines
    log_n = math.ceil(math.log2(n))
    share = (n - 1) / n * parameter_bytes / bytes_per_second
    reduce = 2 * log_n * latency_seconds + 2 * share
    if n < 8:
        bcast = log_n * (latency_seconds + parameter_bytes / bytes_per_second)
    else:
        bcast = (log_n + n - 1) * latency_seconds + 2 * share
    return reduce + bcast


def smallest_batch(per_step, per_row, allreduce_seconds, efficiency):
    """The smallest per-rank batch B with compute(B) / (compute(B) + allreduce) >= efficiency."""
    needed = efficiency / (1 - efficiency) * allreduce_seconds   # compute must reach this
    return max(1, math.ceil((needed - per_step) / per_row - 1e-9))


def cost_model_rows(per_step, per_row, parameter_bytes=BYTES_PER_STEP, machines=COST_MACHINES,
                    gbits=COST_GBITS, latency_us=COST_LATENCY_US, efficiency=COST_EFFICIENCY):
    rows = []
    for n in machines:
        for g in gbits:
            bandwidth = g * 1e9 / 8
            ring = ring_allreduce_seconds(n, parameter_bytes, bandwidth, latency_us * 1e-6)
            mpich = mpich_reduce_bcast_seconds(n, parameter_bytes, bandwidth, latency_us * 1e-6)
            b_ring = smallest_batch(per_step, per_row, ring, efficiency)
            b_mpich = smallest_batch(per_step, per_row, mpich, efficiency)
            rows.append({"machines": n, "gbit_per_s": g, "ring_ms": 1e3 * ring, "batch_ring": b_ring,
                         "global_batch_ring": n * b_ring, "mpich_ms": 1e3 * mpich, "batch_mpich": b_mpich,
                         "global_batch_mpich": n * b_mpich})
    return rows


def render_cost_model(rows, per_step, per_row, latency_us, efficiency, parameter_bytes=BYTES_PER_STEP):
    lines = [f"compute(B) = {1e6 * per_step:.1f} us + B x {1e6 * per_row:.2f} us per step; "
             f"P = {parameter_bytes:,} bytes per step; latency {latency_us:g} us per message; "
             f"efficiency = compute / (compute + allreduce) >= {efficiency:.0%}", ""]
    table = [[r["machines"], r["gbit_per_s"], f"{r['ring_ms']:.3f}", f"{r['batch_ring']:,}",
              f"{r['global_batch_ring']:,}", f"{r['mpich_ms']:.3f}", f"{r['batch_mpich']:,}",
              f"{r['global_batch_mpich']:,}"] for r in rows]
    lines.append(common.markdown_table(
        ["machines N", "Gbit/s", "ring allreduce ms", "smallest batch per rank", "global batch",
         "MPICH reduce + bcast ms", "smallest batch per rank", "global batch"], table))
    return "\n".join(lines)


# ------------------------------------------------------------------ report
def fmt(value, digits=3, suffix=""):
    return "n/a" if value is None else f"{value:.{digits}f}{suffix}"


def fmt_bytes(size):
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size:,} B"


def render_markdown(summary, runs, args, machine, command, wall_seconds):
    timed = args.epochs - args.warmup_epochs
    lines = [
        "# Distributed training benchmark",
        "",
        f"Fashion-MNIST ({args.rows:,} training rows, pixels scaled to [0, 1] as float32), a "
        f"{'-'.join(map(str, LAYER_SIZES))} MLP with ReLU and softmax cross-entropy, SGD with momentum "
        f"{MOMENTUM} and a constant learning rate of {LEARNING_RATE}, float32. `batch` is per rank; "
        "2 ranks run `mpiexec -n 2`, each with its contiguous half of the rows and "
        "`fit(..., comm=MPI.COMM_WORLD)`; 1-rank runs are the plain fit without a communicator.",
        "",
        f"Epoch time: the wall time between epoch ends (for 2 ranks the slower rank's), median over the "
        f"{timed} epoch(s) after {args.warmup_epochs} warm-up epoch(s), then the median over {args.rounds} "
        "round(s); each round runs every configuration once in a fresh `mpiexec`, in an order that "
        "rotates from round to round. Test accuracy: the mean over rounds after all epochs.",
        "",
        common.describe_machine(machine),
        f"- MPI: {machine.get('mpi', 'unknown')}",
        f"- Command: `{command}` (took {wall_seconds / 60:.1f} min)",
        "",
        "## Epoch time",
        "",
    ]
    rows = []
    for e in summary["table"]:
        rows.append([e["config"], e["batch_size"], e["global_batch"], f"{e['steps_per_epoch']:,}"
                     if e.get("steps_per_epoch") else "n/a", fmt(e.get("seconds_per_epoch")),
                     f"{e['rows_per_second']:,.0f}" if e.get("rows_per_second") else "n/a",
                     fmt(e.get("ms_per_step")), fmt(e.get("spread"), 2, "x"),
                     fmt(100 * e["test_accuracy"], 2) if e.get("test_accuracy") else "n/a"])
    lines += [common.markdown_table(["configuration", "batch per rank", "rows per step", "steps/epoch",
                                     "s/epoch", "rows/s", "ms/step", "round spread", "test accuracy %"], rows),
              "", "rows/s = training rows / s per epoch. Round spread = slowest round / fastest round.", ""]
    noisy = [e for e in summary["table"] if e.get("spread") and e["spread"] > NOISY_SPREAD]
    if noisy:
        which = ", ".join(f"{e['config']} batch {e['batch_size']} ({e['spread']:.2f}x)" for e in noisy)
        lines += [f"**The rounds disagree**: {which} moved by more than "
                  f"{NOISY_SPREAD:.1f}x between rounds. The host is shared (other jobs ran during the "
                  "benchmark; see the load averages), so read single figures with that margin; the "
                  "medians over rounds discard one slow round, not a slow run throughout.", ""]
    lines += ["## Scaling", "",
              "Efficiency = throughput of the configuration / (2 x throughput of 1 rank x 1 thread) with "
              "the same per-rank batch, where throughput = training rows per second; it equals "
              "t(1 rank x 1 thread) / (2 x t(configuration)) for the epoch times t. 1.0 would be a perfect "
              "use of the second core. Two ranks at per-rank batch B take steps of 2B rows, half as many per "
              "epoch as one rank at batch B (a different optimization path, the same rows per epoch).", ""]
    lines.append(common.markdown_table(
        ["batch per rank", "configuration", "speedup over 1 rank x 1 thread", "efficiency"],
        [[s["batch_size"], s["config"], fmt(s["speedup"], 2, "x"), f"{100 * s['efficiency']:.0f}%"]
         for s in summary["scaling"]]))
    lines += ["", "## Where a 2-rank step goes", "",
              "`Communicator.step_sum` (reduce to rank 0, then broadcast, of the step's gradients plus the "
              "loss and a stop flag) wrapped with a clock in each rank. Each step's time on a rank splits "
              "into compute (from the previous `step_sum`'s return to this call: forward, backward, "
              "update), waiting (from this rank's call until the other rank called: the other rank was "
              "still computing) and the collective (from the last rank's call until this rank's return). "
              "Over both ranks and every step of the timed epochs; each figure is the median over rounds.", ""]
    rows = []
    for e in summary["table"]:
        reduce = e.get("reduce")
        if not reduce:
            continue
        rows.append([e["batch_size"], f"{reduce['buffer_bytes']:,} ({reduce['buffer_dtype']})",
                     mean_median(reduce, "compute_ms_per_step"), mean_median(reduce, "ms_per_step"),
                     mean_median(reduce, "waiting_ms_per_step"), mean_median(reduce, "collective_ms_per_step"),
                     f"{reduce['p90_ms_per_step']:.3f} / {reduce['p99_ms_per_step']:.3f}",
                     f"{100 * reduce['share_of_epoch']:.1f}%", f"{100 * reduce['waiting_share_of_epoch']:.1f}%",
                     ", ".join(f"{v:.3f}" for v in reduce["round_ms_per_step"])])
    lines += [common.markdown_table(
        ["batch per rank", "bytes reduced per step", "compute ms/step", "step_sum ms/step",
         "of which waiting", "of which collective", "step_sum p90 / p99 ms", "step_sum share of epoch",
         "waiting share of epoch", "step_sum mean ms/step by round"], rows), "",
        "Cells: mean (median) over steps. The mean is what adds up to the epoch time (the shares use "
        "it); the median is a typical step. A mean far above the median means a few very slow steps: "
        "a rank that lost its core to another process stalls its partner too.", "",
        f"Bytes per step = 4 x (n_params + {REDUCE_SLOTS}) with n_params = {N_PARAMS:,} "
        f"(784x256 + 256 + 256x128 + 128 + 128x10 + 10): {BYTES_PER_STEP:,} bytes.", ""]
    lines += render_collective(summary["collective"])
    lines += render_setups(summary.get("collective_by_setup") or {})
    compute = summary["compute"]
    if compute:
        lines += ["## Cost model for N machines", "",
                  f"compute(B) fitted to the {compute['from']} epoch times (steps x per-step + rows x "
                  "per-row); allreduce: a ring, 2(N-1)/N x P / bandwidth + 2(N-1) x latency, and MPICH's "
                  "default reduce-then-broadcast (see docs/distributed.md). `python bench/distributed_bench.py "
                  "--cost-model` prints this table from the saved results.", "",
                  render_cost_model(cost_model_rows(compute["per_step_seconds"], compute["per_row_seconds"]),
                                    compute["per_step_seconds"], compute["per_row_seconds"], COST_LATENCY_US,
                                    COST_EFFICIENCY), ""]
    lines += render_rounds(runs, args)
    problems = [f"- {e['config']} batch {e['batch_size']}: {failure}" for e in summary["table"]
                for failure in e["failed_rounds"]]
    if problems:
        lines += ["## Problems", ""] + problems
    return "\n".join(lines)


def mean_median(figures, key):
    return f"{figures[key]:.3f} ({figures['median_' + key]:.3f})"


def render_collective(collective):
    if not collective:
        return ["## The collective alone", "", "Not measured (every run failed).", ""]
    sizes, times = collective["sizes"], collective["microseconds"]
    rows = [[fmt_bytes(s) + (" (this model's step)" if s == BYTES_PER_STEP else ""), fmt(times["step_sum"][i], 1),
             f"{s / times['step_sum'][i] / 1e3:.2f}", fmt(times["ireduce"][i], 1), fmt(times["ibcast"][i], 1),
             fmt(times["mpi_allreduce"][i], 1)]
            for i, s in enumerate(sizes)]
    step, allreduce = collective["step_sum"], collective["mpi_allreduce"]
    return ["## The collective alone (2 ranks, this machine)", "",
            "In a process that has freed one 16 MiB block first, as a training rank has after loading its "
            "data (the allocator's state matters: see the next section). "
            "Back-to-back calls on a float32 buffer, no training: `Communicator.step_sum` (fastmlp's "
            "non-blocking reduce then broadcast, polled from Python, as in training), its two halves alone "
            "(`Ireduce` to rank 0 and `Ibcast` from it, each waited for with `Wait`) and, for comparison, "
            "MPI's own `Allreduce`. Each sample times enough calls for at least "
            "a few milliseconds; the slower rank's time per call, median over samples, then over "
            f"{collective['rounds']} round(s). Both ranks share this machine's memory (MPICH's shared-memory "
            "transport), so these are not network figures.", "",
            common.markdown_table(["buffer", "step_sum us", "step_sum GB/s", "Ireduce alone us",
                                   "Ibcast alone us", "MPI Allreduce us"], rows), "",
            f"- step_sum: latency (8 B) {step['latency_us']:.1f} us; bandwidth "
            f"{step['bandwidth_bytes_per_s'] / 1e9:.2f} GB/s of buffer (the slope of a least-squares line through "
            f"the sizes from {fmt_bytes(BANDWIDTH_FROM_BYTES)} up; each byte is reduced into rank 0 and sent back)",
            f"- MPI Allreduce: latency {allreduce['latency_us']:.1f} us; bandwidth "
            f"{allreduce['bandwidth_bytes_per_s'] / 1e9:.2f} GB/s of buffer", ""]


def render_setups(by_setup):
    warm, fresh, one_core = (by_setup.get(name) for name in SETUPS)
    if not warm or not (fresh or one_core):
        return []
    sizes = warm["sizes"]
    columns = [(label, result, kind) for label, result in (("warm", warm), ("fresh", fresh), ("one core", one_core))
               if result for kind in ("step_sum", "ireduce")]

    def cell(result, kind, size):
        if size not in result["sizes"]:
            return ""
        return fmt(result["microseconds"][kind][result["sizes"].index(size)], 1)

    headers = ["buffer"] + [f"{'step_sum' if kind == 'step_sum' else 'Ireduce alone'} us, {label}"
                            for label, _, kind in columns]
    rows = [[fmt_bytes(size)] + [cell(result, kind, size) for _, result, kind in columns]
            for size in sizes if size >= 4096 or size == sizes[0]]
    return ["## The collective in other setups", "",
            "- warm: as above (one 16 MiB block freed before measuring, as a training rank has while reading "
            "its data);",
            "- fresh: a new process that has freed no large block. MPICH allocates a scratch buffer the size "
            "of the message for each reduce and frees it after; with glibc's defaults a block of 128 KiB or "
            "more is mapped from the operating system and unmapped again when freed, so every reduce faults "
            "in fresh pages, until the process frees a larger block and glibc raises those limits;",
            "- one core: warm, with both ranks pinned to the same CPU, as on a machine with more busy "
            "processes than cores. `step_sum` polls the requests from Python flat out for 50 us, then yields "
            "the core between polls, so a rank that waits lets the rank it waits for run; MPICH's own "
            "`Wait` yields.", "",
            common.markdown_table(headers, rows), ""]


def render_rounds(runs, args):
    """Every configuration's epoch time round by round, with the load average before each run."""
    rows = []
    for batch in args.batch_sizes:
        for name, _, _ in CONFIGS:
            cells = []
            for r in sorted((r for r in runs if r.get("config") == name and r["batch_size"] == batch),
                            key=lambda r: r["round"]):
                load = (r.get("load_average_before") or [None])[0]
                value = "failed" if "error" in r else f"{r['median_epoch_seconds']:.3f}"
                cells.append(value + (f" ({load:.1f})" if load is not None else ""))
            rows.append([batch, name, ", ".join(cells)])
    return ["## Round by round", "",
            "Median epoch time of each round in seconds, with the 1-minute load average of the machine "
            "just before that run (2 CPUs: a load above 2 means other processes wanted the cores too).", "",
            common.markdown_table(["batch per rank", "configuration", "s/epoch by round (load before)"], rows), ""]


def write_report(runs, collectives, args, machine, command, wall_seconds):
    summary = summarize(runs, collectives, args)
    out_dir = args.out_dir or common.RESULTS_DIR
    stem = "distributed_quick" if args.quick else "distributed"
    markdown = render_markdown(summary, runs, args, machine, command, wall_seconds)
    common.write_text(out_dir / f"{stem}.md", markdown)
    common.write_json(out_dir / f"{stem}.json", {
        "command": command, "wall_seconds": wall_seconds, "machine": machine,
        "settings": {"layer_sizes": LAYER_SIZES, "n_params": N_PARAMS, "bytes_per_step": BYTES_PER_STEP,
                     "learning_rate": LEARNING_RATE, "momentum": MOMENTUM, "rows": args.rows,
                     "epochs": args.epochs, "warmup_epochs": args.warmup_epochs, "rounds": args.rounds,
                     "batch_sizes": args.batch_sizes, "quick": args.quick,
                     "collective_samples": args.collective_samples,
                     "collective_sample_seconds": args.collective_sample_seconds},
        "summary": summary, "runs": runs, "collectives": collectives})
    print(markdown)
    common.progress(f"wrote {out_dir / stem}.md and .json")


def print_cost_model(args):
    stem = "distributed_quick" if args.quick else "distributed"
    saved = json.loads(((args.out_dir or common.RESULTS_DIR) / f"{stem}.json").read_text())
    compute = saved["summary"]["compute"]
    per_step = compute["per_step_seconds"] if args.compute_per_step_us is None else args.compute_per_step_us * 1e-6
    per_row = compute["per_row_seconds"] if args.compute_per_row_us is None else args.compute_per_row_us * 1e-6
    rows = cost_model_rows(per_step, per_row, latency_us=args.latency_us, efficiency=args.efficiency)
    print(render_cost_model(rows, per_step, per_row, args.latency_us, args.efficiency))


def mpi_description():
    """MPI library and version (asked of a one-rank mpiexec, so this process stays MPI-free)."""
    code = "from mpi4py import MPI; print(MPI.Get_library_version().splitlines()[0].strip())"
    try:
        finished = subprocess.run([find_mpiexec(), "-n", "1", sys.executable, "-c", code], capture_output=True,
                                  text=True, timeout=60)
        import mpi4py

        return f"{' '.join(finished.stdout.split())}, mpi4py {mpi4py.__version__}"
    except (OSError, subprocess.TimeoutExpired, ImportError) as error:
        return f"unknown ({error})"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=common.parse_int_list, default=[64, 256], help="per rank")
    parser.add_argument("--rows", type=int, default=60000, help="the first ROWS training rows")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per fit, warm-up included")
    parser.add_argument("--warmup-epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--collective-samples", type=int, default=9)
    parser.add_argument("--collective-sample-seconds", type=float, default=0.02)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per mpiexec run")
    parser.add_argument("--out-dir", type=Path, default=None, help="default: bench/results")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 12,000 rows, 2 epochs (1 timed), 1 round; writes distributed_quick.*")
    parser.add_argument("--rerender", action="store_true", help="rewrite the report from the saved JSON")
    parser.add_argument("--cost-model", action="store_true",
                        help="print the N-machine table from the saved results (no measuring)")
    parser.add_argument("--latency-us", type=float, default=COST_LATENCY_US, help="cost model: per message")
    parser.add_argument("--efficiency", type=float, default=COST_EFFICIENCY, help="cost model: the target")
    parser.add_argument("--compute-per-row-us", type=float, default=None, help="cost model: override")
    parser.add_argument("--compute-per-step-us", type=float, default=None, help="cost model: override")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.epochs, args.warmup_epochs, args.rounds = 12000, 2, 1, 1
        args.collective_samples = 3
    if args.epochs - args.warmup_epochs < 1:
        parser.error("--epochs must exceed --warmup-epochs")
    return args


def rerender(args):
    stem = "distributed_quick" if args.quick else "distributed"
    saved = json.loads(((args.out_dir or common.RESULTS_DIR) / f"{stem}.json").read_text())
    for name, value in saved["settings"].items():
        if hasattr(args, name):
            setattr(args, name, value)
    write_report(saved["runs"], saved["collectives"], args, saved["machine"], saved["command"],
                 saved["wall_seconds"])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        config = json.loads(args.worker)
        (train_worker if config["kind"] == "train" else collective_worker)(config)
        return 0
    if args.cost_model:
        print_cost_model(args)
        return 0
    if args.rerender:
        rerender(args)
        return 0
    if find_mpiexec() is None:
        raise SystemExit("no mpiexec: pip install 'fastmlp[mpi]' (mpi4py and the mpich wheel)")
    machine = common.machine_info()
    machine["mpi"] = mpi_description()
    command = "python bench/distributed_bench.py" + ("" if not argv else " " + " ".join(argv))
    started = time.perf_counter()
    runs, collectives = run_all(args)
    wall_seconds = time.perf_counter() - started
    machine["load_average_at_end"] = common.load_average()
    write_report(runs, collectives, args, machine, command, wall_seconds)
    common.progress(f"total {wall_seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""GEMM benchmark: fastmlp._core.gemm vs numpy float32 matmul on the MLP's layer shapes.

For each layer (I inputs, O outputs) of 784-256-128-10 and batch N:
    forward   Z  = A W       (N x I) (I x O)      gemm(A, W)
    dW        dW = A^T dZ    (I x N) (N x O)      gemm(A, dZ, trans_a=True)
    dA        dA = dZ W^T    (N x O) (O x I)      gemm(dZ, W, trans_b=True)
numpy computes the same products with views (A.T @ dZ, dZ @ W.T), which its
BLAS reads in place like fastmlp does. Each (library, threads) runs in a fresh
process, alternating fastmlp and numpy over several rounds so that load from
other processes hits both alike; the reported time is the median of all
samples of all rounds.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, if set, make OpenBLAS use a slower
kernel; this script re-executes itself without them and says so in the report.

    python bench/gemm_bench.py            # full run, about a minute
    python bench/gemm_bench.py --quick    # smoke run
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

LAYERS = ((784, 256), (256, 128), (128, 10))
OPERATIONS = ("forward", "dW", "dA")
LIBRARIES = ("fastmlp", "numpy")
SEED = 0


# ================================================================== the products
def operands(operation, batch, fan_in, fan_out, rng):
    """(left, right, trans_a, trans_b) for fastmlp.gemm; numpy's view follows from the flags."""
    import numpy as np

    def matrix(rows, cols):
        return rng.standard_normal((rows, cols)).astype(np.float32)

    if operation == "forward":
        return matrix(batch, fan_in), matrix(fan_in, fan_out), False, False
    if operation == "dW":
        return matrix(batch, fan_in), matrix(batch, fan_out), True, False
    if operation == "dA":
        return matrix(batch, fan_out), matrix(fan_in, fan_out), False, True
    raise ValueError(f"unknown operation {operation!r}")


def product_shape(left, right, trans_a, trans_b):
    """(M, K, N) of op(left) @ op(right)."""
    M, K = (left.shape[1], left.shape[0]) if trans_a else left.shape
    N = right.shape[0] if trans_b else right.shape[1]
    return M, K, N


def numpy_product(left, right, trans_a, trans_b):
    a = left.T if trans_a else left
    b = right.T if trans_b else right
    return lambda: a @ b


def fastmlp_product(gemm, left, right, trans_a, trans_b, isa):
    return lambda: gemm(left, right, trans_a, trans_b, isa)


def check_agrees(fast_call, numpy_call, label):
    """Refuse to time a kernel that computes something else.

    The check runs numpy on one BLAS thread: a multi-threaded numpy call here
    would leave OpenBLAS's workers spinning on the cores while fastmlp is
    timed in the same process, halving its two-thread figures.
    """
    import numpy as np
    from threadpoolctl import threadpool_limits

    got = fast_call()
    with threadpool_limits(limits=1, user_api="blas"):
        expected = numpy_call()
    scale = max(1.0, float(np.abs(expected).max()))
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-3, atol=1e-4 * scale):
        raise SystemExit(f"fastmlp gemm disagrees with numpy on {label}")


def cases(batch_sizes):
    for batch in batch_sizes:
        for layer, (fan_in, fan_out) in enumerate(LAYERS, 1):
            for operation in OPERATIONS:
                yield {"batch": batch, "layer": layer, "operation": operation,
                       "fan_in": fan_in, "fan_out": fan_out}


# ================================================================== worker side
def run_worker(config):
    """Time every case with one library at one thread count, in this fresh process."""
    import numpy as np

    fastmlp = common.import_fastmlp_or_exit()
    from fastmlp import _core

    threads, library = config["threads"], config["library"]
    fastmlp.set_num_threads(threads)
    isa = config["isa"] or _core.active_isa()
    rng = np.random.default_rng(SEED)
    timings = []
    peaks = [common.fma_peak_gflops(threads)]
    with common.blas_threads(threads):
        for case in cases(config["batch_sizes"]):
            left, right, trans_a, trans_b = operands(case["operation"], case["batch"], case["fan_in"],
                                                     case["fan_out"], rng)
            fast_call = fastmlp_product(_core.gemm, left, right, trans_a, trans_b, isa)
            numpy_call = numpy_product(left, right, trans_a, trans_b)
            check_agrees(fast_call, numpy_call, f"{case}")
            call = fast_call if library == "fastmlp" else numpy_call
            samples = common.seconds_per_call_samples(call, config["min_sample_seconds"], config["samples"])
            M, K, N = product_shape(left, right, trans_a, trans_b)
            timings.append({**case, "M": M, "K": K, "N": N, "samples": samples})
    peaks.append(common.fma_peak_gflops(threads))
    common.emit_worker_result({"timings": timings, "isa": isa, "numpy_blas": common.numpy_blas_info(),
                               "peaks": [p for p in peaks if p]})


# ================================================================== parent side
def run_all(args):
    """{(library, threads): worker result}, the timings' samples pooled over all rounds."""
    results = {}
    for round_number in range(1, args.rounds + 1):
        for threads in args.threads:
            for library in LIBRARIES:
                common.progress(f"round {round_number}/{args.rounds}: {library}, {threads} thread(s)")
                config = {"library": library, "threads": threads, "batch_sizes": args.batch_sizes,
                          "isa": args.isa, "min_sample_seconds": args.min_sample_seconds,
                          "samples": args.samples}
                result = common.run_worker(__file__, config, threads, args.timeout)
                if "error" in result:
                    raise SystemExit(f"{library} at {threads} thread(s) failed: {result['error']}")
                pooled = results.setdefault((library, threads), result)
                if pooled is not result:
                    pooled["peaks"] += result["peaks"]
                    for kept, new in zip(pooled["timings"], result["timings"]):
                        kept["samples"] += new["samples"]
    for result in results.values():
        for timing in result["timings"]:
            timing["seconds"] = common.median(timing["samples"])
            timing["gflops"] = 2 * timing["M"] * timing["K"] * timing["N"] / timing["seconds"] / 1e9
    return results


def peaks_by_threads(results, args):
    """{threads: median FMA peak over every probe of both libraries' workers} (None: no probe)."""
    peaks = {}
    for threads in args.threads:
        probes = [p for library in LIBRARIES for p in results[(library, threads)]["peaks"]]
        peaks[threads] = common.median(probes) if probes else None
    return peaks


def combine(results, args, peaks):
    """One row per (threads, case) with both libraries side by side."""
    rows = []
    for threads in args.threads:
        fast = results[("fastmlp", threads)]["timings"]
        ref = results[("numpy", threads)]["timings"]
        peak = peaks[threads]
        for f, n in zip(fast, ref):
            rows.append({**{k: f[k] for k in ("batch", "layer", "operation", "M", "K", "N")},
                         "threads": threads, "fastmlp_seconds": f["seconds"], "numpy_seconds": n["seconds"],
                         "fastmlp_gflops": f["gflops"], "numpy_gflops": n["gflops"],
                         "fastmlp_share_of_peak": f["gflops"] / peak if peak else None,
                         "numpy_share_of_peak": n["gflops"] / peak if peak else None,
                         "speedup": n["seconds"] / f["seconds"]})
    return rows


def geometric_mean(values):
    import math

    return math.exp(sum(math.log(v) for v in values) / len(values))


OPERATION_FORMULAS = {"forward": "A W", "dW": "A^T dZ", "dA": "dZ W^T"}


def render_markdown(rows, args, machine, isa, command, wall_seconds, peaks):
    lines = [
        "# GEMM benchmark: fastmlp._core.gemm vs numpy float32 matmul",
        "",
        "Layer shapes of the 784-256-128-10 MLP at batch N; M x K x N is the product's "
        "op(A) (M x K) times op(B) (K x N). GFLOP/s = 2 M K N / median seconds per call "
        f"(median of {args.samples * args.rounds} samples: {args.samples} in each of {args.rounds} "
        f"rounds that alternate the libraries; each sample at least {args.min_sample_seconds * 1000:.0f} ms "
        "of repeated calls; both libraries allocate the output on every call). "
        "Speedup = numpy time / fastmlp time (above 1: fastmlp is faster). "
        "Share of peak = GFLOP/s / the float32 FMA peak measured in this run "
        "(`fastmlp._core.fma_peak`: twelve independent FMA chains of the widest vectors, "
        "probed before and after every worker's timings; the median of the probes).",
        "",
        common.describe_machine(machine),
        f"- fastmlp kernel: {isa}; numpy threads set with threadpoolctl, fastmlp with set_num_threads; "
        "one fresh process per (library, threads)",
        f"- Command: `{command}` (took {wall_seconds:.0f} s)",
        "",
    ]
    headers = ["batch", "layer", "product", "M x K x N", "fastmlp GFLOP/s", "share of peak",
               "numpy GFLOP/s", "share of peak", "speedup"]
    for threads in args.threads:
        selected = [r for r in rows if r["threads"] == threads]
        peak = peaks[threads]
        table = [[r["batch"], r["layer"], f"{r['operation']} = {OPERATION_FORMULAS[r['operation']]}",
                  f"{r['M']} x {r['K']} x {r['N']}", f"{r['fastmlp_gflops']:.1f}",
                  common.share_of_peak(r["fastmlp_gflops"], peak), f"{r['numpy_gflops']:.1f}",
                  common.share_of_peak(r["numpy_gflops"], peak), f"{r['speedup']:.2f}x"] for r in selected]
        peak_text = f"FMA peak measured in this run: {peak:.0f} GFLOP/s" if peak else "no FMA peak probe"
        lines += [f"## {threads} thread{'s' if threads > 1 else ''}", "", f"{peak_text}.", "",
                  common.markdown_table(headers, table), ""]
        by_batch = [[batch, f"{geometric_mean([r['speedup'] for r in selected if r['batch'] == batch]):.2f}x"]
                    for batch in args.batch_sizes]
        lines += ["Geometric mean speedup per batch size:", "",
                  common.markdown_table(["batch", "speedup"], by_batch), ""]
    slower = [r for r in rows if r["speedup"] < 1]
    if slower:
        lines += ["## Where numpy is faster", ""]
        lines += [f"- {r['operation']} layer {r['layer']} ({r['M']} x {r['K']} x {r['N']}), batch {r['batch']}, "
                  f"{r['threads']} thread(s): fastmlp at {r['speedup']:.2f}x" for r in slower]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=common.parse_int_list, default=[1, 32, 128, 1024])
    parser.add_argument("--threads", type=common.parse_int_list, default=[1, 2])
    parser.add_argument("--isa", default="", help="fastmlp kernel (reference, baseline, avx2, avx512); "
                        "default: the active one")
    parser.add_argument("--samples", type=int, default=7, help="samples per case per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating fastmlp/numpy passes")
    parser.add_argument("--min-sample-seconds", type=float, default=0.005)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--out-dir", type=Path, default=None, help="default: bench/results")
    parser.add_argument("--quick", action="store_true", help="smoke run: batches 1 and 128, 1 thread, few samples")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_sizes, args.threads, args.samples, args.min_sample_seconds = [1, 128], [1], 5, 0.001
        args.rounds = 1
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    common.reexec_without_blas_overrides()
    args = parse_args(argv)
    if args.worker:
        run_worker(json.loads(args.worker))
        return 0
    machine = common.machine_info()
    command = "python bench/gemm_bench.py" + ("" if not argv else " " + " ".join(argv))
    started = time.perf_counter()
    results = run_all(args)
    wall_seconds = time.perf_counter() - started
    machine["load_average_at_end"] = common.load_average()
    # What numpy used inside the workers, which is what was measured.
    machine["numpy_blas"] = results[("numpy", args.threads[0])]["numpy_blas"]
    isa = results[("fastmlp", args.threads[0])]["isa"]
    peaks = peaks_by_threads(results, args)
    rows = combine(results, args, peaks)
    stem = "gemm_quick" if args.quick else "gemm"
    out_dir = args.out_dir or common.RESULTS_DIR
    markdown = render_markdown(rows, args, machine, isa, command, wall_seconds, peaks)
    common.write_text(out_dir / f"{stem}.md", markdown)
    if not args.quick and args.out_dir is None:
        common.update_docs_section("gemm", markdown)
    common.write_json(out_dir / f"{stem}.json", {"command": command, "wall_seconds": wall_seconds,
                                                 "machine": machine, "fastmlp_isa": isa,
                                                 "fma_peak_gflops": {str(t): p for t, p in peaks.items()},
                                                 "rows": rows})
    print(markdown)
    common.progress(f"wrote {out_dir / stem}.md and .json in {wall_seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

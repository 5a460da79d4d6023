"""Helpers shared by the benchmarks: timing, thread control, subprocess workers, writers.

Every measured configuration runs in a fresh worker process (this file's
`run_worker`), so a framework's thread pools, allocator state and imported
libraries never leak into the next measurement.
"""

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

# Some environments set these to pin OpenBLAS to a generic kernel and a
# small L2 blocking; both make numpy's sgemm slower than it is out of the box.
BLAS_OVERRIDE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Where a re-executed process remembers what it removed, so reports can say so.
UNSET_RECORD_VAR = "FASTMLP_BENCH_UNSET"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

RESULT_MARKER = "BENCH-RESULT "
# A worker exits with this code when fastmlp cannot be imported (someone is
# rebuilding it); the parent waits and retries instead of failing the run.
IMPORT_FAILED_EXIT = 3


# ------------------------------------------------------------------ statistics and timing
def median(values):
    return statistics.median(values)


def seconds_per_call_samples(fn, min_sample_seconds=0.002, samples=15, warmup_calls=3):
    """`samples` measurements of seconds per call of fn(), each over enough calls.

    Small calls are repeated inside one sample so the clock's resolution and the
    loop's own overhead stay negligible.
    """
    for _ in range(warmup_calls):
        fn()
    calls = 1
    while True:
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - started
        if elapsed >= min_sample_seconds:
            break
        calls *= 2 if elapsed <= 0 else max(2, math.ceil(min_sample_seconds / elapsed * 1.2))
    per_call = [elapsed / calls]
    for _ in range(samples - 1):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        per_call.append((time.perf_counter() - started) / calls)
    return per_call


# ------------------------------------------------------------------ environment and threads
def environment_without_blas_overrides(base=None):
    env = dict(os.environ if base is None else base)
    for name in BLAS_OVERRIDE_VARS:
        env.pop(name, None)
    return env


def reexec_without_blas_overrides():
    """Restart this process without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE if either is set.

    They are read by OpenBLAS when numpy loads, so removing them later from
    os.environ would have no effect; a fresh interpreter is the reliable way.
    """
    present = {name: os.environ[name] for name in BLAS_OVERRIDE_VARS if name in os.environ}
    if not present:
        return
    env = environment_without_blas_overrides()
    env[UNSET_RECORD_VAR] = json.dumps(present)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def unset_blas_overrides():
    """The variables this process (or its parent) removed, with their former values."""
    return json.loads(os.environ.get(UNSET_RECORD_VAR, "{}"))


def worker_environment(threads):
    """A child's environment: the BLAS overrides removed, every thread pool sized before import."""
    env = environment_without_blas_overrides()
    for name in THREAD_VARS:
        env[name] = str(threads)
    return env


@contextmanager
def blas_threads(threads):
    """Limit numpy's BLAS (used by scikit-learn) to `threads` threads."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def fma_peak_gflops(threads, seconds=0.3):
    """The float32 FMA peak of `threads` threads, measured now (fastmlp._core.fma_peak:
    twelve independent chains of the active instruction set's widest FMA, in
    inline assembly), or None where fastmlp has no probe (non-x86 builds, no AVX2).
    Workers call it before and after what they time, so a share of the peak is
    a share of what the machine could do in that same run."""
    from fastmlp import _core

    try:
        return _core.fma_peak(threads=threads, seconds=seconds)
    except ValueError:
        return None


def read_bandwidth_gbs(bytes_per_thread, threads, seconds=0.3):
    """Read bandwidth (GB/s, all threads) of `threads` threads each streaming its own
    buffer of that size (fastmlp._core.read_bandwidth), or None without AVX-512."""
    from fastmlp import _core

    try:
        return _core.read_bandwidth(int(bytes_per_thread), threads=threads, seconds=seconds)
    except ValueError:
        return None


def thread_round_trip_ns():
    """How long a cache line takes to go between this machine's two CPUs and back
    (ns, rounded to 0.1), or None without a second CPU.

    A virtual machine's CPUs can sit on cores that share a cache (tens of ns)
    or not (hundreds), and the hypervisor may move them while a run goes on.
    Two-thread timings (forks, joins and barriers pay it) are reported with it
    as a witness; on the benchmark machine it does not explain every slow round.
    """
    from fastmlp import _core

    value = _core._thread_round_trip_ns(20000)
    return round(value, 1) if value > 0 else None


def share_of_peak(gflops, peak):
    """'61%' of the peak, or '-' without a probe."""
    return "-" if not peak else f"{100 * gflops / peak:.0f}%"


def short_location(path):
    """A path without the machine's own prefix: from site-packages on, or
    relative to the repository, so reports name no local directories."""
    path = Path(path)
    parts = path.parts
    if "site-packages" in parts:
        return str(Path(*parts[parts.index("site-packages"):]))
    try:
        return str(path.resolve().relative_to(REPO_DIR))
    except ValueError:
        return path.name


def numpy_blas_info():
    """Which BLAS numpy calls and which kernel it picked (threadpoolctl's view)."""
    import numpy as np
    from threadpoolctl import threadpool_info

    np.ones((2, 2)) @ np.ones((2, 2))  # make sure the library is loaded
    numpy_dir = Path(np.__file__).resolve().parent.parent
    for pool in threadpool_info():
        if pool.get("user_api") != "blas":
            continue
        if Path(pool["filepath"]).resolve().is_relative_to(numpy_dir) and "numpy" in pool["filepath"]:
            info = {key: pool.get(key) for key in
                    ("internal_api", "version", "architecture", "threading_layer", "num_threads")}
            info["filepath"] = short_location(pool["filepath"])
            return info
    return {"internal_api": "unknown"}


# ------------------------------------------------------------------ subprocess workers
def run_worker(script, config, threads, timeout_seconds, import_retries=6, retry_wait_seconds=30):
    """Run `script --worker <config>` in a fresh interpreter and return its result dict.

    The worker's stderr (progress) passes through; its stdout carries the
    result line. A timeout or crash becomes {"error": ...} so one bad
    configuration does not lose the whole run.
    """
    command = [sys.executable, str(script), "--worker", json.dumps(config)]
    for attempt in range(import_retries + 1):
        try:
            finished = subprocess.run(command, env=worker_environment(threads), stdout=subprocess.PIPE,
                                      text=True, timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout_seconds} s"}
        if finished.returncode == IMPORT_FAILED_EXIT and attempt < import_retries:
            print(f"    fastmlp did not import (being rebuilt?); retrying in {retry_wait_seconds} s",
                  file=sys.stderr, flush=True)
            time.sleep(retry_wait_seconds)
            continue
        break
    for line in reversed(finished.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    return {"error": f"worker exited with code {finished.returncode} and no result"}


def emit_worker_result(result):
    print(RESULT_MARKER + json.dumps(result), flush=True)


def import_fastmlp_or_exit():
    """fastmlp, or exit with IMPORT_FAILED_EXIT so the parent retries later."""
    try:
        import fastmlp
        import fastmlp._core
    except ImportError as error:
        print(f"cannot import fastmlp: {error}", file=sys.stderr, flush=True)
        sys.exit(IMPORT_FAILED_EXIT)
    return fastmlp


def progress(message):
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ machine description
def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info():
    """What the numbers depend on: CPU, cores usable, load, software versions."""
    import numpy as np

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "load_average_1_5_15_min": load_average(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "numpy_blas": numpy_blas_info(),
        "blas_overrides_unset": unset_blas_overrides(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    try:
        import fastmlp
        from fastmlp import _core

        info["fastmlp"] = {"version": fastmlp.__version__, "isa": _core.active_isa(),
                           "openmp": bool(_core.has_openmp), "path": short_location(Path(fastmlp.__file__).parent),
                           "repo_head": git_commit()}
        # Set when the measured fastmlp was built elsewhere (e.g. from a clean
        # checkout of one commit while the working tree keeps changing).
        if os.environ.get("FASTMLP_BUILT_FROM"):
            info["fastmlp"]["built_from"] = os.environ["FASTMLP_BUILT_FROM"]
    except ImportError as error:
        info["fastmlp"] = {"error": str(error)}
    return info


def git_commit():
    try:
        return subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def describe_machine(info):
    """A few markdown lines for a results header."""
    blas = info["numpy_blas"]
    fm = info.get("fastmlp", {})
    load = f"load average (1, 5, 15 min) at start {info['load_average_1_5_15_min']}"
    if info.get("load_average_at_end"):
        load += f", at end {info['load_average_at_end']}"
    built = f"built from commit {fm['built_from']}, " if fm.get("built_from") else ""
    lines = [
        f"- CPU: {info['cpu']} ({info['usable_cpus']} usable logical CPUs), {load}",
        f"- Python {info['python']}, numpy {info['numpy']} with {blas.get('internal_api')} "
        f"{blas.get('version')} (kernel {blas.get('architecture')})",
        f"- fastmlp {fm.get('version')} from {fm.get('path')} ({built}repository HEAD {fm.get('repo_head')}, "
        f"ISA {fm.get('isa')}, OpenMP {fm.get('openmp')})",
    ]
    busiest = max((info.get("load_average_1_5_15_min") or [0])[0], (info.get("load_average_at_end") or [0])[0])
    if busiest > info["usable_cpus"]:
        lines.append(f"- **The machine was oversubscribed** (1-minute load up to {busiest} on "
                     f"{info['usable_cpus']} CPUs, other jobs running): multi-thread numbers mostly measure "
                     "threads waiting for a descheduled partner, and all numbers are noisier than on an idle machine.")
    unset = info.get("blas_overrides_unset")
    if unset:
        names = ", ".join(f"{k}={v}" for k, v in unset.items())
        lines.append(f"- Removed from the environment for this run: {names}")
    else:
        lines.append("- OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: not set (OpenBLAS picks its own kernel)")
    return "\n".join(lines)


# ------------------------------------------------------------------ writers
def markdown_table(headers, rows):
    """A GitHub markdown table; numbers should already be formatted as strings."""
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def write_text(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")


def parse_int_list(text):
    return [int(item) for item in text.split(",") if item.strip()]


def parse_name_list(text):
    return [item.strip() for item in text.split(",") if item.strip()]


# ------------------------------------------------------------------ docs/benchmarks.md
DOCS_PAGE = REPO_DIR / "docs" / "benchmarks.md"
DOCS_INTRO = """# Benchmarks

The latest full runs of the scripts in `bench/` (see `bench/README.md` for how to
run them and what they measure). Each section below is rewritten by its script
on a full run; the raw numbers are in `bench/results/*.json`.
"""


def update_docs_section(name, markdown):
    """Replace section `name` of docs/benchmarks.md with `markdown`, headings one level down.

    The page holds one section per benchmark between marker comments, so each
    script refreshes its own part without touching the other's.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    demoted = "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())
    block = f"{start}\n{demoted}\n{end}"
    page = DOCS_PAGE.read_text() if DOCS_PAGE.exists() else DOCS_INTRO
    if start in page and end in page:
        before, rest = page.split(start, 1)
        page = before + block + rest.split(end, 1)[1]
    else:
        page = page.rstrip("\n") + "\n\n" + block + "\n"
    write_text(DOCS_PAGE, page)

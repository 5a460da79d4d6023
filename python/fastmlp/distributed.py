"""Data-parallel training over MPI: `fit(X_local, y_local, comm=MPI.COMM_WORLD)`.

Each process (rank) holds its own rows and every fit takes an mpi4py
communicator (the `mpi` extra: mpi4py and an MPI runtime; the native core
never links MPI). What a distributed fit does, whichever model runs it:

- The weights start as rank 0's (broadcast), normalization statistics are
  computed over every rank's rows, a classifier's classes are the union of
  every rank's labels.
- Every step sums the gradients of all ranks (each divided by the step's rows
  over all ranks, so the L2 term is counted once, on rank 0) between the
  native backward and update: the native epoch loop calls
  `Communicator.step_sum` on its gradient buffer. The sum is a reduce to
  rank 0 then a broadcast, so every rank gets the same bits and the replicas
  stay identical (MPI does not promise that of an allreduce).
- Ranks agree on the number of steps per epoch; a rank out of rows adds zeros.
- Arguments and input rows are checked on every rank, then agreed on: if
  any rank's are bad, every rank raises (`agreed`), and the communicator
  stays usable.
- A rank that fails later tells the others: every wait here polls for such
  a notice, so all ranks raise within milliseconds instead of waiting
  forever. After such a failure the communicator cannot be used again; the
  process ends with MPI_Abort at exit, so no rank waits in MPI_Finalize.
- Ctrl-C on any rank is recorded, not raised, and sent with the next sums,
  so every rank stops at the same step (`Communicator.catching_interrupts`).

`Communicator` is the only place that talks to MPI.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import DistributedError

# Tag of the failure notices on the control communicator.
_FAILURE_TAG = 7331
# How long a rank that failed lets the others print their errors before it aborts.
_ABORT_GRACE_SECONDS = 2.0
# How long a rank told of another's failure waits at exit before it aborts:
# MPI_Abort ends every rank at once, and mpiexec may drop what the ranks
# printed last (this rank's error, the failing rank's traceback) unless it
# has had a moment to pass it on.
_NOTIFIED_GRACE_SECONDS = 0.5
# A wait polls flat out for _SPIN_SECONDS (each poll drives MPICH's
# progress, so a sum between ranks on cores of their own finishes soonest),
# then yields the core between polls (ranks may share cores: the partner may
# need this one), and after _YIELD_SECONDS sleeps between polls (a long wait
# is a slow peer, not a step).
_SPIN_SECONDS = 0.00005
_YIELD_SECONDS = 0.01
_POLL_SLEEP_SECONDS = 0.0005


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as error:  # pragma: no cover - the message is the point
        raise ImportError("distributed training needs mpi4py and an MPI runtime: "
                          "pip install 'fastmlp[mpi]'") from error
    return MPI


def communicator(comm: Any) -> Communicator | None:
    """None for comm=None (a one-process fit); else a Communicator over `comm`.

    `comm` must be an mpi4py intracommunicator (for example MPI.COMM_WORLD).
    Every rank of it must make the same call.
    """
    if comm is None:
        return None
    if isinstance(comm, Communicator):
        return comm
    MPI = _mpi()
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"comm must be an mpi4py communicator (such as MPI.COMM_WORLD) or None, "
                        f"got {type(comm).__name__}")
    return Communicator(comm)


class Communicator:
    """The collectives a distributed fit needs, over private duplicates of `comm`.

    Data and failure notices travel on their own duplicates, so fastmlp's
    messages never meet the user's.
    """

    def __init__(self, comm: Any) -> None:
        MPI = self._MPI = _mpi()
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self._data = comm.Dup()
        self._control = comm.Dup()
        local = comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_size = local.Get_size()
        # The CPUs each rank may run on: the same set on every rank of this
        # machine (mpiexec's default) is shared among them; a set of its own
        # (Slurm's --cpus-per-task, mpiexec -bind-to) is this rank's alone.
        mine = sorted(_usable_cpus())
        masks = local.allgather(mine)
        self._cpus = (max(1, len(mine) // self.local_size) if all(m == mine for m in masks)
                      else len(mine))
        local.Free()
        self.broken = False
        self.closed = False
        # A Ctrl-C during the fit, not yet acted on (see `catching_interrupts`).
        self.interrupt_requested = False

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def close(self) -> None:
        """Free the duplicates (once; not after a failure, which may leave them in use)."""
        if not self.broken and not self.closed:
            self._data.Free()
            self._control.Free()
            self.closed = True

    # ------------------------------------------------------------ waiting
    def _wait(self, request: Any) -> None:
        """Wait for a non-blocking operation, polling for a peer's failure notice."""
        started = time.perf_counter()
        polls = 0
        while not request.Test():
            polls += 1
            if polls % 32 == 0:
                self._check_peers()
            waited = time.perf_counter() - started
            if waited > _YIELD_SECONDS:
                time.sleep(_POLL_SLEEP_SECONDS)
            elif waited > _SPIN_SECONDS:
                _yield_core()

    def _check_peers(self) -> None:
        status = self._MPI.Status()
        if self._control.Iprobe(source=self._MPI.ANY_SOURCE, tag=_FAILURE_TAG, status=status):
            source = status.Get_source()
            message = self._control.recv(source=source, tag=_FAILURE_TAG)
            self._mark_broken(grace=_NOTIFIED_GRACE_SECONDS)
            raise DistributedError(f"rank {source} of {self.size} failed, so this rank "
                                   f"(rank {self.rank}) stops too: {message}")

    # ------------------------------------------------------------ collectives
    def sum_in_place(self, buffer: np.ndarray) -> None:
        """buffer = the sum of every rank's buffer, the same bits on every rank.

        Reduce to rank 0, then broadcast: an allreduce may round differently on
        different ranks, which would let the replicas drift apart.
        """
        MPI = self._MPI
        if self.rank == 0:
            self._wait(self._data.Ireduce(MPI.IN_PLACE, buffer, op=MPI.SUM, root=0))
        else:
            self._wait(self._data.Ireduce(buffer, None, op=MPI.SUM, root=0))
        self._wait(self._data.Ibcast(buffer, root=0))

    def step_sum(self, buffer: np.ndarray) -> bool:
        """sum_in_place for the native epoch loop, between backward and update.

        Returns True once this rank has had a Ctrl-C: the loop then sends a
        stop request with the next step's sums, and every rank stops there.
        """
        self.sum_in_place(buffer)
        return self.interrupt_requested

    def sum(self, values: Any) -> np.ndarray:
        """The float64 sum over ranks of `values` (a number or an array)."""
        buffer = np.array(values, dtype=np.float64, ndmin=1, copy=True)
        self.sum_in_place(buffer)
        return buffer

    def min_max(self, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The elementwise minimum of `low` and maximum of `high` over ranks (exact)."""
        MPI = self._MPI
        low = np.array(low, dtype=np.float64, copy=True)
        high = np.array(high, dtype=np.float64, copy=True)
        for buffer, op in ((low, MPI.MIN), (high, MPI.MAX)):
            self._wait(self._data.Iallreduce(MPI.IN_PLACE, buffer, op=op))
        return low, high

    def broadcast(self, buffer: np.ndarray) -> None:
        """Rank 0's buffer on every rank (in place)."""
        self._wait(self._data.Ibcast(buffer, root=0))

    def allgather(self, value: Any) -> list[Any]:
        """Every rank's (picklable) value, in rank order."""
        payload = np.frombuffer(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL),
                                dtype=np.uint8)
        sizes = np.zeros(self.size, dtype=np.int64)
        self._wait(self._data.Iallgather(np.array([payload.size], dtype=np.int64), sizes))
        received = np.empty(int(sizes.sum()), dtype=np.uint8)
        self._wait(self._data.Iallgatherv(payload, [received, sizes]))
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        return [pickle.loads(received[offsets[r]:offsets[r + 1]].tobytes())
                for r in range(self.size)]

    def concatenate(self, array: np.ndarray) -> np.ndarray:
        """Every rank's rows, stacked in rank order."""
        return np.concatenate(self.allgather(np.asarray(array)), axis=0)

    # ------------------------------------------------------------ Ctrl-C
    @contextlib.contextmanager
    def catching_interrupts(self) -> Iterator[None]:
        """During the fit, Ctrl-C sets `interrupt_requested` instead of raising.

        A KeyboardInterrupt raised on one rank in the middle of a collective
        would leave the others waiting in it. Instead the request travels with
        the next sums (the native loop's stop request, lbfgs's extra slot), so
        every rank stops at the same point. Only where Python handles signals
        (the main thread) and only over Python's own handler.
        """
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            yield
            return

        def request_stop(signum: int, frame: Any) -> None:
            self.interrupt_requested = True

        signal.signal(signal.SIGINT, request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.interrupt_requested:   # came too late for any sums: this rank alone stops
            self.interrupt_requested = False
            raise KeyboardInterrupt

    def take_interrupt(self) -> None:
        """The stop for a Ctrl-C has been agreed on; a new one starts afresh."""
        self.interrupt_requested = False

    # ------------------------------------------------------------ failures
    def agree(self, error: BaseException | None) -> None:
        """Every rank passes the error it met (or None); if any met one, all raise.

        A rank's own error is raised there as it is; the others raise a
        DistributedError naming that rank and its message. The communicator
        stays usable (nothing is left half-done).
        """
        reports = self.allgather(None if error is None else _describe(error))
        failed = [(rank, report) for rank, report in enumerate(reports) if report is not None]
        if not failed:
            return
        if error is not None:
            error.fastmlp_agreed = True  # type: ignore[attr-defined]  # every rank knows
            raise error
        text = "; ".join(f"rank {rank}: {report}" for rank, report in failed)
        raise DistributedError(f"the fit stopped on every rank because of bad input on "
                               f"{len(failed)} of {self.size} ranks ({text})")

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Run a distributed fit: an error on this rank is told to every other rank."""
        try:
            yield
        except DistributedError:
            raise
        except BaseException as error:
            if not getattr(error, "fastmlp_agreed", False):
                self._notify(error)
                error.fastmlp_agreed = True  # type: ignore[attr-defined]  # the others know now
            raise

    def _notify(self, error: BaseException) -> None:
        message = _describe(error)
        requests = [self._control.isend(message, dest=rank, tag=_FAILURE_TAG)
                    for rank in range(self.size) if rank != self.rank]
        deadline = time.perf_counter() + 0.5
        while requests and time.perf_counter() < deadline:
            requests = [r for r in requests if not r.Test()]
        self._mark_broken(grace=_ABORT_GRACE_SECONDS)

    def _mark_broken(self, *, grace: float) -> None:
        self.broken = True
        _abort_at_exit(self._MPI, grace)

    # ------------------------------------------------------------ plans
    def step_rows(self, n_local: int, batch_size: int) -> np.ndarray:
        """Each step's rows over all ranks, for `batch_size` rows per rank and step.

        Every rank runs len(result) steps; rank r adds min(batch_size, rows
        left) rows to step s, zero once its rows run out.
        """
        counts = self.allgather((int(n_local), int(batch_size)))
        sizes = {b for _, b in counts}
        if len(sizes) != 1:
            raise DistributedError(f"every rank needs the same batch size, got "
                                   f"{[b for _, b in counts]} by rank")
        rows = np.array([n for n, _ in counts], dtype=np.int64)
        steps = int(max(-(-rows // batch_size)))
        starts = np.arange(steps, dtype=np.int64)[:, None] * batch_size
        return np.clip(rows[None, :] - starts, 0, batch_size).sum(axis=1).astype(np.int64)

    def default_threads(self) -> int | None:
        """OpenMP threads per rank: this rank's share of the machine's CPUs (None
        when OMP_NUM_THREADS decides)."""
        if os.environ.get("OMP_NUM_THREADS"):
            return None
        return self._cpus


def _usable_cpus() -> set[int]:
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return set(range(os.cpu_count() or 1))


def _yield_core() -> None:
    if hasattr(os, "sched_yield"):
        os.sched_yield()
    else:  # pragma: no cover - not on Linux or macOS
        time.sleep(0)


def _describe(error: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text or type(error).__name__


_abort_registered = False
_abort_grace = 0.0


def _abort_at_exit(MPI: Any, grace: float) -> None:
    """After a failure, end with MPI_Abort at exit, `grace` seconds (the
    longest asked for) after the interpreter starts to exit: a collective left
    half-done would make MPI_Finalize wait forever."""
    global _abort_registered, _abort_grace
    _abort_grace = max(_abort_grace, grace)
    if _abort_registered:
        return
    _abort_registered = True

    def abort() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(_abort_grace)
        MPI.COMM_WORLD.Abort(1)

    atexit.register(abort)



@contextlib.contextmanager
def fitting(comm: Communicator | None, n_threads: int | None = None) -> Iterator[None]:
    """The frame of one fit on `comm` (nothing without it): a failure here is
    told to every rank, each rank runs `n_threads` OpenMP threads (by default
    the machine's cores shared among its ranks), only rank 0 warns (the others
    would repeat its warnings), the duplicates are freed."""
    if comm is None:
        yield
        return
    from ._threads import native_threads

    threads = n_threads if n_threads is not None else comm.default_threads()
    try:
        with comm.guard(), comm.catching_interrupts(), native_threads(threads), \
                warnings.catch_warnings():
            if not comm.is_root:
                warnings.simplefilter("ignore")
            yield
    finally:
        comm.close()   # after an agreed error too; not once a failure broke it


def agreed(comm: Communicator | None, check: Any, *args: Any) -> Any:
    """check(*args) on this rank; with comm, every rank then learns whether any
    rank's check failed, and all raise (`Communicator.agree`)."""
    if comm is None:
        return check(*args)
    try:
        result = check(*args)
    except Exception as error:
        comm.agree(error)
        raise  # agree raised already; this keeps type checkers content
    comm.agree(None)
    return result

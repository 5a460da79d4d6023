"""The live progress bar within an epoch, and the chunked epoch that feeds it.

The native core trains a whole epoch in one GIL-released call, so Python has
nothing to report until the epoch ends. When (and only when) a bar is shown,
the epoch's shuffled order is cut into ~`TARGET_UPDATES` slices on batch
boundaries and `train_epoch` runs once per slice. The optimizer state and its
step counter live in the native network and the batches are the same rows in
the same order, so the weights come out bit-identical to the one-call epoch
(tests/test_progress.py checks it); the cost is a few dozen extra calls per epoch.
"""

import math
import sys
import time

import numpy as np

# Bar updates per epoch: enough to look live, few enough to cost nothing.
TARGET_UPDATES = 40
# The plain-text fallback redraws at most this often.
_FALLBACK_REDRAW_SECONDS = 0.1

PROGRESS_MODES = ("auto", "always", "never")


def bar_wanted(mode, stream=None):
    """'always', 'never', or 'auto' = only when the stream is an interactive terminal."""
    if mode not in PROGRESS_MODES:
        raise ValueError(f"progress must be one of {', '.join(PROGRESS_MODES)}, got {mode!r}")
    if mode != "auto":
        return mode == "always"
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def chunk_bounds(n_rows, batch_size, target_chunks=TARGET_UPDATES):
    """[(start, stop), ...] row ranges of the order, each a whole number of batches."""
    n_batches = math.ceil(n_rows / batch_size)
    batches_per_chunk = max(1, math.ceil(n_batches / target_chunks))
    step = batches_per_chunk * batch_size
    return [(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]


def train_epoch_in_chunks(train_slice, order, batch_size, on_chunk=None,
                          target_chunks=TARGET_UPDATES):
    """Run one epoch as several `train_slice(order_slice)` calls.

    `train_slice` is the native `train_epoch` with everything but the order bound.
    `on_chunk(batches_done, running_loss)` runs after every slice. Returns the
    same dict as `train_epoch`: the loss is the row-weighted mean over slices
    (each slice's loss is already a mean over its rows), and `failed_batch` counts
    from the start of the epoch.
    """
    total_loss, rows, batches = 0.0, 0, 0
    result = {"status": "completed", "failed_batch": -1}
    for start, stop in chunk_bounds(len(order), batch_size, target_chunks):
        result = dict(train_slice(np.ascontiguousarray(order[start:stop])))
        if result["status"] == "non_finite":
            result["failed_batch"] += batches
        total_loss += result["loss"] * result["rows"]
        rows += result["rows"]
        batches += result["batches"]
        if result["status"] != "completed":
            break
        if on_chunk is not None:
            on_chunk(batches, total_loss / max(rows, 1))
    result.update(loss=total_loss / max(rows, 1), rows=rows, batches=batches)
    return result


class EpochBar:
    """One epoch's bar on stderr: batches done, batches per second, running loss.

    Uses tqdm when it is installed; otherwise a plain one-line text bar. The
    bar is removed when the epoch ends, so the per-epoch metrics line is all
    that stays on screen.
    """

    def __init__(self, epoch, epochs, n_batches, stream=None):
        self._stream = sys.stderr if stream is None else stream
        self._label = f"epoch {epoch}/{epochs}"
        self._total = n_batches
        self._done = 0
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self._tqdm = None
            self._started = self._last_draw = time.perf_counter()
        else:
            self._tqdm = tqdm(total=n_batches, desc=self._label, unit="batch", leave=False,
                              file=self._stream, dynamic_ncols=True)

    def update(self, batches_done, running_loss):
        if self._tqdm is not None:
            self._tqdm.update(batches_done - self._done)
            self._tqdm.set_postfix(loss=f"{running_loss:.4f}", refresh=False)
        else:
            self._draw_plain(batches_done, running_loss)
        self._done = batches_done

    def close(self):
        if self._tqdm is not None:
            self._tqdm.refresh()  # tqdm skips redraws within 0.1 s; show the final count once
            self._tqdm.close()
        else:
            self._stream.write("\r\033[K")
            self._stream.flush()

    def _draw_plain(self, batches_done, running_loss):
        now = time.perf_counter()
        if now - self._last_draw < _FALLBACK_REDRAW_SECONDS and batches_done < self._total:
            return
        self._last_draw = now
        width = 30
        filled = int(width * batches_done / max(self._total, 1))
        rate = batches_done / max(now - self._started, 1e-9)
        self._stream.write(f"\r{self._label} [{'#' * filled}{'.' * (width - filled)}] "
                           f"{batches_done}/{self._total} {rate:,.0f} batch/s loss {running_loss:.4f}")
        self._stream.flush()

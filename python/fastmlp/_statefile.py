"""Training-state files: an npz of arrays plus the rest as JSON, written atomically.

What `BackupAndRestore` (callbacks.py) and an estimator's `backup_dir`
(estimators/_backup.py) write after every epoch: no pickle, so a file from
anywhere is read without running anything. The JSON sits in the `state`
entry as UTF-8 bytes and names its `kind` and `version`.
"""

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from ._atomic import write_atomically


def make_backup_folder(folder, label):
    """The folder a backup goes in, created if missing; its parent must exist."""
    folder = Path(folder)
    if not folder.is_dir():
        if not folder.parent.is_dir():
            raise FileNotFoundError(
                f"{label}: cannot create the backup folder {str(folder)!r}: expected its parent "
                f"{str(folder.parent)!r} to be an existing folder")
        folder.mkdir(exist_ok=True)
    return folder


def write_state_file(path, state, arrays):
    """Replace `path` atomically with `arrays` (name -> ndarray) and `state` as JSON."""
    text = json.dumps(state, allow_nan=False, separators=(",", ":")).encode("utf-8")
    entries = dict(arrays)
    entries["state"] = np.frombuffer(text, dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **entries)
    write_atomically(path, buffer.getvalue())


def read_state_file(path, kind, version, label, what):
    """(state, arrays) of a file `write_state_file` wrote with this kind and version;
    otherwise a ValueError starting with `label` that calls the file `what`."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: np.array(npz[name]) for name in npz.files}
        state = json.loads(bytes(arrays.pop("state")).decode("utf-8"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise ValueError(f"{label}: {str(path)!r} is not a readable {what}: {error}") from None
    if not isinstance(state, dict) or state.get("kind") != kind:
        got = state.get("kind") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{label}: {str(path)!r} is not a {what}: expected kind {kind!r}, "
                         f"got {got!r:.60}")
    if state.get("version") != version:
        raise ValueError(f"{label}: {str(path)!r} has backup version {state.get('version')!r}: "
                         f"expected {version}")
    return state, arrays

"""Atomic file writes: a crash leaves the old file or the new one, never a mix.

Used by model files (`fastmlp.io`) and training backups (`BackupAndRestore`);
it imports nothing of fastmlp, so any module may use it.
"""

import os
import tempfile
from pathlib import Path


def write_atomically(path, data):
    """Write `data` to `path` so that a crash leaves the old file or the new one, never a mix.

    The bytes go to a temporary file in the same folder (a rename is atomic
    only within one file system), are fsync'ed, get the mode a plain open()
    would give (0666 minus the umask; mkstemp makes 0600), and are renamed
    over `path`; then the folder is fsync'ed so the rename itself survives.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o666 & ~_current_umask())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_folder(folder):
    # Not every platform can open a folder; there the rename is as durable as it gets.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

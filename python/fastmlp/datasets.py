"""IDX files (the MNIST format) and the datasets that come in it.

``read_idx`` / ``write_idx`` handle single IDX files, plain or gzip-compressed.
``load_mnist`` and ``load_fashion_mnist`` return ``Dataset`` tuples of flattened
uint8 images and int64 labels; ``to_float32`` turns such images into the
float32 matrices the models train on, normalizing in the same pass.
``iter_row_chunks`` reads an IDX or .npy file that does not fit in memory as
memory-mapped row chunks, optionally only one rank's shard (``shard_bounds``).
"""

from __future__ import annotations

import gzip
import hashlib
import numbers
import os
import re
import zlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, Union

import numpy as np
import numpy.typing as npt

from . import _idx

PathLike = Union[str, "os.PathLike[str]"]

# IDX type code -> element type. The payload is big-endian; arrays are
# returned in native byte order.
IDX_TYPE_CODES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(np.int16),
    0x0C: np.dtype(np.int32),
    0x0D: np.dtype(np.float32),
    0x0E: np.dtype(np.float64),
}
_TYPE_CODE_OF_DTYPE = {dtype: code for code, dtype in IDX_TYPE_CODES.items()}

_GZIP_MAGIC = b"\x1f\x8b"
# Reading a gzip stream in bounded chunks keeps a header that declares absurd
# dimensions from making us allocate their size before the data runs out.
_READ_CHUNK_BYTES = 1 << 24

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
DATA_ENV_VAR = "FASTMLP_DATA"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_MNIST_DOWNLOAD_HINT = (
    "download the four MNIST files (train-images-idx3-ubyte.gz, "
    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
    "t10k-labels-idx1-ubyte.gz) into that folder, or call load_mnist() "
    f"without a path (and without {DATA_ENV_VAR} set) to use the 10,000 "
    "test digits shipped with fastmlp")
_FASHION_MNIST_HINT = (
    "install it with `apt-get install dataset-fashion-mnist` (it lands in "
    f"{FASHION_MNIST_DIR}) or pass the folder holding the four Fashion-MNIST "
    "IDX files as load_fashion_mnist(path)")


class Dataset(NamedTuple):
    """Train/test split; unpacks as ``X_train, y_train, X_test, y_test``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


# --- IDX reading -------------------------------------------------------------

def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file, plain or gzip-compressed (detected by content).

    Raises ValueError, naming the file and what was expected, for a bad magic
    number, an unknown type code, a truncated payload, trailing bytes or a
    corrupt gzip stream.
    """
    path = Path(path)
    with open(path, "rb") as raw:
        is_gzip = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not is_gzip:
            return _read_idx_stream(raw, path, os.fstat(raw.fileno()).st_size)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _read_idx_stream(stream, path, None)
        except (OSError, EOFError, zlib.error) as error:
            # BadGzipFile is an OSError; a cut stream raises EOFError.
            raise ValueError(f"{path}: corrupt gzip stream ({error})") from error


def _read_idx_stream(stream: BinaryIO, path: Path, total_bytes: int | None) -> np.ndarray:
    """Parse header + payload; ``total_bytes`` is known for plain files only."""
    dtype, shape = _read_idx_header(stream, path)
    header_bytes = 4 + 4 * len(shape)
    payload_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if total_bytes is not None and total_bytes - header_bytes < payload_bytes:
        # Checked up front so absurd dimensions never reach an allocation.
        raise ValueError(_truncation_message(path, dtype, shape, payload_bytes,
                                             total_bytes - header_bytes))
    payload = _read_at_most(stream, payload_bytes)
    if len(payload) < payload_bytes:
        raise ValueError(_truncation_message(path, dtype, shape, payload_bytes, len(payload)))
    trailing = stream.read(1)
    if trailing:
        extra = 1 + _count_remaining_bytes(stream)
        raise ValueError(
            f"{path}: {extra} unexpected trailing byte(s) after the payload; header "
            f"declares shape {shape} of {dtype.name} = {payload_bytes} payload bytes")
    return _idx.decode_big_endian(payload, dtype, shape)


def _read_idx_header(stream: BinaryIO, path: Path) -> tuple:
    magic = stream.read(4)
    if len(magic) < 4:
        raise ValueError(f"{path}: file too short for an IDX header: expected 4 magic bytes, got {len(magic)}")
    if magic[0:2] != b"\x00\x00":
        raise ValueError(
            f"{path}: bad IDX magic number: expected the first two bytes to be 00 00, "
            f"got {magic[0:2].hex(' ')} (magic {magic.hex(' ')})")
    type_code, n_dims = magic[2], magic[3]
    if type_code not in IDX_TYPE_CODES:
        known = ", ".join(f"0x{code:02X} {dtype.name}" for code, dtype in IDX_TYPE_CODES.items())
        raise ValueError(f"{path}: unknown IDX type code 0x{type_code:02X}: expected one of {known}")
    dims_bytes = stream.read(4 * n_dims)
    if len(dims_bytes) < 4 * n_dims:
        raise ValueError(
            f"{path}: truncated IDX header: expected {n_dims} dimension sizes "
            f"({4 * n_dims} bytes), got {len(dims_bytes)} bytes")
    shape = tuple(int(size) for size in np.frombuffer(dims_bytes, dtype=">u4"))
    return IDX_TYPE_CODES[type_code], shape


def _read_at_most(stream: BinaryIO, n_bytes: int) -> bytearray:
    payload = bytearray()
    while len(payload) < n_bytes:
        chunk = stream.read(min(n_bytes - len(payload), _READ_CHUNK_BYTES))
        if not chunk:
            break
        payload += chunk
    return payload


def _count_remaining_bytes(stream: BinaryIO) -> int:
    remaining = 0
    for chunk in iter(lambda: stream.read(_READ_CHUNK_BYTES), b""):
        remaining += len(chunk)
    return remaining


def _truncation_message(path, dtype, shape, expected_bytes, received_bytes) -> str:
    n_elements = int(np.prod(shape, dtype=object))
    return (f"{path}: truncated or mis-sized IDX file: header declares shape {shape} "
            f"= {n_elements} {dtype.name} elements = {expected_bytes} payload bytes, "
            f"but only {received_bytes} bytes follow the header")


# --- IDX writing -------------------------------------------------------------

def write_idx(path: PathLike, array: npt.ArrayLike, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzip when ``compress`` or, if None, when the path ends in .gz."""
    path = Path(path)
    array = np.asarray(array)
    dtype = array.dtype.newbyteorder("=")
    if dtype not in _TYPE_CODE_OF_DTYPE:
        names = ", ".join(d.name for d in IDX_TYPE_CODES.values())
        raise ValueError(f"IDX cannot store dtype {array.dtype}: expected one of {names}")
    if array.ndim > 255:
        raise ValueError(f"IDX stores at most 255 dimensions, got {array.ndim}")
    too_large = [size for size in array.shape if size >= 2**32]
    if too_large:
        raise ValueError(f"IDX dimension sizes must be below 2**32, got {too_large}")
    header = bytes([0, 0, _TYPE_CODE_OF_DTYPE[dtype], array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    payload = np.ascontiguousarray(array, dtype=dtype.newbyteorder(">")).tobytes()
    if compress is None:
        compress = path.name.endswith(".gz")
    opener = gzip.open if compress else open
    with opener(path, "wb") as stream:
        stream.write(header)
        stream.write(payload)


# --- Row chunks of files larger than memory --------------------------------------

# File names read as IDX: the .idx suffix and MNIST's own naming
# (train-images-idx3-ubyte, also written train-images.idx3-ubyte).
_IDX_NAME = re.compile(r"(\.idx|idx\d+-ubyte)$", re.IGNORECASE)
_KNOWN_CHUNK_FILES = ("an uncompressed IDX file (a name ending in .idx, or like "
                      "train-images-idx3-ubyte) or a .npy file")


def shard_bounds(n_rows: int, rank: int, size: int) -> tuple[int, int]:
    """The rows ``[start, stop)`` that rank ``rank`` of ``size`` ranks owns.

    The shards are contiguous and in rank order, and as even as possible: the
    first ``n_rows % size`` ranks get one row more than the others. Together
    they cover every row once; a rank gets no row (``start == stop``) when
    there are fewer rows than ranks.
    """
    n_rows = _check_integer(n_rows, "n_rows", minimum=0)
    size = _check_integer(size, "size", minimum=1)
    rank = _check_rank(rank, size)
    base, extra = divmod(n_rows, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def iter_row_chunks(path: PathLike, chunk_rows: int, *, comm: Any = None, rank: int | None = None,
                    size: int | None = None, start: int | None = None,
                    stop: int | None = None) -> Iterator[np.ndarray]:
    """The rows of an IDX or .npy file in chunks, memory-mapped: no chunk is a copy.

    Parameters
    ----------
    path : str or os.PathLike
        An uncompressed IDX file (a name ending in ``.idx``, or named like MNIST's,
        ``train-images-idx3-ubyte``) or a ``.npy`` file.
    chunk_rows : int
        Rows per chunk; the last chunk may have fewer.
    comm : MPI communicator, optional
        Anything with ``Get_rank()`` and ``Get_size()``, e.g.
        ``mpi4py.MPI.COMM_WORLD``: read only this process's shard of the rows
        (``shard_bounds``).
    rank, size : int, optional
        The same without a communicator: read shard ``rank`` of ``size``.
    start, stop : int, optional
        Read only rows ``[start, stop)`` of the file (default: all of them);
        with ranks, the shards divide this range.

    Returns
    -------
    Iterator[numpy.ndarray]
        Arrays of up to ``chunk_rows`` rows, each with the rest of the file's
        shape (``(k, 28, 28)`` for MNIST images: ``chunk.reshape(len(chunk), -1)``
        flattens one without a copy). The rows are split into
        ``ceil(rows / chunk_rows)`` chunks as even as possible, the first ones
        one row longer. With ranks, every rank gets the same number of chunks,
        that of the longest shard, so a loop of collective calls such as
        ``partial_fit(X_chunk, y_chunk, comm=comm)`` lines up on every rank
        (a shard with fewer rows than that number also yields empty chunks).
        Each chunk is a read-only view of the memory-mapped file, read from
        disk as it is used. IDX stores multi-byte numbers big-endian, and
        their chunks keep a big-endian dtype (``>i2``, ``>f4``, ...): the
        values are right, and ``astype`` converts them.

    Notes
    -----
    The arguments and the file are checked when this is called, before the
    first chunk. A gzip-compressed file cannot be memory-mapped: decompress
    it first, or read it whole with `read_idx`.
    """
    chunk_rows = _check_integer(chunk_rows, "chunk_rows", minimum=1)
    rank, size = _rank_and_size(comm, rank, size)
    rows = _map_rows(Path(path))
    n_rows = rows.shape[0]
    first = 0 if start is None else _check_integer(start, "start", minimum=0)
    last = n_rows if stop is None else _check_integer(stop, "stop", minimum=0)
    if not first <= last <= n_rows:
        raise ValueError(f"{path}: start and stop must satisfy 0 <= start <= stop <= {n_rows} "
                         f"(the file's rows), got start={start!r}, stop={stop!r}")
    longest = last - first
    if size is not None:
        # Rank 0's shard is a longest one: every rank counts its chunks from it.
        longest = shard_bounds(last - first, 0, size)[1]
        shard_start, shard_stop = shard_bounds(last - first, rank, size)
        first, last = first + shard_start, first + shard_stop
    return _row_chunks(rows, first, last, -(-longest // chunk_rows))


def _row_chunks(rows: np.ndarray, first: int, last: int, n_chunks: int) -> Iterator[np.ndarray]:
    """Rows [first, last) in n_chunks views, split as shard_bounds splits rows among ranks."""
    for chunk in range(n_chunks):
        begin, end = shard_bounds(last - first, chunk, n_chunks)
        yield rows[first + begin:first + end]


def _check_integer(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_rank(rank: Any, size: int) -> int:
    if isinstance(rank, (bool, np.bool_)) or not isinstance(rank, numbers.Integral) \
            or not 0 <= rank < size:
        raise ValueError(f"rank must be an integer in [0, {size}) for size={size}, got {rank!r}")
    return int(rank)


def _rank_and_size(comm: Any, rank: Any, size: Any) -> tuple:
    """(rank, size) from a communicator or given directly; (None, None) for all rows."""
    if comm is not None:
        if rank is not None or size is not None:
            raise ValueError(f"pass comm, or rank and size, not both: got comm and rank={rank!r}, "
                             f"size={size!r}")
        if not (callable(getattr(comm, "Get_rank", None)) and callable(getattr(comm, "Get_size", None))):
            raise TypeError("comm must be an MPI communicator with Get_rank() and Get_size() "
                            f"(e.g. mpi4py.MPI.COMM_WORLD), got {type(comm).__name__}")
        rank, size = comm.Get_rank(), comm.Get_size()
    elif rank is None and size is None:
        return None, None
    elif rank is None or size is None:
        raise ValueError(f"rank and size go together: got rank={rank!r}, size={size!r}")
    size = _check_integer(size, "size", minimum=1)
    return _check_rank(rank, size), size


def _map_rows(path: Path) -> np.ndarray:
    """The file's array, memory-mapped read-only, with at least one axis."""
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"{path} {what}: expected {_KNOWN_CHUNK_FILES}")
    name = path.name
    if name.lower().endswith(".gz"):
        raise ValueError(f"{path}: a gzip-compressed file cannot be memory-mapped: decompress it "
                         "first (gunzip -k), or read it whole with read_idx")
    if name.lower().endswith(".npy"):
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as error:
            raise ValueError(f"{path}: cannot memory-map this .npy file ({error})") from None
    elif _IDX_NAME.search(name):
        array = _map_idx(path)
    else:
        raise ValueError(f"{path}: unknown file type (suffix {path.suffix!r}): expected "
                         f"{_KNOWN_CHUNK_FILES}")
    if array.ndim == 0:
        raise ValueError(f"{path}: expected an array with at least one axis of rows, got a 0-d array")
    return array


def _map_idx(path: Path) -> np.ndarray:
    with open(path, "rb") as raw:
        if raw.read(2) == _GZIP_MAGIC:
            raise ValueError(f"{path}: the file is gzip-compressed (its content says so), and a "
                             "compressed file cannot be memory-mapped: decompress it first "
                             "(gunzip), or read it whole with read_idx")
        raw.seek(0)
        dtype, shape = _read_idx_header(raw, path)
        total_bytes = os.fstat(raw.fileno()).st_size
    header_bytes = 4 + 4 * len(shape)
    payload_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if total_bytes - header_bytes < payload_bytes:
        raise ValueError(_truncation_message(path, dtype, shape, payload_bytes, total_bytes - header_bytes))
    if total_bytes - header_bytes > payload_bytes:
        raise ValueError(
            f"{path}: {total_bytes - header_bytes - payload_bytes} unexpected trailing byte(s) after "
            f"the payload; header declares shape {shape} of {dtype.name} = {payload_bytes} payload bytes")
    stored = dtype.newbyteorder(">")
    if payload_bytes == 0:  # nothing to map (mmap refuses a zero length)
        return np.empty(shape, dtype=stored)
    return np.memmap(path, dtype=stored, mode="r", offset=header_bytes, shape=shape)


# --- MNIST-format datasets ------------------------------------------------------

def load_mnist(path: PathLike | None = None, *, test_size: int = 2000, seed: int = 0) -> Dataset:
    """MNIST digits as flattened uint8 images (n, 784) and int64 labels.

    With ``path`` (or the ``FASTMLP_DATA`` environment variable) naming a folder
    holding the four standard MNIST files (optionally .gz), returns the full
    60,000 training and 10,000 test digits. Otherwise splits the 10,000 test
    digits shipped with fastmlp into stratified train and test parts
    (``test_size`` test digits, the split fixed by ``seed``).
    """
    if path is None:
        path = os.environ.get(DATA_ENV_VAR) or None
    if path is not None:
        return _load_idx_folder(Path(path), "MNIST", _MNIST_DOWNLOAD_HINT)
    images, labels = _load_shipped_mnist_test_set()
    return _stratified_split(images, labels, test_size=test_size, seed=seed)


def load_fashion_mnist(path: PathLike | None = None) -> Dataset:
    """Fashion-MNIST (60,000 + 10,000 uint8 images, flattened), by default from the Debian package."""
    folder = FASHION_MNIST_DIR if path is None else Path(path)
    return _load_idx_folder(folder, "Fashion-MNIST", _FASHION_MNIST_HINT)


def to_float32(X_uint8: npt.ArrayLike, offset: npt.ArrayLike = 0.0,
               scale: npt.ArrayLike = 1 / 255) -> npt.NDArray[np.float32]:
    """``(X - offset) * scale`` as a C-contiguous float32 matrix, in one pass.

    ``offset`` and ``scale`` are scalars or one value per column (e.g. the
    mean and 1/std of a z-score). No float64 copy of ``X`` is made.
    """
    X_uint8 = np.asarray(X_uint8)
    if X_uint8.dtype != np.uint8 or X_uint8.ndim != 2:
        raise ValueError(
            f"to_float32 expects a 2-D uint8 array, got a {X_uint8.ndim}-D {X_uint8.dtype} array")
    out = np.empty(X_uint8.shape, dtype=np.float32)
    _idx.scale_uint8(out, X_uint8, offset, scale)
    return out


def _load_idx_folder(folder: Path, name: str, how_to_get: str) -> Dataset:
    if not folder.is_dir():
        raise FileNotFoundError(f"{name} folder {folder} does not exist: {how_to_get}")
    files = {role: _find_idx_file(folder, stem, name, how_to_get) for role, stem in MNIST_FILES.items()}
    X_train, y_train = _images_and_labels(files["train_images"], files["train_labels"])
    X_test, y_test = _images_and_labels(files["test_images"], files["test_labels"])
    return Dataset(X_train, y_train, X_test, y_test)


def _find_idx_file(folder: Path, stem: str, name: str, how_to_get: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{name} file {stem} (or {stem}.gz) not found in {folder}: {how_to_get}")


def _images_and_labels(images_path: Path, labels_path: Path) -> tuple:
    """Images flattened to (n, pixels) uint8, labels as int64, counts checked."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim < 2:
        raise ValueError(
            f"{images_path}: expected uint8 images with at least 2 dimensions, "
            f"got {images.dtype} of shape {images.shape}")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{labels_path}: expected 1-D integer labels, got {labels.dtype} of shape {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{labels_path}: expected {images.shape[0]} labels to match {images_path}, "
            f"got {labels.shape[0]}")
    return images.reshape(images.shape[0], -1), labels.astype(np.int64)


def _shipped_data_dir():
    return resources.files(__package__) / "data"


def _load_shipped_mnist_test_set() -> tuple:
    data_dir = _shipped_data_dir()
    expected = _read_sha256sums(data_dir / "SHA256SUMS")
    stems = (MNIST_FILES["test_images"], MNIST_FILES["test_labels"])
    with resources.as_file(data_dir) as folder:
        paths = [Path(folder) / f"{stem}.gz" for stem in stems]
        for path in paths:
            _verify_sha256(path, expected.get(path.name))
        return _images_and_labels(*paths)


def _read_sha256sums(sums_file) -> dict:
    """``sha256sum`` output: '<hex digest>  <file name>' per line."""
    digests = {}
    for line in sums_file.read_text().splitlines():
        if line.strip():
            digest, file_name = line.split(maxsplit=1)
            digests[file_name.lstrip("*")] = digest.lower()
    return digests


def _verify_sha256(path: Path, expected_digest: str | None) -> None:
    if expected_digest is None:
        raise ValueError(f"{path}: no checksum listed in SHA256SUMS; the fastmlp installation is incomplete")
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_READ_CHUNK_BYTES), b""):
            digest.update(chunk)
    actual_digest = digest.hexdigest()
    if actual_digest != expected_digest:
        raise ValueError(
            f"{path}: SHA-256 checksum mismatch: expected {expected_digest}, got "
            f"{actual_digest}; the shipped data is corrupt, reinstall fastmlp")


def _stratified_split(images, labels, *, test_size: int, seed: int) -> Dataset:
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, random_state=seed, stratify=labels)
    return Dataset(X_train, y_train, X_test, y_test)

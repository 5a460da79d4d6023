"""fastmlp.datasets.shard_bounds and iter_row_chunks: memory-mapped row chunks, one shard per rank."""

import gzip
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp.datasets import IDX_TYPE_CODES, iter_row_chunks, read_idx, shard_bounds, write_idx

SHARDINGS = [(0, 1), (0, 3), (1, 4), (5, 8), (7, 1), (10, 3), (10, 10), (11, 4), (1000, 7), (1001, 16)]


class FakeComm:
    """What iter_row_chunks reads of an MPI communicator."""

    def __init__(self, rank, size):
        self._rank, self._size = rank, size

    def Get_rank(self):
        return self._rank

    def Get_size(self):
        return self._size


@pytest.fixture
def npy_file(tmp_path):
    array = np.arange(23 * 5, dtype=np.float32).reshape(23, 5) / 7
    path = tmp_path / "X.npy"
    np.save(path, array)
    return path, array


@pytest.fixture
def idx_file(tmp_path):
    array = (np.arange(23 * 3 * 2) % 251).astype(np.uint8).reshape(23, 3, 2)
    path = tmp_path / "images-idx3-ubyte"
    write_idx(path, array)
    return path, array


# --- shard_bounds --------------------------------------------------------------

@pytest.mark.parametrize(("n_rows", "size"), SHARDINGS)
def test_shards_cover_every_row_once_in_rank_order(n_rows, size):
    bounds = [shard_bounds(n_rows, rank, size) for rank in range(size)]
    rows = np.concatenate([np.arange(start, stop) for start, stop in bounds])
    np.testing.assert_array_equal(rows, np.arange(n_rows))
    lengths = [stop - start for start, stop in bounds]
    # as even as possible: the first n_rows % size ranks have the one extra row
    base, extra = divmod(n_rows, size)
    assert lengths == [base + 1] * extra + [base] * (size - extra)


def test_shard_bounds_of_a_small_case():
    assert [shard_bounds(10, rank, 3) for rank in range(3)] == [(0, 4), (4, 7), (7, 10)]
    assert shard_bounds(2, 3, 4) == (2, 2)
    assert shard_bounds(np.int64(10), np.int32(2), np.int64(3)) == (7, 10)


@pytest.mark.parametrize(("args", "message"), [
    ((10, -1, 3), r"rank must be an integer in \[0, 3\) for size=3, got -1"),
    ((10, 3, 3), r"rank must be an integer in \[0, 3\) for size=3, got 3"),
    ((10, 1.0, 3), r"rank must be an integer in \[0, 3\) for size=3, got 1.0"),
    ((10, True, 3), r"rank must be an integer in \[0, 3\) for size=3, got True"),
    ((10, 0, 0), r"size must be an integer >= 1, got 0"),
    ((-1, 0, 1), r"n_rows must be an integer >= 0, got -1"),
    ((2.5, 0, 1), r"n_rows must be an integer >= 0, got 2.5"),
])
def test_shard_bounds_refuses_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        shard_bounds(*args)


# --- iter_row_chunks: what it yields --------------------------------------------

@pytest.mark.parametrize("kind", ["npy", "idx"])
@pytest.mark.parametrize("chunk_rows", [1, 4, 23, 100])
@pytest.mark.parametrize("size", [1, 2, 3, 30])
def test_chunks_concatenate_to_the_shard(kind, chunk_rows, size, npy_file, idx_file):
    path, array = npy_file if kind == "npy" else idx_file
    longest = math.ceil(len(array) / size)
    for rank in range(size):
        start, stop = shard_bounds(len(array), rank, size)
        chunks = list(iter_row_chunks(path, chunk_rows, rank=rank, size=size))
        # as many chunks on every rank, as the longest shard needs
        assert len(chunks) == math.ceil(longest / chunk_rows)
        lengths = [len(chunk) for chunk in chunks]
        assert all(length <= chunk_rows for length in lengths)
        assert lengths == sorted(lengths, reverse=True) and lengths[0] - lengths[-1] <= 1
        assert 0 not in lengths or stop - start < len(chunks)
        assert all(chunk.shape[1:] == array.shape[1:] for chunk in chunks)
        np.testing.assert_array_equal(np.concatenate(chunks), array[start:stop])


@pytest.mark.parametrize(("n_rows", "size"), SHARDINGS)
@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 7, 64])
def test_every_rank_gets_as_many_chunks(tmp_path, n_rows, size, chunk_rows):
    """So that a loop of collective partial_fit(..., comm=) calls lines up on every rank."""
    np.save(tmp_path / "rows.npy", np.arange(n_rows))
    counts = {len(list(iter_row_chunks(tmp_path / "rows.npy", chunk_rows, rank=rank, size=size)))
              for rank in range(size)}
    longest = math.ceil(n_rows / size)
    assert counts == {math.ceil(longest / chunk_rows)}


def test_chunks_are_as_even_as_possible(npy_file):
    path, array = npy_file   # 23 rows
    assert [len(chunk) for chunk in iter_row_chunks(path, 4)] == [4, 4, 4, 4, 4, 3]
    assert [len(chunk) for chunk in iter_row_chunks(path, 5)] == [5, 5, 5, 4, 4]
    assert [len(chunk) for chunk in iter_row_chunks(path, 23)] == [23]
    # rank 1 of 2 has 11 rows, in as many chunks as rank 0's 12 rows need
    assert [len(chunk) for chunk in iter_row_chunks(path, 6, rank=1, size=2)] == [6, 5]
    assert [len(chunk) for chunk in iter_row_chunks(path, 4, rank=1, size=2)] == [4, 4, 3]


@pytest.mark.parametrize("kind", ["npy", "idx"])
def test_every_chunk_is_a_read_only_view_of_the_mapped_file(kind, npy_file, idx_file):
    path, array = npy_file if kind == "npy" else idx_file
    chunks = list(iter_row_chunks(path, 5))
    assert len(chunks) == 5
    for chunk in chunks:
        assert isinstance(chunk, np.memmap)
        assert not chunk.flags.owndata
        assert not chunk.flags.writeable
        assert np.shares_memory(chunk, chunks[0].base)


def test_without_ranks_every_row_is_read(npy_file):
    path, array = npy_file
    np.testing.assert_array_equal(np.concatenate(list(iter_row_chunks(path, 6))), array)


@pytest.mark.parametrize("size", [1, 2, 5])
def test_a_communicator_reads_the_same_shard_as_its_rank_and_size(npy_file, size):
    path, _ = npy_file
    for rank in range(size):
        by_comm = list(iter_row_chunks(path, 3, comm=FakeComm(rank, size)))
        by_rank = list(iter_row_chunks(path, 3, rank=rank, size=size))
        assert len(by_comm) == len(by_rank)
        for a, b in zip(by_comm, by_rank):
            np.testing.assert_array_equal(a, b)


def test_start_and_stop_pick_rows_and_the_shards_divide_them(npy_file):
    path, array = npy_file
    np.testing.assert_array_equal(np.concatenate(list(iter_row_chunks(path, 4, start=3, stop=17))),
                                  array[3:17])
    assert list(iter_row_chunks(path, 4, start=9, stop=9)) == []
    shards = [np.concatenate(list(iter_row_chunks(path, 2, rank=r, size=3, start=3, stop=17)))
              for r in range(3)]
    assert [len(s) for s in shards] == [5, 5, 4]
    np.testing.assert_array_equal(np.concatenate(shards), array[3:17])


@pytest.mark.parametrize("dtype", list(IDX_TYPE_CODES.values()), ids=lambda d: d.name)
def test_idx_chunks_have_the_values_of_read_idx_for_every_type(tmp_path, dtype):
    rng = np.random.default_rng(1)
    if dtype.kind == "f":
        array = rng.standard_normal((9, 4)).astype(dtype) * 1e3
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=(9, 4), endpoint=True, dtype=dtype)
    path = tmp_path / "a.idx"
    write_idx(path, array)
    chunks = list(iter_row_chunks(path, 4))
    # stored big-endian: the chunks say so in their dtype, and their values are right
    assert all(chunk.dtype == dtype.newbyteorder(">") for chunk in chunks)
    assert dtype.itemsize == 1 or all(chunk.dtype.byteorder == ">" for chunk in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks), read_idx(path))
    np.testing.assert_array_equal(np.concatenate(chunks).astype(dtype), array)


def test_idx_names_recognised(tmp_path):
    labels = np.arange(7, dtype=np.uint8)
    for name in ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte", "labels.idx", "LABELS.IDX"):
        write_idx(tmp_path / name, labels)
        np.testing.assert_array_equal(np.concatenate(list(iter_row_chunks(tmp_path / name, 3))), labels)


def test_an_empty_file_yields_no_chunk(tmp_path):
    write_idx(tmp_path / "empty.idx", np.zeros((0, 4), dtype=np.uint8))
    np.save(tmp_path / "empty.npy", np.zeros((0, 4), dtype=np.float32))
    assert list(iter_row_chunks(tmp_path / "empty.idx", 2)) == []
    assert list(iter_row_chunks(tmp_path / "empty.npy", 2)) == []


# --- partial_fit over chunks ------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: fastmlp.MLPClassifier(hidden_layer_sizes=(8,), batch_size=16, random_state=0),
    lambda: fastmlp.Perceptron(random_state=0),
], ids=["MLPClassifier", "Perceptron"])
@pytest.mark.parametrize(("rank", "size"), [(None, None), (1, 3)])
def test_partial_fit_over_file_chunks_equals_partial_fit_over_in_memory_chunks(tmp_path, one_thread,
                                                                               make, rank, size):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((301, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.uint8) + (X[:, 2] > 0.5).astype(np.uint8)
    np.save(tmp_path / "X.npy", X)
    write_idx(tmp_path / "train-labels-idx1-ubyte", y)
    classes = np.array([0, 1, 2])

    X_chunks = list(iter_row_chunks(tmp_path / "X.npy", 40, rank=rank, size=size))
    y_chunks = list(iter_row_chunks(tmp_path / "train-labels-idx1-ubyte", 40, rank=rank, size=size))
    assert len(X_chunks) == len(y_chunks) > 1
    from_file = make()
    for X_chunk, y_chunk in zip(X_chunks, y_chunks):
        from_file.partial_fit(X_chunk, y_chunk, classes=classes)

    in_memory = make()
    start, stop = (0, len(X)) if rank is None else shard_bounds(len(X), rank, size)
    longest = len(X) if rank is None else shard_bounds(len(X), 0, size)[1]
    for rows in np.array_split(np.arange(start, stop), -(-longest // 40)):
        in_memory.partial_fit(X[rows], y[rows], classes=classes)

    coefs_file = from_file.coefs_ if hasattr(from_file, "coefs_") else [from_file.coef_]
    coefs_memory = in_memory.coefs_ if hasattr(in_memory, "coefs_") else [in_memory.coef_]
    assert len(coefs_file) == len(coefs_memory)
    for a, b in zip(coefs_file, coefs_memory):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(from_file.predict(X), in_memory.predict(X))


MPI_PARTIAL_FIT = """
import sys
import numpy as np
from mpi4py import MPI
import fastmlp
from fastmlp.datasets import iter_row_chunks

comm, folder = MPI.COMM_WORLD, sys.argv[1]
clf = fastmlp.MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
calls = 0
for X_chunk, y_chunk in zip(iter_row_chunks(folder + "/X.npy", 100, comm=comm),
                            iter_row_chunks(folder + "/train-labels-idx1-ubyte", 100, comm=comm)):
    clf.partial_fit(X_chunk, y_chunk, classes=[0, 1, 2], comm=comm)
    calls += 1
np.savez(f"{folder}/rank{comm.Get_rank()}.npz", calls=calls, t=clf.t_, *clf.coefs_, *clf.intercepts_)
"""


def test_collective_partial_fit_over_each_ranks_chunks(tmp_path):
    """Shards of 501 and 500 rows: both ranks call partial_fit(comm=) six times and end alike."""
    pytest.importorskip("mpi4py")
    mpiexec = shutil.which("mpiexec", path=f"{os.path.dirname(sys.executable)}{os.pathsep}"
                                           f"{os.environ.get('PATH', '')}")
    if mpiexec is None:
        pytest.skip("no mpiexec (pip install 'fastmlp[mpi]')")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1001, 6)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (X[:, 0] > 0).astype(np.uint8) + (X[:, 1] > 1))
    (tmp_path / "script.py").write_text(MPI_PARTIAL_FIT)
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    try:
        run = subprocess.run([mpiexec, "-n", "2", sys.executable, str(tmp_path / "script.py"), str(tmp_path)],
                             capture_output=True, text=True, env=env, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("mpiexec -n 2 still ran after 120 s: the ranks' partial_fit calls did not line up")
    assert run.returncode == 0, run.stdout + run.stderr
    ranks = [dict(np.load(tmp_path / f"rank{rank}.npz")) for rank in range(2)]
    assert [int(r["calls"]) for r in ranks] == [6, 6]
    assert [int(r["t"]) for r in ranks] == [1001, 1001]   # every row once, over both ranks
    assert ranks[0].keys() == ranks[1].keys()
    for key in ranks[0]:
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key])


# --- iter_row_chunks: bad input ---------------------------------------------------

@pytest.mark.parametrize("chunk_rows", [0, -3, 2.0, True, None, "8"])
def test_chunk_rows_must_be_a_positive_integer(npy_file, chunk_rows):
    path, _ = npy_file
    with pytest.raises(ValueError, match=rf"chunk_rows must be an integer >= 1, got {chunk_rows!r}"):
        iter_row_chunks(path, chunk_rows)


def test_errors_come_at_the_call_not_at_the_first_chunk(tmp_path):
    with pytest.raises(FileNotFoundError):
        iter_row_chunks(tmp_path / "missing.npy", 10)  # never iterated


def test_a_missing_file_or_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.npy does not exist: expected an uncompressed "
                                                r"IDX file .* or a \.npy file"):
        iter_row_chunks(tmp_path / "missing.npy", 10)
    with pytest.raises(FileNotFoundError, match=r"is a folder: expected an uncompressed IDX file"):
        iter_row_chunks(tmp_path, 10)


@pytest.mark.parametrize("name", ["X.csv", "X.npz", "X", "images-idx3"])
def test_an_unknown_suffix(tmp_path, name):
    (tmp_path / name).write_bytes(b"1,2,3\n")
    with pytest.raises(ValueError, match=r"unknown file type \(suffix '[^']*'\): expected an uncompressed "
                                         r"IDX file \(a name ending in \.idx, or like "
                                         r"train-images-idx3-ubyte\) or a \.npy file"):
        iter_row_chunks(tmp_path / name, 10)


def test_a_compressed_file_cannot_be_mapped(tmp_path):
    labels = np.arange(5, dtype=np.uint8)
    write_idx(tmp_path / "labels-idx1-ubyte.gz", labels)
    with pytest.raises(ValueError, match=r"gzip-compressed file cannot be memory-mapped: decompress it "
                                         r"first \(gunzip -k\), or read it whole with read_idx"):
        iter_row_chunks(tmp_path / "labels-idx1-ubyte.gz", 2)
    # compressed content under an IDX name: told by the content, as read_idx does
    write_idx(tmp_path / "labels-idx1-ubyte", labels, compress=True)
    with pytest.raises(ValueError, match=r"is gzip-compressed \(its content says so\), and a compressed "
                                         r"file cannot be memory-mapped"):
        iter_row_chunks(tmp_path / "labels-idx1-ubyte", 2)
    # and read_idx still reads it whole
    np.testing.assert_array_equal(read_idx(tmp_path / "labels-idx1-ubyte"), labels)
    with gzip.open(tmp_path / "X.npy.gz", "wb") as stream:
        np.save(stream, np.zeros(3))
    with pytest.raises(ValueError, match=r"gzip-compressed file cannot be memory-mapped"):
        iter_row_chunks(tmp_path / "X.npy.gz", 2)


def test_a_truncated_or_overlong_idx_file(tmp_path):
    write_idx(tmp_path / "a.idx", np.zeros((4, 3), dtype=np.int16))
    data = (tmp_path / "a.idx").read_bytes()
    (tmp_path / "short.idx").write_bytes(data[:-1])
    (tmp_path / "long.idx").write_bytes(data + b"\x00\x00")
    with pytest.raises(ValueError, match=r"truncated or mis-sized IDX file: header declares shape \(4, 3\) "
                                         r"= 12 int16 elements = 24 payload bytes, but only 23 bytes"):
        iter_row_chunks(tmp_path / "short.idx", 2)
    with pytest.raises(ValueError, match=r"2 unexpected trailing byte\(s\) after the payload"):
        iter_row_chunks(tmp_path / "long.idx", 2)
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x08\x01" + data[4:])
    with pytest.raises(ValueError, match=r"bad IDX magic number"):
        iter_row_chunks(tmp_path / "bad.idx", 2)


def test_a_npy_file_that_cannot_be_mapped(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"objects\.npy: cannot memory-map this \.npy file"):
        iter_row_chunks(tmp_path / "objects.npy", 2)
    np.save(tmp_path / "scalar.npy", np.float32(3))
    with pytest.raises(ValueError, match=r"expected an array with at least one axis of rows, got a 0-d array"):
        iter_row_chunks(tmp_path / "scalar.npy", 2)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"rank": 3, "size": 3}, ValueError, r"rank must be an integer in \[0, 3\) for size=3, got 3"),
    ({"rank": -1, "size": 2}, ValueError, r"rank must be an integer in \[0, 2\) for size=2, got -1"),
    ({"rank": 0, "size": 0}, ValueError, r"size must be an integer >= 1, got 0"),
    ({"rank": 0}, ValueError, r"rank and size go together: got rank=0, size=None"),
    ({"size": 2}, ValueError, r"rank and size go together: got rank=None, size=2"),
    ({"comm": FakeComm(4, 4)}, ValueError, r"rank must be an integer in \[0, 4\) for size=4, got 4"),
    ({"comm": FakeComm(0, 2), "rank": 0, "size": 2}, ValueError, r"pass comm, or rank and size, not both"),
    ({"comm": "world"}, TypeError, r"comm must be an MPI communicator with Get_rank\(\) and Get_size\(\) "
                                   r"\(e.g\. mpi4py\.MPI\.COMM_WORLD\), got str"),
    ({"start": 5, "stop": 2}, ValueError, r"start and stop must satisfy 0 <= start <= stop <= 23 \(the "
                                          r"file's rows\), got start=5, stop=2"),
    ({"stop": 24}, ValueError, r"0 <= start <= stop <= 23 \(the file's rows\), got start=None, stop=24"),
    ({"start": -1}, ValueError, r"start must be an integer >= 0, got -1"),
])
def test_bad_ranks_and_ranges(npy_file, kwargs, error, message):
    path, _ = npy_file
    with pytest.raises(error, match=message):
        iter_row_chunks(path, 4, **kwargs)

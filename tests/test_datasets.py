"""IDX reading/writing, the MNIST loaders and the uint8 -> float32 kernel."""

import gzip
import re
import struct

import numpy as np
import pytest

from fastmlp import datasets
from fastmlp.datasets import Dataset, load_fashion_mnist, load_mnist, read_idx, to_float32, write_idx

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
SHAPES = [(7,), (3, 5), (2, 3, 4)]
FIRST_MNIST_TEST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def sample_array(dtype, shape, seed=0):
    """Values covering the dtype's extremes, so a missed byte swap shows."""
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
        array.flat[0] = info.min
        array.flat[-1] = info.max
    else:
        array = (rng.standard_normal(shape) * 1e3).astype(dtype)
        array.flat[0] = np.finfo(dtype).tiny
    return array


def idx_bytes(type_code, shape, payload):
    return bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


# --- read_idx / write_idx round trips -------------------------------------------

@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{len(s)}d")
@pytest.mark.parametrize("dtype", IDX_DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip(tmp_path, dtype, shape, compress):
    array = sample_array(dtype, shape)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array)

    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    loaded = read_idx(path)
    assert loaded.dtype == np.dtype(dtype)
    assert loaded.dtype.isnative
    assert loaded.shape == shape
    np.testing.assert_array_equal(loaded, array)


def test_payload_is_big_endian_on_disk(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.array([1, 258], dtype=np.int32))
    assert path.read_bytes() == idx_bytes(0x0C, (2,), b"\x00\x00\x00\x01\x00\x00\x01\x02")


def test_gzip_detected_by_content_not_extension(tmp_path):
    array = sample_array(np.int16, (4, 4))
    path = tmp_path / "compressed-without-gz-suffix"
    write_idx(path, array, compress=True)
    np.testing.assert_array_equal(read_idx(path), array)


def test_big_endian_input_array_is_written_correctly(tmp_path):
    array = np.arange(6, dtype=">f8").reshape(2, 3)
    write_idx(tmp_path / "a.idx", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)


def test_empty_dimension_round_trips(tmp_path):
    write_idx(tmp_path / "a.idx", np.empty((0, 28, 28), dtype=np.uint8))
    assert read_idx(tmp_path / "a.idx").shape == (0, 28, 28)


def test_write_rejects_dtype_idx_cannot_store(tmp_path):
    with pytest.raises(ValueError, match="IDX cannot store dtype int64"):
        write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.int64))


# --- read_idx rejects corrupt files ---------------------------------------------

def write_raw(tmp_path, content, compress=False):
    path = tmp_path / "bad.idx"
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_truncated_payload(tmp_path, compress):
    path = write_raw(tmp_path, idx_bytes(0x08, (2, 3), bytes(5)), compress)
    with pytest.raises(ValueError, match=r"truncated.*shape \(2, 3\).*6 payload bytes.*only 5 bytes") as error:
        read_idx(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_trailing_bytes(tmp_path, compress):
    path = write_raw(tmp_path, idx_bytes(0x0B, (3,), bytes(6) + b"junk"), compress)
    with pytest.raises(ValueError, match=r"4 unexpected trailing byte.*6 payload bytes"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_bad_magic(tmp_path, compress):
    path = write_raw(tmp_path, b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", compress)
    with pytest.raises(ValueError, match=r"bad IDX magic number: expected .*00 00, got 01 00"):
        read_idx(path)


def test_unknown_type_code(tmp_path):
    path = write_raw(tmp_path, idx_bytes(0x0A, (1,), b"\x00"))
    with pytest.raises(ValueError, match=r"unknown IDX type code 0x0A: expected one of 0x08 uint8.*0x0E float64"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = write_raw(tmp_path, bytes([0, 0, 8, 3]) + struct.pack(">I", 10))
    with pytest.raises(ValueError, match=r"truncated IDX header: expected 3 dimension sizes \(12 bytes\), got 4"):
        read_idx(path)


def test_file_shorter_than_magic(tmp_path):
    with pytest.raises(ValueError, match="expected 4 magic bytes, got 2"):
        read_idx(write_raw(tmp_path, b"\x00\x00"))


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_absurd_dimensions_are_a_size_mismatch(tmp_path, compress):
    # 65536**2 = 2**32 elements declared, 10 bytes present: must fail fast, not allocate.
    path = write_raw(tmp_path, idx_bytes(0x08, (65536, 65536), bytes(10)), compress)
    with pytest.raises(ValueError, match=r"shape \(65536, 65536\) = 4294967296 uint8 elements.*only 10 bytes"):
        read_idx(path)


def test_corrupt_gzip_stream(tmp_path):
    compressed = bytearray(gzip.compress(idx_bytes(0x08, (100,), bytes(range(100)))))
    compressed[12:20] = b"\xff" * 8  # inside the deflate data
    path = tmp_path / "bad.idx.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(ValueError, match=r"bad\.idx\.gz: corrupt gzip stream"):
        read_idx(path)


def test_cut_gzip_stream(tmp_path):
    compressed = gzip.compress(idx_bytes(0x08, (1000,), bytes(1000)))
    path = tmp_path / "cut.idx.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match=r"corrupt gzip stream|truncated"):
        read_idx(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "absent.idx")


# --- shipped MNIST -------------------------------------------------------------

@pytest.fixture
def no_data_env(monkeypatch):
    monkeypatch.delenv(datasets.DATA_ENV_VAR, raising=False)


def test_shipped_raw_test_set_labels():
    labels = read_idx(datasets._shipped_data_dir() / "t10k-labels-idx1-ubyte.gz")
    images = read_idx(datasets._shipped_data_dir() / "t10k-images-idx3-ubyte.gz")
    assert labels.tolist()[:10] == FIRST_MNIST_TEST_LABELS
    assert labels.shape == (10000,) and images.shape == (10000, 28, 28)


def test_shipped_mnist_split(no_data_env):
    data = load_mnist()
    X_train, y_train, X_test, y_test = data  # tuple unpacking works
    assert isinstance(data, Dataset)
    assert X_train.shape == (8000, 784) and X_test.shape == (2000, 784)
    assert y_train.shape == (8000,) and y_test.shape == (2000,)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert set(np.unique(y_test)) == set(range(10))
    # Stratified: every class has the same share in both parts, up to rounding.
    train_share = np.bincount(y_train, minlength=10) / len(y_train)
    test_share = np.bincount(y_test, minlength=10) / len(y_test)
    np.testing.assert_allclose(train_share, test_share, atol=1 / len(y_test))


def test_shipped_mnist_split_is_reproducible_and_seeded(no_data_env):
    first, again, other_seed = load_mnist(), load_mnist(), load_mnist(seed=1)
    np.testing.assert_array_equal(first.y_test, again.y_test)
    np.testing.assert_array_equal(first.X_train, again.X_train)
    assert not np.array_equal(first.y_test, other_seed.y_test)
    assert load_mnist(test_size=500).X_test.shape == (500, 784)


def test_shipped_checksum_mismatch_is_reported(tmp_path, monkeypatch, no_data_env):
    shipped = datasets._shipped_data_dir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes((shipped / name).read_bytes())
    sums = (shipped / "SHA256SUMS").read_text()
    (tmp_path / "SHA256SUMS").write_text(re.sub(r"^[0-9a-f]{64}", "0" * 64, sums))
    monkeypatch.setattr(datasets, "_shipped_data_dir", lambda: tmp_path)
    with pytest.raises(ValueError, match=r"SHA-256 checksum mismatch: expected 0{64}, got [0-9a-f]{64}"):
        load_mnist()


# --- folders of the four standard files -------------------------------------------

def write_synthetic_mnist(folder, n_train=12, n_test=5, compress=True):
    rng = np.random.default_rng(1)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    suffix = ".gz" if compress else ""
    for role, array in arrays.items():
        write_idx(folder / (datasets.MNIST_FILES[role] + suffix), array)
    return arrays


def assert_matches_synthetic(data, arrays):
    np.testing.assert_array_equal(data.X_train, arrays["train_images"].reshape(-1, 784))
    np.testing.assert_array_equal(data.X_test, arrays["test_images"].reshape(-1, 784))
    np.testing.assert_array_equal(data.y_train, arrays["train_labels"])
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])
    assert data.y_train.dtype == np.int64 and data.X_train.dtype == np.uint8


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_load_mnist_from_folder(tmp_path, compress, no_data_env):
    arrays = write_synthetic_mnist(tmp_path, compress=compress)
    assert_matches_synthetic(load_mnist(tmp_path), arrays)


def test_load_mnist_honours_env_var(tmp_path, monkeypatch):
    arrays = write_synthetic_mnist(tmp_path)
    monkeypatch.setenv(datasets.DATA_ENV_VAR, str(tmp_path))
    assert_matches_synthetic(load_mnist(), arrays)


def test_load_mnist_missing_file_names_it(tmp_path, no_data_env):
    write_synthetic_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte \(or t10k-labels-idx1-ubyte\.gz\) not found"):
        load_mnist(tmp_path)


def test_load_mnist_label_count_mismatch(tmp_path, no_data_env):
    write_synthetic_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="expected 5 labels .* got 3"):
        load_mnist(tmp_path)


def test_load_fashion_mnist_from_folder(tmp_path):
    arrays = write_synthetic_mnist(tmp_path, compress=False)
    assert_matches_synthetic(load_fashion_mnist(tmp_path), arrays)


def test_load_fashion_mnist_missing_folder_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"apt-get install dataset-fashion-mnist") as error:
        load_fashion_mnist(tmp_path / "nowhere")
    assert "nowhere" in str(error.value)


@pytest.mark.skipif(not datasets.FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_load_installed_fashion_mnist():
    X_train, y_train, X_test, y_test = load_fashion_mnist()
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert set(np.unique(y_train)) == set(range(10))


# --- to_float32 ---------------------------------------------------------------

def reference_float32(X, offset, scale):
    return (X.astype(np.float32) - np.float32(offset)) * np.float32(scale)


def test_to_float32_default_is_divide_by_255():
    X = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = to_float32(X)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, reference_float32(X, 0.0, 1 / 255))
    assert out.max() == 1.0


def test_to_float32_per_column_z_score():
    X = np.random.default_rng(2).integers(0, 256, (300, 17), dtype=np.uint8)
    mean = X.mean(axis=0)
    inverse_std = 1 / (X.std(axis=0) + 1e-8)
    out = to_float32(X, mean, inverse_std)
    np.testing.assert_array_equal(out, reference_float32(X, mean.astype(np.float32), inverse_std.astype(np.float32)))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)


def test_to_float32_non_contiguous_input():
    X = np.random.default_rng(3).integers(0, 256, (40, 30), dtype=np.uint8)
    for view in (X.T, X[::2, ::3], X[:, 5:9]):
        np.testing.assert_array_equal(to_float32(view, 3, 0.5), reference_float32(view, 3, 0.5))


def test_to_float32_empty():
    assert to_float32(np.empty((0, 784), dtype=np.uint8)).shape == (0, 784)


def test_to_float32_rejects_wrong_input():
    with pytest.raises(ValueError, match="expects a 2-D uint8 array, got a 2-D float64"):
        to_float32(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="offset must be a scalar or have shape \\(4,\\).*got shape \\(3,\\)"):
        to_float32(np.zeros((2, 4), dtype=np.uint8), offset=np.zeros(3))

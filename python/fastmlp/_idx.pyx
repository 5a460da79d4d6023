# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Byte-level kernels of the data path.

Two jobs, both on raw buffers with the GIL released:

* ``decode_big_endian``: turn the big-endian payload of an IDX file into a
  native-endian numpy array (numpy only allocates the output).
* ``scale_uint8``: fused uint8 -> float32 conversion with per-column
  normalization, ``out[i, j] = (x[i, j] - offset[j]) * scale[j]``, computed in
  float32 so no float64 temporary of the whole matrix ever exists.

Only typed memoryviews are used, so the module builds without numpy's C headers.
"""

from cython.parallel cimport prange
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

import numpy as np


# --- IDX payload decoding -------------------------------------------------
#
# Each element is assembled arithmetically from its big-endian bytes and then
# stored with memcpy in the host's own layout. That is correct on any host
# byte order (no endianness probe needed), and GCC/Clang turn the shifts into
# a single load + bswap on little-endian machines.

cdef void _decode_be16(uint8_t* out, const uint8_t* src, Py_ssize_t count) noexcept nogil:
    cdef Py_ssize_t k
    cdef uint16_t value
    for k in range(count):
        value = <uint16_t>((<uint16_t>src[2 * k] << 8) | src[2 * k + 1])
        memcpy(out + 2 * k, &value, 2)


cdef void _decode_be32(uint8_t* out, const uint8_t* src, Py_ssize_t count) noexcept nogil:
    cdef Py_ssize_t k
    cdef const uint8_t* p
    cdef uint32_t value
    for k in range(count):
        p = src + 4 * k
        value = ((<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16)
                 | (<uint32_t>p[2] << 8) | <uint32_t>p[3])
        memcpy(out + 4 * k, &value, 4)


cdef void _decode_be64(uint8_t* out, const uint8_t* src, Py_ssize_t count) noexcept nogil:
    cdef Py_ssize_t k
    cdef const uint8_t* p
    cdef uint64_t value
    for k in range(count):
        p = src + 8 * k
        value = ((<uint64_t>p[0] << 56) | (<uint64_t>p[1] << 48)
                 | (<uint64_t>p[2] << 40) | (<uint64_t>p[3] << 32)
                 | (<uint64_t>p[4] << 24) | (<uint64_t>p[5] << 16)
                 | (<uint64_t>p[6] << 8) | <uint64_t>p[7])
        memcpy(out + 8 * k, &value, 8)


cdef int _decode_into(uint8_t* out, const uint8_t* src, Py_ssize_t count,
                      Py_ssize_t itemsize) noexcept nogil:
    """Returns 0 on success, -1 for an item size the IDX format does not have."""
    if count == 0:
        return 0
    if itemsize == 1:
        memcpy(out, src, <size_t>count)
    elif itemsize == 2:
        _decode_be16(out, src, count)
    elif itemsize == 4:
        _decode_be32(out, src, count)
    elif itemsize == 8:
        _decode_be64(out, src, count)
    else:
        return -1
    return 0


def decode_big_endian(const uint8_t[::1] payload, dtype, shape):
    """Decode a big-endian payload into a new native-endian array.

    ``dtype`` is any numpy integer or float dtype with an item size of
    1, 2, 4 or 8 bytes; its byte order is ignored (the payload is always
    big-endian, the result always native). ``payload`` must hold exactly
    ``prod(shape) * itemsize`` bytes: the caller (``datasets.read_idx``)
    gives a precise error for files of the wrong size, this check only keeps
    the kernel memory-safe.
    """
    native_dtype = np.dtype(dtype).newbyteorder("=")
    result = np.empty(shape, dtype=native_dtype)
    cdef Py_ssize_t itemsize = native_dtype.itemsize
    cdef Py_ssize_t count = result.size
    if payload.shape[0] != count * itemsize:
        raise ValueError(
            f"payload holds {payload.shape[0]} bytes, expected {count * itemsize} "
            f"({count} elements of {native_dtype.name} for shape {tuple(result.shape)})")
    if itemsize not in (1, 2, 4, 8):
        raise ValueError(f"item size must be 1, 2, 4 or 8 bytes, got {itemsize} ({native_dtype.name})")
    if count == 0:
        return result

    cdef uint8_t[::1] out_bytes = result.reshape(-1).view(np.uint8)
    with nogil:
        _decode_into(&out_bytes[0], &payload[0], count, itemsize)
    return result


# --- uint8 -> float32 with per-column normalization ------------------------

cdef void _scale_row_contiguous(float* out, const uint8_t* x, const float* offset,
                                const float* scale, Py_ssize_t n_cols) noexcept nogil:
    # Unit stride lets the compiler vectorize the widen + subtract + multiply.
    cdef Py_ssize_t j
    for j in range(n_cols):
        out[j] = (<float>x[j] - offset[j]) * scale[j]


cdef void _scale_row_strided(float* out, const uint8_t* x, Py_ssize_t x_col_stride,
                             const float* offset, const float* scale,
                             Py_ssize_t n_cols) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n_cols):
        out[j] = (<float>x[j * x_col_stride] - offset[j]) * scale[j]


cdef void _scale_rows(float[:, ::1] out, const uint8_t[:, :] x,
                      const float[::1] offset, const float[::1] scale) noexcept nogil:
    # Rows are disjoint outputs, so prange gives the same bits for any thread
    # count; without OpenMP at compile time it is a plain serial loop.
    cdef Py_ssize_t n_rows = x.shape[0]
    cdef Py_ssize_t n_cols = x.shape[1]
    cdef Py_ssize_t col_stride = x.strides[1]
    cdef Py_ssize_t i
    if n_rows == 0 or n_cols == 0:
        return
    if col_stride == 1:
        for i in prange(n_rows, schedule="static"):
            _scale_row_contiguous(&out[i, 0], &x[i, 0], &offset[0], &scale[0], n_cols)
    else:
        for i in prange(n_rows, schedule="static"):
            _scale_row_strided(&out[i, 0], &x[i, 0], col_stride,
                               &offset[0], &scale[0], n_cols)


def _per_column_float32(value, Py_ssize_t n_cols, str name):
    """A scalar or a length-n_cols vector as a contiguous float32 vector."""
    column_values = np.asarray(value, dtype=np.float32)
    if column_values.ndim == 0:
        return np.full(n_cols, column_values, dtype=np.float32)
    if column_values.shape != (n_cols,):
        raise ValueError(
            f"{name} must be a scalar or have shape ({n_cols},) to match the "
            f"{n_cols} columns, got shape {column_values.shape}")
    return np.ascontiguousarray(column_values)


def scale_uint8(float[:, ::1] out, const uint8_t[:, :] x, offset, scale):
    """``out[i, j] = (float32(x[i, j]) - offset[j]) * scale[j]``, all in float32.

    ``out`` is a C-contiguous float32 matrix of the same shape as ``x``;
    ``x`` may be any strided uint8 matrix; ``offset`` and ``scale`` are
    scalars or one value per column. Thread-safe: it only writes ``out``.
    """
    if out.shape[0] != x.shape[0] or out.shape[1] != x.shape[1]:
        raise ValueError(
            f"out must have the shape of x, ({x.shape[0]}, {x.shape[1]}), "
            f"got ({out.shape[0]}, {out.shape[1]})")
    cdef const float[::1] offset_per_column = _per_column_float32(offset, x.shape[1], "offset")
    cdef const float[::1] scale_per_column = _per_column_float32(scale, x.shape[1], "scale")
    if x.shape[1] == 0:
        return
    with nogil:
        _scale_rows(out, x, offset_per_column, scale_per_column)

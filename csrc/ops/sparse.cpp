// The first layer's products with a CSR input: a tf-idf or one-hot X of
// 200,000 columns with a few nonzeros per row stays sparse, and each product
// costs its nonzeros times O instead of N I O.
#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "parallel_for.h"

namespace fastmlp {
namespace {

// Columns of dW per thread item: a multiple of every vector width, and wide
// enough that a row of delta's block is a few cache lines.
constexpr int64_t kColumnsPerItem = 32;
// Multiply-adds below which a second thread costs more than it saves.
constexpr int64_t kMinParallelMacs = int64_t(1) << 15;

template <typename T>
inline void forward_row(T* out_row, const CsrRows<T>& X, int64_t r, const T* W, int64_t O) {
  std::fill(out_row, out_row + O, T(0));
  for (int64_t k = X.indptr[r]; k < X.indptr[r + 1]; ++k) {
    const T v = X.data[k];
    const T* w_row = W + X.indices[k] * O;
    for (int64_t o = 0; o < O; ++o) out_row[o] += v * w_row[o];
  }
}

// dW[:, begin:end) += X^T delta[:, begin:end)
template <typename T>
inline void transpose_block(T* dW, const CsrRows<T>& X, const T* delta, int64_t N, int64_t O,
                            int64_t begin, int64_t end) {
  for (int64_t n = 0; n < N; ++n) {
    const T* d_row = delta + n * O;
    for (int64_t k = X.indptr[n]; k < X.indptr[n + 1]; ++k) {
      const T v = X.data[k];
      T* dw_row = dW + X.indices[k] * O;
      for (int64_t o = begin; o < end; ++o) dw_row[o] += v * d_row[o];
    }
  }
}

}  // namespace

template <typename T>
void csr_dense_forward(T* out, const CsrRows<T>& X, const T* W, int64_t N, int64_t O) {
  const int64_t macs = (X.indptr[N] - X.indptr[0]) * O;
  for_each_index(N, N > 1 && macs >= kMinParallelMacs,
                 [&](int64_t r) { forward_row(out + r * O, X, r, W, O); });
}

template <typename T>
void csr_transpose_dense(T* dW, const CsrRows<T>& X, const T* delta, int64_t N, int64_t I,
                         int64_t O) {
  (void)I;  // only the nonzeros' rows of dW are touched
  const int64_t items = (O + kColumnsPerItem - 1) / kColumnsPerItem;
  const bool parallel = items > 1 && (X.indptr[N] - X.indptr[0]) * O >= kMinParallelMacs;
  for_each_index(items, parallel, [&](int64_t item) {
    const int64_t begin = item * kColumnsPerItem;
    transpose_block(dW, X, delta, N, O, begin, std::min(O, begin + kColumnsPerItem));
  });
}

// The references are written from the definitions, entry by entry, sharing
// nothing with the loops above.
template <typename T>
void csr_dense_forward_reference(T* out, const CsrRows<T>& X, const T* W, int64_t N, int64_t O) {
  for (int64_t r = 0; r < N; ++r)
    for (int64_t o = 0; o < O; ++o) {
      T sum = 0;
      for (int64_t k = X.indptr[r]; k < X.indptr[r + 1]; ++k)
        sum += X.data[k] * W[X.indices[k] * O + o];
      out[r * O + o] = sum;
    }
}

template <typename T>
void csr_transpose_dense_reference(T* dW, const CsrRows<T>& X, const T* delta, int64_t N, int64_t I,
                                   int64_t O) {
  for (int64_t i = 0; i < I; ++i)
    for (int64_t o = 0; o < O; ++o) {
      T sum = dW[i * O + o];
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = X.indptr[n]; k < X.indptr[n + 1]; ++k)
          if (X.indices[k] == i) sum += X.data[k] * delta[n * O + o];
      dW[i * O + o] = sum;
    }
}

#define FASTMLP_SPARSE(T)                                                                          \
  template void csr_dense_forward<T>(T*, const CsrRows<T>&, const T*, int64_t, int64_t);           \
  template void csr_transpose_dense<T>(T*, const CsrRows<T>&, const T*, int64_t, int64_t,          \
                                       int64_t);                                                   \
  template void csr_dense_forward_reference<T>(T*, const CsrRows<T>&, const T*, int64_t, int64_t); \
  template void csr_transpose_dense_reference<T>(T*, const CsrRows<T>&, const T*, int64_t,         \
                                                 int64_t, int64_t);
FASTMLP_SPARSE(float)
FASTMLP_SPARSE(double)
#undef FASTMLP_SPARSE

}  // namespace fastmlp

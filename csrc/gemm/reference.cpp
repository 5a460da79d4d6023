// The plain GEMM: the oracle every fast variant is tested against, and the
// float64 path's building block. No blocking, no threads, no tricks.
#include "kernels.h"

namespace fastmlp {

// C[M,Nc] = beta * C + op(A)[M,K] op(B)[K,Nc]
template <typename T>
void gemm_reference(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a, const T* B,
                    int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K, T beta) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < Nc; ++j) {
      T sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        const T a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const T b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        sum += a * b;
      }
      C[i * ldc + j] = (beta == T(0) ? T(0) : beta * C[i * ldc + j]) + sum;
    }
  }
}

template void gemm_reference<float>(float*, int64_t, const float*, int64_t, bool, const float*,
                                    int64_t, bool, int64_t, int64_t, int64_t, float);
template void gemm_reference<double>(double*, int64_t, const double*, int64_t, bool, const double*,
                                     int64_t, bool, int64_t, int64_t, int64_t, double);

}  // namespace fastmlp

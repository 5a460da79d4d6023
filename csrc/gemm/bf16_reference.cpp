// The bfloat16-product GEMM in plain loops (the contract is in gemm/bf16.h):
// no blocking, no threads, no vectors.
#include <cmath>

#include "gemm/bf16.h"

namespace fastmlp {
namespace {

float rounded(float x) { return bfloat16_value(bfloat16_bits(x)); }

}  // namespace

void gemm_bf16_reference(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                         const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc,
                         int64_t K, float beta) {
  auto a = [&](int64_t i, int64_t k) {
    return k < K ? rounded(trans_a ? A[k * lda + i] : A[i * lda + k]) : 0.0f;
  };
  auto b = [&](int64_t k, int64_t j) {
    return k < K ? rounded(trans_b ? B[j * ldb + k] : B[k * ldb + j]) : 0.0f;
  };
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < Nc; ++j) {
      float c = beta == 0.0f ? 0.0f : flush_subnormal_sum(beta * C[i * ldc + j]);
      for (int64_t k = 0; k < K; k += 2) {
        // The products are exact in float32, so fma rounds only the sum.
        c = flush_subnormal_sum(std::fma(a(i, k + 1), b(k + 1, j), c));
        c = flush_subnormal_sum(std::fma(a(i, k), b(k, j), c));
      }
      C[i * ldc + j] = c;
    }
  }
}

}  // namespace fastmlp

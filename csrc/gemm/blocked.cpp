// The portable cache-blocked GEMM (the float64 path, and the float32 baseline
// off x86) and the typed gemm<T> entry points.
#include <algorithm>
#include <cstring>
#include <vector>

#include "isa/kernel_table.h"
#include "kernels.h"
#include "parallel_for.h"

namespace fastmlp {
namespace {

constexpr int64_t kBlockK = 256;  // rows of the packed B panel (fits L2 with kBlockN)
constexpr int64_t kBlockN = 512;  // columns of the packed B panel
// Multiply-adds below which threads cost more than they give.
constexpr int64_t kMinParallelWork = 1 << 16;

// Copies op(B)[pc:pc+kc, jc:jc+nc] into a contiguous kc x nc panel, so the
// inner loop reads one unit-stride row whatever the transpose.
template <typename T>
void pack_b_panel(T* panel, const T* B, int64_t ldb, bool trans_b, int64_t pc, int64_t jc,
                  int64_t kc, int64_t nc) {
  for (int64_t k = 0; k < kc; ++k) {
    T* dst = panel + k * nc;
    if (!trans_b) {
      std::memcpy(dst, B + (pc + k) * ldb + jc, sizeof(T) * nc);
    } else {
      for (int64_t j = 0; j < nc; ++j) dst[j] = B[(jc + j) * ldb + pc + k];
    }
  }
}

}  // namespace

// C[M,Nc] = beta C + op(A) op(B). Threads split the rows of C; K is walked in
// the same order for every thread count, so results do not depend on it.
template <typename T>
void gemm_blocked(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a, const T* B, int64_t ldb,
                  bool trans_b, int64_t M, int64_t Nc, int64_t K, T beta) {
  if (M <= 0 || Nc <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < Nc; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
    return;
  }
  // Scratch panel, grown once per thread and reused: the hot loop never allocates.
  thread_local std::vector<T> panel;
  const int64_t panel_size = std::min(K, kBlockK) * std::min(Nc, kBlockN);
  if (static_cast<int64_t>(panel.size()) < panel_size) panel.resize(panel_size);
  T* bp = panel.data();

  for (int64_t jc = 0; jc < Nc; jc += kBlockN) {
    const int64_t nc = std::min(kBlockN, Nc - jc);
    for (int64_t pc = 0; pc < K; pc += kBlockK) {
      const int64_t kc = std::min(kBlockK, K - pc);
      pack_b_panel(bp, B, ldb, trans_b, pc, jc, kc, nc);
      const T beta_block = pc == 0 ? beta : T(1);
      for_each_index(M, M > 1 && M * nc * kc >= kMinParallelWork, [&](int64_t i) {
        T* c = C + i * ldc + jc;
        if (beta_block == T(0)) {
          for (int64_t j = 0; j < nc; ++j) c[j] = T(0);
        } else if (beta_block != T(1)) {
          for (int64_t j = 0; j < nc; ++j) c[j] *= beta_block;
        }
        for (int64_t k = 0; k < kc; ++k) {
          const T a = trans_a ? A[(pc + k) * lda + i] : A[i * lda + pc + k];
          const T* b = bp + k * nc;
          for (int64_t j = 0; j < nc; ++j) c[j] += a * b[j];
        }
      });
    }
  }
}

template void gemm_blocked<float>(float*, int64_t, const float*, int64_t, bool, const float*,
                                  int64_t, bool, int64_t, int64_t, int64_t, float);
template void gemm_blocked<double>(double*, int64_t, const double*, int64_t, bool, const double*,
                                   int64_t, bool, int64_t, int64_t, int64_t, double);

template <>
void gemm<float>(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a, const float* B,
                 int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K, float beta) {
  kernels().sgemm(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta);
}

template <>
void gemm<double>(double* C, int64_t ldc, const double* A, int64_t lda, bool trans_a,
                  const double* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K,
                  double beta) {
  kernels().dgemm(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta);
}

}  // namespace fastmlp

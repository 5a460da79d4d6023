// The portable cache-blocked GEMM (float32 baseline path and float64 path)
// and the one instruction-set dispatch point.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels.h"

#if defined(FASTMLP_X86) && defined(__SSE2__)
// x86-64 always has SSE2, so the baseline runs the packed driver on 4-lane
// vectors (no FMA: multiply then add); other targets keep the portable loop.
#include <emmintrin.h>

#include "gemm_packed.h"
#define FASTMLP_BASELINE_SSE2 1
#endif

namespace fastmlp {
namespace {

constexpr int64_t kBlockK = 256;   // rows of the packed B panel (fits L2 with kBlockN)
constexpr int64_t kBlockN = 512;   // columns of the packed B panel
constexpr int64_t kMinParallelWork = 1 << 16;  // multiply-adds below which threads cost more than they give

// Copies op(B)[pc:pc+kc, jc:jc+nc] into a contiguous kc x nc panel, so the
// inner loop reads one unit-stride row whatever the transpose.
template <typename T>
void pack_b_panel(T* panel, const T* B, int64_t ldb, bool trans_b, int64_t pc,
                  int64_t jc, int64_t kc, int64_t nc) {
  for (int64_t k = 0; k < kc; ++k) {
    T* dst = panel + k * nc;
    if (!trans_b) {
      std::memcpy(dst, B + (pc + k) * ldb + jc, sizeof(T) * nc);
    } else {
      for (int64_t j = 0; j < nc; ++j) dst[j] = B[(jc + j) * ldb + pc + k];
    }
  }
}

// C[M,Nc] = beta C + op(A) op(B). Threads split the rows of C; K is walked in
// the same order for every thread count, so results do not depend on it.
template <typename T>
void gemm_blocked(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a,
                  const T* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc,
                  int64_t K, T beta) {
  if (M <= 0 || Nc <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < Nc; ++j)
        C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
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
      const bool parallel = M > 1 && M * nc * kc >= kMinParallelWork;
      (void)parallel;
#pragma omp parallel for schedule(static) if (parallel)
      for (int64_t i = 0; i < M; ++i) {
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
      }
    }
  }
}

Isa detect_best() {
#if defined(FASTMLP_X86) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::baseline;
}

Isa initial_isa() {
  const char* env = std::getenv("FASTMLP_ISA");
  if (env != nullptr) {
    for (Isa isa : {Isa::reference, Isa::baseline, Isa::avx2, Isa::avx512}) {
      if (std::strcmp(env, isa_name(isa)) == 0 && isa_supported(isa)) return isa;
    }
  }
  return detect_best();
}

std::atomic<int>& active_isa_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_isa())};
  return slot;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::reference: return "reference";
    case Isa::baseline: return "baseline";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

Isa best_supported_isa() {
  static const Isa best = detect_best();
  return best;
}

bool isa_supported(Isa isa) {
  return static_cast<int>(isa) <= static_cast<int>(best_supported_isa());
}

Isa active_isa() { return static_cast<Isa>(active_isa_slot().load()); }

void set_isa(Isa isa) { active_isa_slot().store(static_cast<int>(isa)); }

#ifdef FASTMLP_BASELINE_SSE2
namespace {

// Micro-tiles 4 x 8 and 8 x 4: without FMA each update needs a temporary, so
// 8 accumulators leave room in the 16 xmm registers. Partial vectors go
// through a small stack buffer (SSE2 has no masked loads or stores).
struct VecSse2 {
  using Reg = __m128;
  using Mask = int;  // number of valid lanes, 0..4
  static constexpr int kLanes = 4;
  static constexpr int kRows1 = 8;
  static constexpr int kRows2 = 4;
  static constexpr int64_t kMaxKc = 256;
  static Reg zero() { return _mm_setzero_ps(); }
  static Reg load(const float* p) { return _mm_loadu_ps(p); }
  static Reg maskload(const float* p, Mask n) {
    if (n >= 4) return _mm_loadu_ps(p);
    float t[4] = {0.f, 0.f, 0.f, 0.f};
    for (int i = 0; i < n; ++i) t[i] = p[i];
    return _mm_loadu_ps(t);
  }
  static void store(float* p, Reg v) { _mm_storeu_ps(p, v); }
  static void maskstore(float* p, Mask n, Reg v) {
    if (n >= 4) return _mm_storeu_ps(p, v);
    float t[4];
    _mm_storeu_ps(t, v);
    for (int i = 0; i < n; ++i) p[i] = t[i];
  }
  static Reg bcast(const float* p) { return _mm_set1_ps(*p); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
  static Reg add(Reg a, Reg b) { return _mm_add_ps(a, b); }
  static float hsum(Reg v) {
    const __m128 s2 = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
  }
  static Mask mask_for(int n) { return n < 0 ? 0 : n > 4 ? 4 : n; }
};

}  // namespace
#endif

void sgemm_baseline(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                    const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc,
                    int64_t K, float beta) {
#ifdef FASTMLP_BASELINE_SSE2
  sgemm_packed<VecSse2>(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta);
#else
  gemm_blocked<float>(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta);
#endif
}

void sgemm_with(Isa isa, float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K,
                float beta) {
  switch (isa) {
    case Isa::reference:
      return gemm_reference<float>(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta);
    case Isa::baseline:
      return sgemm_baseline(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta);
#ifdef FASTMLP_X86
    case Isa::avx2:
      return sgemm_avx2(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta);
    case Isa::avx512:
      return sgemm_avx512(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta);
#endif
    default:
      return sgemm_baseline(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta);
  }
}

template <>
void gemm<float>(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                 const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc,
                 int64_t K, float beta) {
  sgemm_with(active_isa(), C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta);
}

template <>
void gemm<double>(double* C, int64_t ldc, const double* A, int64_t lda, bool trans_a,
                  const double* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc,
                  int64_t K, double beta) {
  gemm_blocked<double>(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta);
}

}  // namespace fastmlp

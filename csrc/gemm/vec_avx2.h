// The AVX2 + FMA vector policy of the packed GEMM driver (gemm/packed.h):
// 8-lane ymm vectors. Include only from a file compiled with -mavx2 -mfma.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace fastmlp {
namespace {

// Micro-tiles: 6 x 16 (12 accumulators) and 12 x 8 for narrow outputs; with
// two B vectors and one broadcast that fills 15 of the 16 ymm registers.
struct VecAvx2 {
  using T = float;
  using Reg = __m256;
  using Mask = __m256i;
  static constexpr int kLanes = 8;
  static constexpr int kRows1 = 12;
  static constexpr int kRows2 = 6;
  // 256: K = 1024 dW tiles measured ~5% faster than one unblocked walk (Zen4).
  static constexpr int64_t kMaxKc = 256;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static Reg maskload(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static void maskstore(float* p, Mask m, Reg v) { _mm256_maskstore_ps(p, m, v); }
  static Reg bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static float hsum(Reg v) {
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
  }
  // Lane l is valid when l < n (the sign bit of each 32-bit lane selects it).
  static Mask mask_for(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
};

// float64: 4-lane ymm vectors and the same tile shapes as float32 (6 x 8 and
// 12 x 4 values), so an element costs twice the FMAs of float32, no more.
struct VecAvx2d {
  using T = double;
  using Reg = __m256d;
  using Mask = __m256i;
  static constexpr int kLanes = 4;
  static constexpr int kRows1 = 12;
  static constexpr int kRows2 = 6;
  static constexpr int64_t kMaxKc = 256;
  static Reg zero() { return _mm256_setzero_pd(); }
  static Reg load(const double* p) { return _mm256_loadu_pd(p); }
  static Reg maskload(const double* p, Mask m) { return _mm256_maskload_pd(p, m); }
  static void store(double* p, Reg v) { _mm256_storeu_pd(p, v); }
  static void maskstore(double* p, Mask m, Reg v) { _mm256_maskstore_pd(p, m, v); }
  static Reg bcast(const double* p) { return _mm256_broadcast_sd(p); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_pd(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm256_add_pd(a, b); }
  static double hsum(Reg v) {
    const __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
  }
  // Lane l is valid when l < n (the sign bit of each 64-bit lane selects it).
  static Mask mask_for(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
};

}  // namespace
}  // namespace fastmlp

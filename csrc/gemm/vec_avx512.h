// The AVX-512 vector policies of the packed GEMM driver (gemm/packed.h):
// 16-lane (float32) and 8-lane (float64) zmm vectors. Include only from a file compiled with
// -mavx512f -mavx512vl -mavx512dq -mfma.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace fastmlp {
namespace {

// Micro-tiles: 12 x 32 (24 accumulators) and 24 x 16 for narrow outputs; the
// broadcasts fold into the FMAs as {1to16} memory operands, so 32 zmm
// registers leave room to spare.
struct VecAvx512 {
  using T = float;
  using Reg = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr int kRows1 = 24;
  static constexpr int kRows2 = 12;
  // Blocking K below 1024 measured no faster on the MLP shapes (Zen4).
  static constexpr int64_t kMaxKc = 1024;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg maskload(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static void maskstore(float* p, Mask m, Reg v) { _mm512_mask_storeu_ps(p, m, v); }
  static Reg bcast(const float* p) { return _mm512_set1_ps(*p); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  // (extract, not cast: gcc 12's cast trips -Wmaybe-uninitialized)
  static float hsum(Reg v) {
    const __m256 s8 = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
  }
  static Mask mask_for(int n) {
    return n >= 16 ? Mask(0xFFFF) : n <= 0 ? Mask(0) : Mask((1u << n) - 1);
  }
};

// float64: 8-lane zmm vectors and the same tile shapes as float32 (12 x 16
// and 24 x 8 values, the same bytes per k as float32's 12 x 32 and 24 x 16),
// so an element costs twice the FMAs of float32, no more.
struct VecAvx512d {
  using T = double;
  using Reg = __m512d;
  using Mask = __mmask8;
  static constexpr int kLanes = 8;
  static constexpr int kRows1 = 24;
  static constexpr int kRows2 = 12;
  static constexpr int64_t kMaxKc = 1024;
  static Reg zero() { return _mm512_setzero_pd(); }
  static Reg load(const double* p) { return _mm512_loadu_pd(p); }
  static Reg maskload(const double* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(double* p, Reg v) { _mm512_storeu_pd(p, v); }
  static void maskstore(double* p, Mask m, Reg v) { _mm512_mask_storeu_pd(p, m, v); }
  static Reg bcast(const double* p) { return _mm512_set1_pd(*p); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_pd(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm512_add_pd(a, b); }
  static double hsum(Reg v) {
    // (masked extracts with a zero source: gcc 12 warns that the plain ones'
    // undefined source may be used)
    const __m256d zero = _mm256_setzero_pd();
    const __m256d s4 = _mm256_add_pd(_mm512_mask_extractf64x4_pd(zero, 0xF, v, 0),
                                     _mm512_mask_extractf64x4_pd(zero, 0xF, v, 1));
    const __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
  }
  static Mask mask_for(int n) {
    return n >= 8 ? Mask(0xFF) : n <= 0 ? Mask(0) : Mask((1u << n) - 1);
  }
};

}  // namespace
}  // namespace fastmlp

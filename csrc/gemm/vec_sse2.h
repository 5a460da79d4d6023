// The SSE2 vector policy of the packed GEMM driver (gemm/packed.h): 4 lanes,
// no FMA. x86-64 always has SSE2, so the baseline table runs the packed
// driver on it. Include only from a file compiled for the baseline.
#pragma once

#include <emmintrin.h>

#include <cstdint>

namespace fastmlp {
namespace {

// Micro-tiles 4 x 8 and 8 x 4: without FMA each update needs a temporary, so
// 8 accumulators leave room in the 16 xmm registers. Partial vectors go
// through a small stack buffer (SSE2 has no masked loads or stores).
struct VecSse2 {
  using T = float;
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

// float64: 2 lanes, the same tile shapes (the registers hold as many
// accumulators; each covers half the columns).
struct VecSse2d {
  using T = double;
  using Reg = __m128d;
  using Mask = int;  // number of valid lanes, 0..2
  static constexpr int kLanes = 2;
  static constexpr int kRows1 = 8;
  static constexpr int kRows2 = 4;
  static constexpr int64_t kMaxKc = 256;
  static Reg zero() { return _mm_setzero_pd(); }
  static Reg load(const double* p) { return _mm_loadu_pd(p); }
  static Reg maskload(const double* p, Mask n) {
    if (n >= 2) return _mm_loadu_pd(p);
    return n == 1 ? _mm_load_sd(p) : _mm_setzero_pd();
  }
  static void store(double* p, Reg v) { _mm_storeu_pd(p, v); }
  static void maskstore(double* p, Mask n, Reg v) {
    if (n >= 2) return _mm_storeu_pd(p, v);
    if (n == 1) _mm_store_sd(p, v);
  }
  static Reg bcast(const double* p) { return _mm_set1_pd(*p); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
  static Reg add(Reg a, Reg b) { return _mm_add_pd(a, b); }
  static double hsum(Reg v) { return _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v))); }
  static Mask mask_for(int n) { return n < 0 ? 0 : n > 2 ? 2 : n; }
};

}  // namespace
}  // namespace fastmlp

// float32 GEMM with bfloat16 products: the contract shared by the AVX512_BF16
// kernel (gemm/bf16_avx512bf16.cpp) and its plain twin (gemm/bf16_reference.cpp).
//
// C = beta C + op(A) op(B) with float32 A, B and C, where every input is first
// rounded to bfloat16 (round to nearest even; a subnormal input counts as a
// zero of its sign; a NaN stays a quiet NaN) and the products are summed in
// float32 the way vdpbf16ps sums them: K is taken in pairs (2p, 2p + 1), a
// missing last element being zero, and for each pair in ascending p
//   c = c + a(2p+1) b(2p+1), then c = c + a(2p) b(2p),
// each addition rounded to float32 on its own (the product of two bfloat16
// values is exact in float32), a subnormal c read or written as zero. c
// starts at beta C (beta 0: at zero, C only written). So every element of C
// is one fixed sequence of operations, whatever the blocking or the threads.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace fastmlp {

// The bfloat16 bits of x, rounded as vcvtne2ps2bf16 rounds.
inline uint16_t bfloat16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7F800000u) == 0) u &= 0x80000000u;  // zero or subnormal: a signed zero
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float bfloat16_value(uint16_t bits) {
  const uint32_t u = uint32_t(bits) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// x, or a zero of its sign when x is subnormal: how vdpbf16ps reads and
// writes its float32 sums.
inline float flush_subnormal_sum(float x) {
  return std::fabs(x) < std::numeric_limits<float>::min() ? std::copysign(0.0f, x) : x;
}

// The float32 GEMM of the contract above, in plain loops: the test oracle, and
// the kernel of the 'reference' instruction set.
void gemm_bf16_reference(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                         const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc,
                         int64_t K, float beta);

#ifdef FASTMLP_HAVE_BF16
// The same with vdpbf16ps (AVX-512 F, BW and BF16); call it only when the CPU has them.
void gemm_bf16_avx512(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                      const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K,
                      float beta);
#endif

}  // namespace fastmlp

// The bfloat16-product GEMM on AVX512_BF16 (the contract is in gemm/bf16.h).
// Only this file is compiled with -mavx512bf16 (and F, VL, BW, DQ); it runs only
// after cpuid says the CPU has those (bf16_products_unavailable in isa/select.cpp).
//
// vdpbf16ps takes 16 pairs of bfloat16 products per instruction at the rate of
// one float32 FMA, so a tile does twice the work per instruction. Scheme:
//   * op(B) is packed once per call into 32-column slivers of pairs,
//     sliver[p][j] = (B(2p, j), B(2p+1, j)) as one 32-bit word, rounded to
//     bfloat16 on the way in; zero beyond K and Nc.
//   * op(A) is converted once per call into the same words, all threads
//     sharing the work: row by row ([i][p]) for a row-major A, where one
//     vcvtne2ps2bf16 of 32 consecutive k makes 16 pairs; pair by pair ([p][i])
//     for a stored A^T, whose rows 2p and 2p + 1 interleave into pair p of
//     every row. Tiles read it in place (converted per tile, each thread
//     converted every tile of its column block again: 8% of a two-thread
//     epoch at batch 128).
//   * The micro-kernel keeps a 12 x 32 tile of C in 24 registers and walks
//     one block of pairs; the next block starts from the stored C. Blocks
//     depend on K alone and K is never split between threads, so every C
//     element is the same chain of operations whatever the thread count.
//   * Threads take disjoint (column block, row tile) items of C, as the
//     float32 driver does.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "aligned.h"
#include "gemm/bf16.h"
#include "kernels.h"
#include "thread_team.h"

namespace fastmlp {
namespace {

constexpr int MR = 12;
constexpr int NR = 32;
// K pairs per block: a 12-row panel of 256 pairs is 12 KB (it stays in L1
// while the slivers stream past it).
constexpr int64_t kPairsPerBlock = 256;
// Multiply-adds below which a second thread costs more than it saves.
constexpr int64_t kMinParallelMacs = int64_t(1) << 18;

// 16 bfloat16 pairs from two float32 vectors: word i = (lo[i], hi[i]).
inline __m512i pairs_of(__m512 lo, __m512 hi) {
  // cvtne2ps gives the 16 rounded `lo` values in words 0-15 and the `hi`
  // ones in words 16-31; the permutation interleaves them.
  const __m512i words = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24,
                                         8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i rounded = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
  return _mm512_permutexvar_epi16(words, rounded);
}

// 16 pairs from 32 consecutive floats (the first `n` valid, the rest zero):
// words p = (x[2p], x[2p+1]), straight from the conversion's order.
inline __m512i pairs_of_run(const float* x, int64_t n) {
  const __mmask16 lo = n >= 16 ? 0xFFFF : __mmask16((1u << n) - 1);
  const int64_t rest = n > 16 ? n - 16 : 0;
  const __mmask16 hi = rest >= 16 ? 0xFFFF : __mmask16((1u << rest) - 1);
  const __m512 a = _mm512_maskz_loadu_ps(lo, x);
  const __m512 b = _mm512_maskz_loadu_ps(hi, x + 16);
  return (__m512i)_mm512_cvtne2ps_pbh(b, a);
}

inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

struct Operands {
  float* C;
  int64_t ldc;
  const float* A;
  int64_t lda;
  bool trans_a;
  const float* B;
  int64_t ldb;
  bool trans_b;
  int64_t M, Nc, K;
  bool accumulate;
};

// ------------------------------------------------------------------ packing
// Sliver s of op(B): pairs [0, kp) of columns [s*NR, s*NR + NR).
void pack_b_sliver(uint32_t* sliver, const Operands& g, int64_t s, int64_t kp) {
  const int64_t j0 = s * NR, ncols = std::min<int64_t>(NR, g.Nc - j0);
  if (!g.trans_b) {
    // Rows 2p and 2p + 1 of B, 16 columns at a time.
    const __mmask16 m0 = first_lanes(ncols), m1 = first_lanes(ncols - 16);
    for (int64_t p = 0; p < kp; ++p) {
      const float* even = g.B + 2 * p * g.ldb + j0;
      const float* odd = even + g.ldb;
      const bool has_odd = 2 * p + 1 < g.K;
      const __m512 e0 = _mm512_maskz_loadu_ps(m0, even), e1 = _mm512_maskz_loadu_ps(m1, even + 16);
      const __m512 o0 = has_odd ? _mm512_maskz_loadu_ps(m0, odd) : _mm512_setzero_ps();
      const __m512 o1 = has_odd ? _mm512_maskz_loadu_ps(m1, odd + 16) : _mm512_setzero_ps();
      _mm512_store_si512(sliver + p * NR, pairs_of(e0, o0));
      _mm512_store_si512(sliver + p * NR + 16, pairs_of(e1, o1));
    }
    return;
  }
  // B stored Nc x K: each stored row is one column's run of k; its 16 pairs
  // per conversion go down the sliver's column.
  const __m512i down =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(NR));
  for (int64_t j = 0; j < NR; ++j) {
    const float* column = g.B + (j0 + j) * g.ldb;
    for (int64_t p = 0; p < kp; p += 16) {
      const __m512i words =
          j < ncols ? pairs_of_run(column + 2 * p, g.K - 2 * p) : _mm512_setzero_si512();
      _mm512_mask_i32scatter_epi32(sliver + p * NR + j, first_lanes(kp - p), down, words, 4);
    }
  }
}

// op(A) as pairs, once per call, for the tiles to read in place. Row-major A
// (rows padded to m_pad, zeros past M): row i at a + i * kp, word p = pair p.
// Stored A^T: pair p at a + p * m_pad, one word per row of op(A) (zeros past
// M). Rows [r0, r1) (pairs [r0, r1) for A^T) of the whole.
void convert_a(uint32_t* a, const Operands& g, int64_t kp, int64_t m_pad, int64_t r0, int64_t r1) {
  if (!g.trans_a) {
    for (int64_t i = r0; i < r1; ++i) {
      uint32_t* row = a + i * kp;
      const float* src = g.A + i * g.lda;
      for (int64_t p = 0; p < kp; p += 16) {
        const __m512i words =
            i < g.M ? pairs_of_run(src + 2 * p, g.K - 2 * p) : _mm512_setzero_si512();
        _mm512_mask_storeu_epi32(row + p, first_lanes(kp - p), words);
      }
    }
    return;
  }
  // Rows 2p and 2p + 1 of the stored A^T interleave into pair p of every row of op(A).
  for (int64_t p = r0; p < r1; ++p) {
    const float* even = g.A + 2 * p * g.lda;
    const bool has_odd = 2 * p + 1 < g.K;
    uint32_t* out = a + p * m_pad;
    for (int64_t i = 0; i < m_pad; i += 16) {
      const __mmask16 m = first_lanes(g.M - i);
      const __m512 e = _mm512_maskz_loadu_ps(m, even + i);
      const __m512 o = has_odd ? _mm512_maskz_loadu_ps(m, even + g.lda + i) : _mm512_setzero_ps();
      _mm512_mask_storeu_epi32(out + i, first_lanes(m_pad - i), pairs_of(e, o));
    }
  }
}

// ------------------------------------------------------------------ micro-kernel
// C[mr, ncols] at c = (from_c ? C : 0) + op(A) tile x sliver over np pairs:
// word (i, p) of the tile at a[p * a_step + i] (kPairMajorA) or a[i * a_step + p].
template <bool kPairMajorA>
void micro_tile(float* c, int64_t ldc, const uint32_t* a, int64_t a_step, const uint32_t* b,
                int64_t np, int mr, int64_t ncols, bool from_c) {
  const __mmask16 m0 = first_lanes(ncols), m1 = first_lanes(ncols - 16);
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    acc[i][0] = from_c && i < mr ? _mm512_maskz_loadu_ps(m0, c + i * ldc) : _mm512_setzero_ps();
    acc[i][1] =
        from_c && i < mr ? _mm512_maskz_loadu_ps(m1, c + i * ldc + 16) : _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < np; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(b + p * NR);
    const __m512bh b1 = (__m512bh)_mm512_load_si512(b + p * NR + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const uint32_t word = kPairMajorA ? a[p * a_step + i] : a[i * a_step + p];
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(word));
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
    }
  }
  // Unrolled with a test per row, so the tile goes from registers to C
  // without a round trip through the stack.
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    _mm512_mask_storeu_ps(c + i * ldc, m0, acc[i][0]);
    _mm512_mask_storeu_ps(c + i * ldc + 16, m1, acc[i][1]);
  }
}

template <class T>
T* grow(AlignedVector<T>& buf, int64_t n) {
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

}  // namespace

void gemm_bf16_avx512(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                      const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K,
                      float beta) {
  if (M <= 0 || Nc <= 0) return;
  // c starts at beta C: any beta but 0 and 1 is folded into C first, and a
  // subnormal start reads as zero (the reference flushes it the same way).
  if (beta != 0.0f)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < Nc; ++j) C[i * ldc + j] = flush_subnormal_sum(beta * C[i * ldc + j]);
  if (K <= 0) {
    if (beta == 0.0f)
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + Nc, 0.0f);
    return;
  }
  const Operands g{C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, beta != 0.0f};
  const int64_t kp = (K + 1) / 2;
  const int64_t n_slivers = (Nc + NR - 1) / NR, n_row_tiles = (M + MR - 1) / MR;
  const int64_t blocks = (kp + kPairsPerBlock - 1) / kPairsPerBlock;
  const int64_t block_pairs = (kp + blocks - 1) / blocks;
  const bool parallel = M * Nc * K >= kMinParallelMacs && get_num_threads() > 1;
  const int64_t threads = parallel ? get_num_threads() : 1;
  // Each thread its own columns when there are enough slivers, so it reads
  // only slivers it packed itself; else all threads share them by rows.
  const int64_t col_blocks = n_slivers >= 2 * threads ? threads : 1;
  const int64_t n_items = col_blocks * n_row_tiles;
  const int64_t m_pad = n_row_tiles * MR;
  thread_local AlignedVector<uint32_t> b_buf, a_buf;
  uint32_t* packed_b = grow(b_buf, n_slivers * kp * NR);
  uint32_t* pairs_a = grow(a_buf, m_pad * kp);
  const int64_t a_units = trans_a ? kp : m_pad;  // what convert_a splits: pairs or rows
  auto convert_part = [&](int64_t part, int64_t parts) {
    convert_a(pairs_a, g, kp, m_pad, part * a_units / parts, (part + 1) * a_units / parts);
  };

  auto run_item = [&](int64_t item) {
    const int64_t cb = item / n_row_tiles, rt = item % n_row_tiles;
    const int64_t s_begin = cb * n_slivers / col_blocks, s_end = (cb + 1) * n_slivers / col_blocks;
    const int64_t i0 = rt * MR;
    const int mr = static_cast<int>(std::min<int64_t>(MR, M - i0));
    for (int64_t p0 = 0; p0 < kp; p0 += block_pairs) {
      const int64_t np = std::min(block_pairs, kp - p0);
      for (int64_t s = s_begin; s < s_end; ++s) {
        const int64_t j0 = s * NR;
        float* c = C + i0 * ldc + j0;
        const uint32_t* b = packed_b + s * kp * NR + p0 * NR;
        const bool from_c = g.accumulate || p0 > 0;
        if (trans_a)
          micro_tile<true>(c, ldc, pairs_a + p0 * m_pad + i0, m_pad, b, np, mr, Nc - j0, from_c);
        else
          micro_tile<false>(c, ldc, pairs_a + i0 * kp + p0, kp, b, np, mr, Nc - j0, from_c);
      }
    }
  };

  if (!parallel) {
    for (int64_t s = 0; s < n_slivers; ++s) pack_b_sliver(packed_b + s * kp * NR, g, s, kp);
    convert_part(0, 1);
    for (int64_t item = 0; item < n_items; ++item) run_item(item);
    return;
  }
  // Converting A in 4 parts per thread spreads it evenly with the slivers.
  // One barrier, after both: every item reads slivers and rows of A that
  // other members may have prepared.
  const int64_t a_parts = 4 * threads;
  run_team(static_cast<int>(threads), [&](const TeamMember& member) {
    // In the column blocks' split (run_item's): each member packs the
    // slivers it multiplies when it has a column block of its own.
    for (int64_t s = member.share_begin(n_slivers); s < member.share_end(n_slivers); ++s)
      pack_b_sliver(packed_b + s * kp * NR, g, s, kp);
    for (int64_t part = member.share_begin(a_parts); part < member.share_end(a_parts); ++part)
      convert_part(part, a_parts);
    member.barrier();
    for (int64_t item = member.share_begin(n_items); item < member.share_end(n_items); ++item)
      run_item(item);
  });
}

}  // namespace fastmlp

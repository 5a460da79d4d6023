// The packed GEMM driver, written once over a small vector-ops policy V
// (gemm/vec_<isa>.h; V::T is float or double) and instantiated by each
// isa/<isa>.cpp under its own compiler flags. Everything here has internal linkage (anonymous
// namespace), so the AVX-512 and AVX2 copies never merge at link time.
//
// Policy V provides:
//   T (the element type), Reg, Mask, kLanes, kRows1, kRows2 (micro-tile rows for 1 and 2 vectors of
//   columns), kMaxKc (longest K one micro-kernel call walks: past it C takes
//   one extra load/store per block while the A and B slivers stay cached),
//   zero, load, maskload, store, maskstore, bcast, fma, add,
//   mask_for(n valid lanes), hsum.
//
// Scheme (BLIS-like, simplified for MLP layer sizes):
//   * op(B) is packed once per call into NR-wide slivers [k][NR], zero-padded,
//     unless it is not transposed and few row tiles will reuse it (then the
//     micro-kernel reads B in place with row stride ldb).
//   * op(A) is read in place (see AMode), but for a stored A^T with long rows,
//     whose row tiles are first copied into [k][MR] panels (pack_a_pays); the
//     MR x K row panel stays in L1/L2
//     while the micro-kernel sweeps the column slivers.
//   * The micro-kernel walks K (whole, or in blocks fixed by K and
//     V::kMaxKc alone) for one MR x NR tile, so every C element is the same
//     ascending-k FMA chain whatever the thread count: K is never split
//     between threads. L2 bandwidth easily feeds MR >= 6 rows per B load.
//   * Threads take disjoint (column block, row tile) items of C; M == 1 and
//     Nc == 1 skip tiles for vector loops (gemv, gemv_column).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels.h"
#include "thread_team.h"

namespace fastmlp {
namespace {

// Multiply-adds below which a second thread costs more (a team run, 0.1-0.4
// us, and the operands pulled into a second core's cache) than it saves.
constexpr int64_t kMinParallelMacs = int64_t(1) << 18;
// A matrix-vector product streams all of B once (memory-bound, about 4x the
// time per multiply-add of a packed GEMM), so threads pay off sooner.
constexpr int64_t kMinParallelGemvMacs = int64_t(1) << 16;
// Bytes of packed B one column block may take (half of a Zen4 / Skylake-SP L2).
constexpr int64_t kL2BlockBytes = int64_t(1) << 19;
// Packed B at most this large is shared by all threads rather than split by columns.
constexpr int64_t kSmallBBytes = int64_t(1) << 16;

// ------------------------------------------------------------------ micro-kernel
// C[MR, NV*L] (+)= A_panel[MR, K] B_sliver[K, NV*L]
// a(i,k) = a[i*a_rs + k*a_cs], with a_rs taken as 1 unless kRowStrideA (A^T read
// in place has adjacent rows); b(k,j) = b[k*b_step + j].
// kEdge: only `ncols` columns are valid (masked stores);
// kMaskLoad: B is read in place, so its loads must be masked too.
template <class V, int MR, int NV, bool kRowStrideA, bool kEdge, bool kMaskLoad,
          class T = typename V::T>
void micro_tile(T* c, int64_t ldc, const T* a, int64_t a_rs, int64_t a_cs, const T* b,
                int64_t b_step, int64_t K, int ncols, bool accumulate) {
  using Reg = typename V::Reg;
  constexpr int L = V::kLanes;
  typename V::Mask mask[NV];
  for (int j = 0; j < NV; ++j) mask[j] = V::mask_for(ncols - j * L);
  if (!kRowStrideA) a_rs = 1;

  Reg acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = V::zero();

  for (int64_t k = 0; k < K; ++k) {
    Reg bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      bv[j] = kMaskLoad ? V::maskload(b + j * L, mask[j]) : V::load(b + j * L);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const Reg av = V::bcast(a + i * a_rs);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
    }
    a += a_cs;
    b += b_step;
  }

#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    T* ci = c + i * ldc;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      Reg r = acc[i][j];
      if (kEdge) {
        if (accumulate) r = V::add(r, V::maskload(ci + j * L, mask[j]));
        V::maskstore(ci + j * L, mask[j], r);
      } else {
        if (accumulate) r = V::add(r, V::load(ci + j * L));
        V::store(ci + j * L, r);
      }
    }
  }
}

template <class T>
using TileFn = void (*)(T*, int64_t, const T*, int64_t, int64_t, const T*, int64_t, int64_t, int,
                        bool);

// Tile kernels indexed by row count - 1, so edge rows run an exact-height
// kernel instead of computing padding.
template <class V, int NV, bool kRowStrideA, bool kEdge, bool kMaskLoad, int... I>
constexpr std::array<TileFn<typename V::T>, sizeof...(I)> tile_table(
    std::integer_sequence<int, I...>) {
  return {&micro_tile<V, I + 1, NV, kRowStrideA, kEdge, kMaskLoad>...};
}

template <class V, int NV, bool kRowStrideA>
struct Tiles {
  static constexpr int kRows = NV == 1 ? V::kRows1 : V::kRows2;
  static constexpr auto seq = std::make_integer_sequence<int, kRows>{};
  using Fn = TileFn<typename V::T>;
  static constexpr std::array<Fn, kRows> full = tile_table<V, NV, kRowStrideA, false, false>(seq);
  static constexpr std::array<Fn, kRows> edge = tile_table<V, NV, kRowStrideA, true, false>(seq);
  static constexpr std::array<Fn, kRows> edge_masked =
      tile_table<V, NV, kRowStrideA, true, true>(seq);
};

// ------------------------------------------------------------------ packing
// panel[k*NR + j] = op(B)(k, j0 + j) for one sliver, zero beyond Nc. A full
// sliver's row is a copy of fixed size, which the compiler turns into a few
// vector moves instead of a libc call per 128-byte row.
template <int NR, class T>
inline void pack_b_sliver(T* panel, const T* B, int64_t ldb, bool trans_b, int64_t j0,
                          int64_t ncols, int64_t K) {
  if (!trans_b) {
    if (ncols == NR) {
      for (int64_t k = 0; k < K; ++k) std::memcpy(panel + k * NR, B + k * ldb + j0, sizeof(T) * NR);
      return;
    }
    for (int64_t k = 0; k < K; ++k) {
      T* dst = panel + k * NR;
      std::memcpy(dst, B + k * ldb + j0, sizeof(T) * ncols);
      for (int64_t j = ncols; j < NR; ++j) dst[j] = T(0);
    }
    return;
  }
  // B is stored Nc x K: read each stored row contiguously, write it down a column.
  for (int64_t j = 0; j < ncols; ++j) {
    const T* src = B + (j0 + j) * ldb;
    for (int64_t k = 0; k < K; ++k) panel[k * NR + j] = src[k];
  }
  for (int64_t j = ncols; j < NR; ++j)
    for (int64_t k = 0; k < K; ++k) panel[k * NR + j] = T(0);
}

// ------------------------------------------------------------------ M == 1
// c[j0 .. j0 + NB*L) (+)= a[K] B[K, those columns]: NB accumulators, one pass down B.
template <class V, int NB, class T = typename V::T>
void gemv_block(T* c, const T* a, const T* B, int64_t ldb, int64_t j0, int64_t K, bool accumulate) {
  using Reg = typename V::Reg;
  constexpr int L = V::kLanes;
  Reg acc[NB];
  for (int v = 0; v < NB; ++v) acc[v] = V::zero();
  const T* b = B + j0;
  for (int64_t k = 0; k < K; ++k, b += ldb) {
    const Reg av = V::bcast(a + k);
#pragma GCC unroll 16
    for (int v = 0; v < NB; ++v) acc[v] = V::fma(av, V::load(b + v * L), acc[v]);
  }
  for (int v = 0; v < NB; ++v) {
    Reg r = acc[v];
    if (accumulate) r = V::add(r, V::load(c + j0 + v * L));
    V::store(c + j0 + v * L, r);
  }
}

// c[1, Nc] (+)= a[K] B[K, Nc]: one pass over B rows per block of columns.
// B comes from L2 at best, so blocks are as wide as the registers allow (256
// columns in 16 accumulators with 32 vector registers, then one of 128, else
// 64): longer
// contiguous runs of each row of B, and fewer passes (a 784 x 256 layer at
// batch 1: 8.9 us in one pass against 9.5 us in two of 128 columns, AVX-512).
// Every output is the same ascending-k chain whatever block it falls in.
template <class V, class T = typename V::T>
void gemv_rows(T* c, const T* a, const T* B, int64_t ldb, int64_t j_begin, int64_t j_end, int64_t K,
               bool accumulate) {
  constexpr int L = V::kLanes;
  constexpr int kNarrow = 64 / L;
  constexpr int kMiddle = L >= 16 ? 128 / L : kNarrow;
  constexpr int kWide = L >= 16 ? 256 / L : kNarrow;
  using Reg = typename V::Reg;
  int64_t j = j_begin;
  for (; j + kWide * L <= j_end; j += kWide * L)
    gemv_block<V, kWide>(c, a, B, ldb, j, K, accumulate);
  if (kMiddle != kWide && j + kMiddle * L <= j_end) {
    gemv_block<V, kMiddle>(c, a, B, ldb, j, K, accumulate);
    j += kMiddle * L;
  }
  for (; j + kNarrow * L <= j_end; j += kNarrow * L)
    gemv_block<V, kNarrow>(c, a, B, ldb, j, K, accumulate);
  for (; j < j_end; j += L) {
    const auto m = V::mask_for(static_cast<int>(j_end - j));
    Reg acc = V::zero();
    const T* b = B + j;
    for (int64_t k = 0; k < K; ++k, b += ldb) acc = V::fma(V::bcast(a + k), V::maskload(b, m), acc);
    if (accumulate) acc = V::add(acc, V::maskload(c + j, m));
    V::maskstore(c + j, m, acc);
  }
}

// c[1, Nc] (+)= a[K] B^T where B is stored Nc x K: one dot product per stored
// row, four rows at a time so each load of `a` feeds four FMAs.
template <class V, class T = typename V::T>
void gemv_dots(T* c, const T* a, const T* B, int64_t ldb, int64_t j_begin, int64_t j_end, int64_t K,
               bool accumulate) {
  using Reg = typename V::Reg;
  constexpr int L = V::kLanes;
  const auto tail = V::mask_for(static_cast<int>(K % L));
  const int64_t k_full = K - K % L;
  int64_t j = j_begin;
  auto finish = [&](int64_t jj, Reg acc) {
    const T s = V::hsum(acc);
    c[jj] = accumulate ? c[jj] + s : s;
  };
  for (; j + 4 <= j_end; j += 4) {
    const T* b0 = B + j * ldb;
    const T* b1 = b0 + ldb;
    const T* b2 = b1 + ldb;
    const T* b3 = b2 + ldb;
    Reg s0 = V::zero(), s1 = V::zero(), s2 = V::zero(), s3 = V::zero();
    int64_t k = 0;
    for (; k < k_full; k += L) {
      const Reg av = V::load(a + k);
      s0 = V::fma(av, V::load(b0 + k), s0);
      s1 = V::fma(av, V::load(b1 + k), s1);
      s2 = V::fma(av, V::load(b2 + k), s2);
      s3 = V::fma(av, V::load(b3 + k), s3);
    }
    if (k < K) {
      const Reg av = V::maskload(a + k, tail);
      s0 = V::fma(av, V::maskload(b0 + k, tail), s0);
      s1 = V::fma(av, V::maskload(b1 + k, tail), s1);
      s2 = V::fma(av, V::maskload(b2 + k, tail), s2);
      s3 = V::fma(av, V::maskload(b3 + k, tail), s3);
    }
    finish(j, s0);
    finish(j + 1, s1);
    finish(j + 2, s2);
    finish(j + 3, s3);
  }
  for (; j < j_end; ++j) {
    const T* b0 = B + j * ldb;
    Reg s0 = V::zero();
    int64_t k = 0;
    for (; k < k_full; k += L) s0 = V::fma(V::load(a + k), V::load(b0 + k), s0);
    if (k < K) s0 = V::fma(V::maskload(a + k, tail), V::maskload(b0 + k, tail), s0);
    finish(j, s0);
  }
}

// C[1, Nc] (+)= op(A)[1, K] op(B)[K, Nc]: no packing of B (it is used once).
template <class V, class T = typename V::T>
void gemv(T* c, const T* A, int64_t lda, bool trans_a, const T* B, int64_t ldb, bool trans_b,
          int64_t Nc, int64_t K, bool accumulate) {
  // A stored K x 1 with a stride: gather it once so the loops read it contiguously.
  const T* a = A;
  if (trans_a && lda != 1) {
    thread_local std::vector<T> gathered;
    if (static_cast<int64_t>(gathered.size()) < K) gathered.resize(K);
    for (int64_t k = 0; k < K; ++k) gathered[k] = A[k * lda];
    a = gathered.data();
  }
  const bool parallel = Nc * K >= kMinParallelGemvMacs && Nc >= 128 && get_num_threads() > 1;
  auto columns = [&](int64_t j0, int64_t j1) {
    if (trans_b)
      gemv_dots<V>(c, a, B, ldb, j0, j1, K, accumulate);
    else
      gemv_rows<V>(c, a, B, ldb, j0, j1, K, accumulate);
  };
  // Serial calls skip the OpenMP runtime entirely: at batch size 1 its
  // entry cost alone is a sizable share of a small layer.
  if (!parallel) return columns(0, Nc);
  // Each thread takes one contiguous run of columns (a multiple of 16 wide).
  // Every output is one ascending-k chain wherever the split falls, so the
  // result does not depend on the thread count.
  run_team(get_num_threads(), [&](const TeamMember& member) {
    const int64_t units = (Nc + 15) / 16;
    columns(std::min(Nc, 16 * member.share_begin(units)),
            std::min(Nc, 16 * member.share_end(units)));
  });
}

// C[M, 1] (+)= op(A)[M, K] op(B)[K, 1] (a single-output layer: binary logistic
// regression, perceptron), computed as its transpose C^T = op(B)^T op(A)^T so
// the vector runs along M instead of wasting all but one lane of a tile.
template <class V, class T = typename V::T>
void gemv_column(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a, const T* B, int64_t ldb,
                 bool trans_b, int64_t M, int64_t K, bool accumulate) {
  // op(B)^T as a 1 x K row: contiguous when B is stored 1 x K, else strided.
  const bool row_strided = !trans_b;
  // op(A)^T is K x M: A^T stored K x M is already that; row-major A is its transpose.
  T* c = C;
  thread_local std::vector<T> column;
  if (ldc != 1) {
    if (static_cast<int64_t>(column.size()) < M) column.resize(M);
    c = column.data();
    if (accumulate)
      for (int64_t i = 0; i < M; ++i) c[i] = C[i * ldc];
  }
  gemv<V>(c, B, ldb, row_strided, A, lda, !trans_a, M, K, accumulate);
  if (ldc != 1)
    for (int64_t i = 0; i < M; ++i) C[i * ldc] = c[i];
}

// ------------------------------------------------------------------ driver
template <class T>
struct GemmArgs {
  T* C;
  int64_t ldc;
  const T* A;
  int64_t lda;
  bool trans_a;
  const T* B;
  int64_t ldb;
  bool trans_b;
  int64_t M, Nc, K;
  bool accumulate;
};

// How a row tile reads op(A): always in place. Packing A into [k][mr] panels
// measured slower on the MLP shapes than broadcasting straight from the rows
// (the panel of MR rows x K stays in L1/L2 across the column slivers anyway).
enum class AMode {
  in_place,     // A^T stored K x M: the mr values of one k are adjacent
  row_strided,  // row-major A: one stream per row
};

// n values from a reused buffer, starting on a 64-byte line so that no
// full-vector load of a packed sliver straddles two cache lines.
template <class T>
inline T* grow(std::vector<T>& buf, int64_t n) {
  constexpr int64_t kLineValues = 64 / sizeof(T);
  if (static_cast<int64_t>(buf.size()) < n + kLineValues) buf.resize(n + kLineValues);
  const auto addr = reinterpret_cast<std::uintptr_t>(buf.data());
  const auto offset = ((64 - addr % 64) % 64) / sizeof(T);
  return buf.data() + offset;
}

// The work of one call, shared by all threads of the region.
template <class V, int NV>
struct Plan {
  using T = typename V::T;
  static constexpr int MR = Tiles<V, NV, false>::kRows;
  static constexpr int NR = NV * V::kLanes;
  const GemmArgs<T>& g;
  T* b_packed;  // nullptr: read B in place
  AMode a_mode;
  bool pack_a;  // copy each row tile's A block into a contiguous panel first
  int64_t n_row_tiles, n_slivers, col_blocks, kc;

  const T* sliver(int64_t s, int64_t* step) const {
    if (b_packed != nullptr) {
      *step = NR;
      return b_packed + s * NR * g.K;
    }
    *step = g.ldb;
    return g.B + s * NR;
  }

  void pack_b(int64_t s) const {
    const int64_t j0 = s * NR;
    pack_b_sliver<NR>(b_packed + s * NR * g.K, g.B, g.ldb, g.trans_b, j0,
                      std::min<int64_t>(NR, g.Nc - j0), g.K);
  }

  template <bool kRowStrideA>
  static TileFn<T> pick(int mr, bool edge, bool masked_loads) {
    using Set = Tiles<V, NV, kRowStrideA>;
    return !edge ? Set::full[mr - 1] : masked_loads ? Set::edge_masked[mr - 1] : Set::edge[mr - 1];
  }

  // One row tile against one block of column slivers. Items run block-major,
  // so consecutive items of a thread reuse the same L2-sized block of B.
  void run_item(int64_t item) const {
    const int64_t cb = item / n_row_tiles, rt = item % n_row_tiles;
    const int64_t s_begin = cb * n_slivers / col_blocks;
    const int64_t s_end = (cb + 1) * n_slivers / col_blocks;
    const int64_t i0 = rt * MR;
    const int mr = static_cast<int>(std::min<int64_t>(MR, g.M - i0));
    const T* a;
    int64_t a_rs = 1, a_cs;
    if (a_mode == AMode::in_place)
      a = g.A + i0, a_cs = g.lda;
    else
      a = g.A + i0 * g.lda, a_rs = g.lda, a_cs = 1;
    // K in blocks of kc so the A panel of a block stays in L1 across the
    // slivers; the blocking depends only on K, never on the thread count.
    for (int64_t k0 = 0; k0 < g.K; k0 += kc) {
      const int64_t kn = std::min(kc, g.K - k0);
      const bool accumulate = g.accumulate || k0 > 0;
      const T* a_block = a + k0 * a_cs;
      int64_t block_rs = a_rs, block_cs = a_cs;
      bool row_strided = a_mode == AMode::row_strided;
      if (pack_a) {
        a_block = pack_a_panel(a_block, a_cs, mr, kn);
        block_rs = 1, block_cs = mr, row_strided = false;
      }
      for (int64_t s = s_begin; s < s_end; ++s) {
        const int64_t j0 = s * NR;
        const int ncols = static_cast<int>(std::min<int64_t>(NR, g.Nc - j0));
        int64_t b_step;
        const T* b = sliver(s, &b_step);
        const bool edge = ncols != NR, masked_loads = b_packed == nullptr;
        TileFn<T> fn =
            row_strided ? pick<true>(mr, edge, masked_loads) : pick<false>(mr, edge, masked_loads);
        fn(g.C + i0 * g.ldc + j0, g.ldc, a_block, block_rs, block_cs, b + k0 * b_step, b_step, kn,
           ncols, accumulate);
      }
    }
  }

  // The mr x kn block of a stored A^T at a (row stride a_cs) as one
  // contiguous [k][mr] panel in this thread's buffer: the micro-kernel then
  // reads one sequential stream instead of kn rows, each on a line (and soon
  // a page) of its own. Same values in the same order: the products are bit
  // for bit those of the in-place read.
  static const T* pack_a_panel(const T* a, int64_t a_cs, int mr, int64_t kn) {
    thread_local std::vector<T> panel_buf;
    T* panel = grow(panel_buf, int64_t(MR) * kn);
    if (mr == MR)  // a fixed-size copy: vector moves, not a libc call per 48 bytes
      for (int64_t k = 0; k < kn; ++k) std::memcpy(panel + k * MR, a + k * a_cs, sizeof(T) * MR);
    else
      for (int64_t k = 0; k < kn; ++k) std::memcpy(panel + k * mr, a + k * a_cs, sizeof(T) * mr);
    return panel;
  }
};

// Whether each row tile copies its block of op(A) into a panel first: for a
// stored A^T (the dW products, A^T dZ) whose rows are long, where every k of
// an in-place read lands on another cache line and soon another page, and the
// panel is reused by at least two slivers. Measured on the 784-256-128-10
// shapes (AVX-512, one thread): dW of 784 x 1024 x 256 from 53-55% of the FMA
// peak to 60-61%. Packing row-major A (the forward) measured slower (64% to
// 57%), and a stored A^T with short rows (lda 10) is contiguous already.
template <class T>
bool pack_a_pays(const GemmArgs<T>& g, int64_t n_slivers) {
  return g.trans_a && g.lda >= 64 && n_slivers >= 2;
}

template <class V, int NV>
void gemm_tiles(const GemmArgs<typename V::T>& g) {
  using T = typename V::T;
  using P = Plan<V, NV>;
  const int64_t n_row_tiles = (g.M + P::MR - 1) / P::MR;
  const int64_t n_slivers = (g.Nc + P::NR - 1) / P::NR;
  const bool parallel = g.M * g.Nc * g.K >= kMinParallelMacs;
  const int64_t threads = parallel ? get_num_threads() : 1;
  // Column blocks: enough that one block of B (K x columns) stays in about
  // half of a 1 MiB L2 while a thread walks its row tiles, and enough that
  // every thread gets columns of its own whenever there are two slivers per
  // thread (or few row tiles). With its own columns a thread uses only the
  // slivers it packed itself: split by rows, each thread read half of the
  // packed B from the other core's cache, and a 128 x 256 x 128 product on
  // two threads ran at 29% of their FMA peak against 54% split by columns.
  const int64_t packed_b_bytes = g.K * n_slivers * P::NR * int64_t(sizeof(T));
  const int64_t l2_blocks = (packed_b_bytes + (kL2BlockBytes - 1)) / kL2BlockBytes;
  // A short K (an outer product, the dA of a 10-output layer, the dW of a
  // batch of 32) makes all of packed op(B) small enough for every core to
  // hold a copy: there threads take whole row ranges instead, each writing
  // its own contiguous stretch of C and packing each A panel once. Measured
  // on two threads (Zen 4, native bench, medians of 5): 1024 x 1 x 784 from
  // 10 to 38 GFLOP/s (split by columns it ran at half the speed of one
  // thread), the dW 784 x 32 x 256 from 139 to 171.
  const bool small_b = packed_b_bytes <= kSmallBBytes;
  const int64_t thread_blocks =
      !small_b && (n_slivers >= 2 * threads || n_row_tiles < 4 * threads) ? threads : 1;
  const int64_t col_blocks =
      std::min<int64_t>(n_slivers, std::max<int64_t>(l2_blocks, thread_blocks));
  // B read in place when it is not transposed and few row tiles reuse it.
  const bool pack = g.trans_b || n_row_tiles > 4;
  const AMode a_mode = g.trans_a ? AMode::in_place : AMode::row_strided;
  thread_local std::vector<T> b_buf;
  T* b_packed = pack ? grow(b_buf, n_slivers * P::NR * g.K) : nullptr;
  const int64_t k_blocks = (g.K + V::kMaxKc - 1) / V::kMaxKc;
  const int64_t kc = (g.K + k_blocks - 1) / k_blocks;
  const bool pack_a = pack_a_pays(g, n_slivers);
  const P plan{g, b_packed, a_mode, pack_a, n_row_tiles, n_slivers, col_blocks, kc};
  const int64_t n_items = n_row_tiles * col_blocks;

  if (!parallel || threads == 1) {
    if (pack)
      for (int64_t s = 0; s < n_slivers; ++s) plan.pack_b(s);
    for (int64_t it = 0; it < n_items; ++it) plan.run_item(it);
    return;
  }
  // Slivers are packed in the column blocks' own split (run_item's), so with
  // one column block per thread each packs exactly the slivers it multiplies.
  run_team(static_cast<int>(threads), [&](const TeamMember& member) {
    if (pack) {
      const int64_t end = member.share_end(n_slivers);
      for (int64_t s = member.share_begin(n_slivers); s < end; ++s) plan.pack_b(s);
      member.barrier();
    }
    const int64_t end = member.share_end(n_items);
    for (int64_t it = member.share_begin(n_items); it < end; ++it) plan.run_item(it);
  });
}

template <class V>
void gemm_by_width(const GemmArgs<typename V::T>& g) {
  // Narrow outputs (a 10-class layer): one vector of columns, twice the rows.
  if (g.Nc <= V::kLanes) return gemm_tiles<V, 1>(g);
  gemm_tiles<V, 2>(g);
}

// Whether C = A^T op(B) (M x Nc, few columns, many rows) runs better as C^T,
// judged by a rough occupancy of the register tiles each way. Directly, the
// Nc columns fill ceil(Nc / L) vectors of every tile. Transposed, M runs
// along 2-vector slivers and the Nc outputs become the tile's rows (an edge
// tile with fewer rows has fewer FMA chains in flight).
template <class V>
bool transpose_pays(int64_t M, int64_t Nc) {
  constexpr int64_t L = V::kLanes;
  if (Nc >= 2 * L || M < 4 * L) return false;
  auto filled = [](int64_t n, int64_t step) {
    return double(n) / double((n + step - 1) / step * step);
  };
  const double direct = filled(Nc, Nc <= L ? L : 2 * L);
  const double transposed = filled(M, 2 * L) * filled(Nc, V::kRows2);
  return transposed > 1.15 * direct;  // the margin pays for writing C^T back into C
}

// C = A^T op(B) with few columns (the dW of a 10-output layer, A^T stored
// K x M) pads its columns to whole vectors (10 outputs in 16 lanes);
// C^T = op(B)^T A runs M along the vectors instead, reading A in place as the
// B operand. Every element is the same ascending-k FMA chain as the direct
// product (a*b commutes inside an FMA), so results are identical to it, bit
// for bit.
template <class V>
void gemm_transposed(const GemmArgs<typename V::T>& g) {
  using T = typename V::T;
  thread_local std::vector<T> ct_buf;
  T* ct = grow(ct_buf, g.Nc * g.M);
  if (g.accumulate)
    for (int64_t i = 0; i < g.M; ++i)
      for (int64_t j = 0; j < g.Nc; ++j) ct[j * g.M + i] = g.C[i * g.ldc + j];
  // op(B)^T: B itself read with the opposite transpose flag; op(A)^T = A (K x M).
  const GemmArgs<T> t{ct,    g.M,   g.B,  g.ldb, !g.trans_b, g.A,
                      g.lda, false, g.Nc, g.M,   g.K,        g.accumulate};
  gemm_by_width<V>(t);
  for (int64_t i = 0; i < g.M; ++i)
    for (int64_t j = 0; j < g.Nc; ++j) g.C[i * g.ldc + j] = ct[j * g.M + i];
}

// C[M,Nc] = beta C + op(A)[M,K] op(B)[K,Nc], beta 0 or 1 (others are folded into C first).
template <class V, class T = typename V::T>
void gemm_packed(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a, const T* B, int64_t ldb,
                 bool trans_b, int64_t M, int64_t Nc, int64_t K, T beta) {
  if (M <= 0 || Nc <= 0) return;
  if (beta != T(0) && beta != T(1)) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < Nc; ++j) C[i * ldc + j] *= beta;
    beta = T(1);
  }
  if (K <= 0) {
    if (beta == T(0))
      for (int64_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, sizeof(T) * Nc);
    return;
  }
  // A vector stored with unit stride reads the same as a row or as a column;
  // take whichever layout keeps the vector loops contiguous.
  if (!trans_b && Nc == 1 && ldb == 1) trans_b = true, ldb = K;
  if (trans_b && K == 1 && ldb == 1) trans_b = false, ldb = Nc;
  if (!trans_a && K == 1 && lda == 1) trans_a = true, lda = M;
  const bool accumulate = beta == T(1);
  if (M == 1) return gemv<V>(C, A, lda, trans_a, B, ldb, trans_b, Nc, K, accumulate);
  if (Nc == 1) return gemv_column<V>(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, K, accumulate);
  const GemmArgs<T> g{C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, accumulate};
  if (trans_a && transpose_pays<V>(M, Nc)) return gemm_transposed<V>(g);
  gemm_by_width<V>(g);
}

}  // namespace
}  // namespace fastmlp

// Fused batch-1 training kernels (float32 and float64), written once and
// compiled per instruction set, the same way as the packed GEMM: each isa/<isa>.cpp includes this
// header under its own compiler flags and puts the functions in its kernel
// table. Everything here has internal linkage (anonymous namespace), so the
// copies of different instruction sets never merge at link time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels.h"
#include "ops/optim_step.h"
#include "thread_team.h"

namespace fastmlp {
namespace {

// Elements of work below which one thread is faster than two (a team run
// costs 0.1-0.4 us, one cache-line round trip and the wait for the slower
// member; a 256-wide row update costs ~50 ns).
constexpr int64_t kMinParallelElements = 1 << 15;

// Batch-of-one kernels walk the weights in fixed blocks of rows. The forward
// and the update hand the same blocks to the same threads (for_each_block), so
// each thread keeps touching the same rows, closer to its own core (layer 1 of
// a 784-256 net is 1.6 MB of weights plus velocity: too big for one L2).
// Fixed blocks, not per-thread chunks, also keep the forward's summation order
// independent of the thread count.
constexpr int64_t kRowsPerBlock = kSingleExampleRowsPerBlock;

int64_t row_blocks(int64_t I) { return (I + kRowsPerBlock - 1) / kRowsPerBlock; }

// body(blk) for every row block of an I x O layer; threads only for layers of
// kMinParallelElements or more. With threads, thread t of T takes blocks
// [t B / T, (t + 1) B / T): the same run in the forward and in the update, and
// the short last block on the last thread (784 rows = 12 x 64 + 16 split 384 /
// 400, where an even-chunk static schedule gave one thread 448 and the other
// 336, and the first kept the second waiting).
template <class Body>
void for_each_block(int64_t I, int64_t O, const Body& body) {
  const int64_t blocks = row_blocks(I);
  if (I * O >= kMinParallelElements && get_num_threads() > 1) {
    run_team(get_num_threads(), [&](const TeamMember& member) {
      const int64_t end = member.share_end(blocks);
      for (int64_t blk = member.share_begin(blocks); blk < end; ++blk) body(blk);
    });
    return;
  }
  for (int64_t blk = 0; blk < blocks; ++blk) body(blk);
}

#if defined(_MSC_VER) && !defined(__clang__)
#define FASTMLP_PLAIN_LANES 1
#endif

// 64 bytes of T as one vector: 16 floats or 8 doubles, one register on
// AVX-512, split into two (AVX2) or four (SSE2) by the compiler, so the same
// source serves every ISA and both dtypes.
template <typename T>
constexpr int kLanes = 64 / int(sizeof(T));

#ifdef FASTMLP_PLAIN_LANES
// MSVC has no GCC vector extensions: the same lanes as a plain array, with
// the same per-lane arithmetic, left to the compiler's auto-vectorizer
// (/arch:AVX2, /arch:AVX512). Define FASTMLP_PLAIN_LANES to build this form
// with another compiler.
template <typename T>
struct Lanes {
  T lane[kLanes<T>];
  T operator[](int k) const { return lane[k]; }
};

template <typename T>
inline Lanes<T> operator+(const Lanes<T>& a, const Lanes<T>& b) {
  Lanes<T> r;
  for (int k = 0; k < kLanes<T>; ++k) r.lane[k] = a.lane[k] + b.lane[k];
  return r;
}

template <typename T>
inline void axpy_lanes(Lanes<T>& acc, T x, const T* p) {
  for (int k = 0; k < kLanes<T>; ++k) acc.lane[k] += x * p[k];
}

template <typename T>
inline void fma_lanes(Lanes<T>& acc, const T* p, const T* q) {
  for (int k = 0; k < kLanes<T>; ++k) acc.lane[k] += p[k] * q[k];
}
#else
template <typename T>
struct LaneVector {
  typedef T type __attribute__((vector_size(64)));
};
template <typename T>
using Lanes = typename LaneVector<T>::type;

// acc += x * p[0:lanes]. Vectors travel by reference, never by value: a
// by-value 64-byte vector would change the calling convention between ISAs.
template <typename T>
inline void axpy_lanes(Lanes<T>& acc, T x, const T* p) {
  Lanes<T> v;
  std::memcpy(&v, p, sizeof v);
  acc += x * v;
}

// acc += p[0:lanes] * q[0:lanes]
template <typename T>
inline void fma_lanes(Lanes<T>& acc, const T* p, const T* q) {
  Lanes<T> a, b;
  std::memcpy(&a, p, sizeof a);
  std::memcpy(&b, q, sizeof b);
  acc += a * b;
}
#endif

template <typename T>
inline void store_lanes(T* p, const Lanes<T>& v) {
  std::memcpy(p, &v, sizeof v);
}

// sum over o of w[o] d[o], in four vector partial sums. Written out because
// gcc 12 compiles the `omp simd reduction` form of this loop (inside the
// update's parallel lambda) as one scalar chain, one FMA latency per element:
// that chain was a quarter of all samples of a 2-thread batch-1 run on a
// 784-256-128-10 net.
// The order of the sum depends only on O, never on the thread count.
template <typename T>
inline T dot_row(const T* w, const T* d, int64_t O) {
  constexpr int L = kLanes<T>;
  Lanes<T> acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {};
  int64_t o = 0;
  for (; o + 4 * L <= O; o += 4 * L) {
    fma_lanes<T>(acc0, w + o, d + o);
    fma_lanes<T>(acc1, w + o + L, d + o + L);
    fma_lanes<T>(acc2, w + o + 2 * L, d + o + 2 * L);
    fma_lanes<T>(acc3, w + o + 3 * L, d + o + 3 * L);
  }
  for (; o + L <= O; o += L) fma_lanes<T>(acc0, w + o, d + o);
  const Lanes<T> sum = (acc0 + acc1) + (acc2 + acc3);
  T total = T(0);
  for (int k = 0; k < L; ++k) total += sum[k];
  for (; o < O; ++o) total += w[o] * d[o];
  return total;
}

// partial[O] = sum over rows i in [begin, end) with x[i] != 0 of x[i] W[i, :].
// Columns go four vectors at a time with the sums held in registers across
// the rows, so each weight is loaded once and each partial stored once.
template <typename T>
void forward_block(T* partial, const T* x, const T* W, int64_t begin, int64_t end, int64_t O) {
  constexpr int L = kLanes<T>;
  int64_t o0 = 0;
  for (; o0 + 4 * L <= O; o0 += 4 * L) {
    Lanes<T> acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {};
    for (int64_t i = begin; i < end; ++i) {
      const T xi = x[i];
      if (xi == T(0)) continue;  // ReLU zeros and blank pixels add nothing
      const T* w = W + i * O + o0;
      axpy_lanes<T>(acc0, xi, w);
      axpy_lanes<T>(acc1, xi, w + L);
      axpy_lanes<T>(acc2, xi, w + 2 * L);
      axpy_lanes<T>(acc3, xi, w + 3 * L);
    }
    store_lanes<T>(partial + o0, acc0);
    store_lanes<T>(partial + o0 + L, acc1);
    store_lanes<T>(partial + o0 + 2 * L, acc2);
    store_lanes<T>(partial + o0 + 3 * L, acc3);
  }
  for (int64_t o = o0; o < O; ++o) partial[o] = T(0);
  if (o0 == O) return;
  for (int64_t i = begin; i < end; ++i) {
    const T xi = x[i];
    if (xi == T(0)) continue;
    const T* w = W + i * O;
    for (int64_t o = o0; o < O; ++o) partial[o] += xi * w[o];
  }
}

// A batch of one example, forward through one dense layer (no bias):
//   z[O] = x[I] W[I,O], summed per row block into partial[blocks, O], then
//   over blocks in order. x == nullptr means the partial sums are already
//   there (the previous update computed them): only the last step runs.
template <typename T>
void dense_forward_one(T* z, T* partial, const T* x, const T* W, int64_t I, int64_t O) {
  const int64_t blocks = row_blocks(I);
  if (x != nullptr) {
    for_each_block(I, O, [&](int64_t blk) {
      forward_block<T>(partial + blk * O, x, W, blk * kRowsPerBlock,
                       std::min(I, (blk + 1) * kRowsPerBlock), O);
    });
  }
  for (int64_t o = 0; o < O; ++o) z[o] = partial[o];
  for (int64_t blk = 1; blk < blocks; ++blk) {
    const T* p = partial + blk * O;
#pragma omp simd
    for (int64_t o = 0; o < O; ++o) z[o] += p[o];
  }
}

// A batch of one example, one dense layer, backward and update in one pass
// over the weights (the weights are read once instead of three times):
//   da_prev[I] = W[I,O] delta[O]   with W before the update; skipped if null
//   W[i,o]    <- step(W[i,o], g = a_prev[i] delta[o] + l2 W[i,o])
//   b[o]      <- step(b[o],   g = delta[o])
// and, when next_x is given, the next example's forward partial sums with the
// updated rows while they are still in registers (next_partial as in
// dense_forward_one, same blocks and order, so the same bits), which saves
// the next forward its own pass over W.
// With layer.freeze_bias the bias and its state are left as they are.
// Rows are disjoint per thread, so the result does not depend on the thread count.
template <typename T>
void dense_backward_update_one(const DenseLayerState<T>& layer, const SingleExampleSignals<T>& io,
                               const UpdateStep<T>& update) {
  T* const W = layer.W;
  T* const Wm = layer.W_m;
  T* const Wv = layer.W_v;
  const int64_t I = layer.I, O = layer.O;
  const T* const a_prev = io.a_prev;
  const T* const delta = io.delta;
  T* const da_prev = io.da_prev;
  const T* const next_x = io.next_x;
  T* const next_partial = io.next_partial;
  const T l2 = update.l2;
  with_optimizer_step<T>(update.cfg, update.t, [&](const auto& step) {
    for_each_block(I, O, [&](int64_t blk) {
      // A private copy keeps the step's constants in registers: through the
      // shared reference they were reloaded after every store to w and v.
      const auto st = step;
      const int64_t end = std::min(I, (blk + 1) * kRowsPerBlock);
      T* p = next_x != nullptr ? next_partial + blk * O : nullptr;
      if (p != nullptr)
        for (int64_t o = 0; o < O; ++o) p[o] = T(0);
      for (int64_t i = blk * kRowsPerBlock; i < end; ++i) {
        T* w = W + i * O;
        T* m = Wm + i * O;
        T* v = Wv + i * O;
        const T a = a_prev[i];
        if (da_prev != nullptr) da_prev[i] = dot_row<T>(w, delta, O);
        if (l2 == T(0)) {
#pragma omp simd
          for (int64_t o = 0; o < O; ++o) st(w[o], m[o], v[o], a * delta[o]);
        } else {
#pragma omp simd
          for (int64_t o = 0; o < O; ++o) st(w[o], m[o], v[o], a * delta[o] + l2 * w[o]);
        }
        if (p != nullptr && next_x[i] != T(0)) {
          const T xi = next_x[i];
#pragma omp simd
          for (int64_t o = 0; o < O; ++o) p[o] += xi * w[o];
        }
      }
    });
    if (layer.freeze_bias) return;
    T* const b = layer.b;
    T* const bm = layer.b_m;
    T* const bv = layer.b_v;
#pragma omp simd
    for (int64_t o = 0; o < O; ++o) step(b[o], bm[o], bv[o], delta[o]);
  });
}

}  // namespace
}  // namespace fastmlp

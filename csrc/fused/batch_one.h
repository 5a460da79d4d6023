// Fused float32 training kernels, written once and compiled per instruction
// set, the same way as the packed GEMM: each isa/<isa>.cpp includes this
// header under its own compiler flags and puts the functions in its kernel
// table. Everything here has internal linkage (anonymous namespace), so the
// copies of different instruction sets never merge at link time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels.h"
#include "ops/optim_step.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastmlp {
namespace {

// Elements of work below which one thread is faster than two (fork/join costs
// a few microseconds; a 256-wide row update costs ~50 ns).
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
#ifdef _OPENMP
  if (I * O >= kMinParallelElements && get_num_threads() > 1) {
#pragma omp parallel
    {
      const int64_t T = omp_get_num_threads(), t = omp_get_thread_num();
      for (int64_t blk = t * blocks / T; blk < (t + 1) * blocks / T; ++blk) body(blk);
    }
    return;
  }
#else
  (void)O;
#endif
  for (int64_t blk = 0; blk < blocks; ++blk) body(blk);
}

#if defined(_MSC_VER) && !defined(__clang__)
#define FASTMLP_PLAIN_LANES 1
#endif

#ifdef FASTMLP_PLAIN_LANES
// MSVC has no GCC vector extensions: the same 16 lanes as a plain array, with
// the same per-lane arithmetic, left to the compiler's auto-vectorizer
// (/arch:AVX2, /arch:AVX512). Define FASTMLP_PLAIN_LANES to build this form
// with another compiler.
struct Lanes16 {
  float lane[16];
  float operator[](int k) const { return lane[k]; }
};

inline Lanes16 operator+(const Lanes16& a, const Lanes16& b) {
  Lanes16 r;
  for (int k = 0; k < 16; ++k) r.lane[k] = a.lane[k] + b.lane[k];
  return r;
}

inline void axpy16(Lanes16& acc, float x, const float* p) {
  for (int k = 0; k < 16; ++k) acc.lane[k] += x * p[k];
}

inline void fma16(Lanes16& acc, const float* p, const float* q) {
  for (int k = 0; k < 16; ++k) acc.lane[k] += p[k] * q[k];
}
#else
// 16 floats as one GCC vector: one register on AVX-512, split into two (AVX2)
// or four (SSE2) by the compiler, so the same source serves every ISA.
typedef float Lanes16 __attribute__((vector_size(64)));

// acc += x * p[0:16]. Vectors travel by reference, never by value: a
// by-value 64-byte vector would change the calling convention between ISAs.
inline void axpy16(Lanes16& acc, float x, const float* p) {
  Lanes16 v;
  std::memcpy(&v, p, sizeof v);
  acc += x * v;
}

// acc += p[0:16] * q[0:16]
inline void fma16(Lanes16& acc, const float* p, const float* q) {
  Lanes16 a, b;
  std::memcpy(&a, p, sizeof a);
  std::memcpy(&b, q, sizeof b);
  acc += a * b;
}
#endif

inline void store16(float* p, const Lanes16& v) { std::memcpy(p, &v, sizeof v); }

// sum over o of w[o] d[o], in four 16-lane partial sums. Written out because
// gcc 12 compiles the `omp simd reduction` form of this loop (inside the
// update's parallel lambda) as one scalar chain, one FMA latency per element:
// that chain was a quarter of all samples of a 2-thread batch-1 run on a
// 784-256-128-10 net.
// The order of the sum depends only on O, never on the thread count.
inline float dot_row(const float* w, const float* d, int64_t O) {
  Lanes16 acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {};
  int64_t o = 0;
  for (; o + 64 <= O; o += 64) {
    fma16(acc0, w + o, d + o);
    fma16(acc1, w + o + 16, d + o + 16);
    fma16(acc2, w + o + 32, d + o + 32);
    fma16(acc3, w + o + 48, d + o + 48);
  }
  for (; o + 16 <= O; o += 16) fma16(acc0, w + o, d + o);
  const Lanes16 sum = (acc0 + acc1) + (acc2 + acc3);
  float total = 0.f;
  for (int k = 0; k < 16; ++k) total += sum[k];
  for (; o < O; ++o) total += w[o] * d[o];
  return total;
}

// partial[O] = sum over rows i in [begin, end) with x[i] != 0 of x[i] W[i, :].
// Columns go 64 at a time with the sums held in registers across the rows,
// so each weight is loaded once and each partial stored once.
void forward_block(float* partial, const float* x, const float* W, int64_t begin, int64_t end,
                   int64_t O) {
  int64_t o0 = 0;
  for (; o0 + 64 <= O; o0 += 64) {
    Lanes16 acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {};
    for (int64_t i = begin; i < end; ++i) {
      const float xi = x[i];
      if (xi == 0.f) continue;  // ReLU zeros and blank pixels add nothing
      const float* w = W + i * O + o0;
      axpy16(acc0, xi, w);
      axpy16(acc1, xi, w + 16);
      axpy16(acc2, xi, w + 32);
      axpy16(acc3, xi, w + 48);
    }
    store16(partial + o0, acc0);
    store16(partial + o0 + 16, acc1);
    store16(partial + o0 + 32, acc2);
    store16(partial + o0 + 48, acc3);
  }
  for (int64_t o = o0; o < O; ++o) partial[o] = 0.f;
  if (o0 == O) return;
  for (int64_t i = begin; i < end; ++i) {
    const float xi = x[i];
    if (xi == 0.f) continue;
    const float* w = W + i * O;
    for (int64_t o = o0; o < O; ++o) partial[o] += xi * w[o];
  }
}

// A batch of one example, forward through one dense layer (no bias):
//   z[O] = x[I] W[I,O], summed per row block into partial[blocks, O], then
//   over blocks in order. x == nullptr means the partial sums are already
//   there (the previous update computed them): only the last step runs.
void dense_forward_one(float* z, float* partial, const float* x, const float* W, int64_t I,
                       int64_t O) {
  const int64_t blocks = row_blocks(I);
  if (x != nullptr) {
    for_each_block(I, O, [&](int64_t blk) {
      forward_block(partial + blk * O, x, W, blk * kRowsPerBlock,
                    std::min(I, (blk + 1) * kRowsPerBlock), O);
    });
  }
  for (int64_t o = 0; o < O; ++o) z[o] = partial[o];
  for (int64_t blk = 1; blk < blocks; ++blk) {
    const float* p = partial + blk * O;
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
void dense_backward_update_one(const DenseLayerState& layer, const SingleExampleSignals& io,
                               const UpdateStep& update) {
  float* const W = layer.W;
  float* const Wm = layer.W_m;
  float* const Wv = layer.W_v;
  const int64_t I = layer.I, O = layer.O;
  const float* const a_prev = io.a_prev;
  const float* const delta = io.delta;
  float* const da_prev = io.da_prev;
  const float* const next_x = io.next_x;
  float* const next_partial = io.next_partial;
  const float l2 = update.l2;
  with_optimizer_step<float>(update.cfg, update.t, [&](const auto& step) {
    for_each_block(I, O, [&](int64_t blk) {
      // A private copy keeps the step's constants in registers: through the
      // shared reference they were reloaded after every store to w and v.
      const auto st = step;
      const int64_t end = std::min(I, (blk + 1) * kRowsPerBlock);
      float* p = next_x != nullptr ? next_partial + blk * O : nullptr;
      if (p != nullptr)
        for (int64_t o = 0; o < O; ++o) p[o] = 0.f;
      for (int64_t i = blk * kRowsPerBlock; i < end; ++i) {
        float* w = W + i * O;
        float* m = Wm + i * O;
        float* v = Wv + i * O;
        const float a = a_prev[i];
        if (da_prev != nullptr) da_prev[i] = dot_row(w, delta, O);
        if (l2 == 0.f) {
#pragma omp simd
          for (int64_t o = 0; o < O; ++o) st(w[o], m[o], v[o], a * delta[o]);
        } else {
#pragma omp simd
          for (int64_t o = 0; o < O; ++o) st(w[o], m[o], v[o], a * delta[o] + l2 * w[o]);
        }
        if (p != nullptr && next_x[i] != 0.f) {
          const float xi = next_x[i];
#pragma omp simd
          for (int64_t o = 0; o < O; ++o) p[o] += xi * w[o];
        }
      }
    });
    if (layer.freeze_bias) return;
    float* const b = layer.b;
    float* const bm = layer.b_m;
    float* const bv = layer.b_v;
#pragma omp simd
    for (int64_t o = 0; o < O; ++o) step(b[o], bm[o], bv[o], delta[o]);
  });
}

}  // namespace
}  // namespace fastmlp

// The flat-buffer optimizer update (float32 and float64), written once and compiled per
// instruction set (each isa/<isa>.cpp includes it under its own flags and puts
// it in its kernel table; internal linkage keeps the copies apart). Its
// reference twin is optimizer_update<T> (ops/optim.cpp): same formulas.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels.h"
#include "ops/optim_step.h"
#include "parallel_for.h"

namespace fastmlp {
namespace {

// The flat-buffer optimizer update (params, state, grads: [n]), vectorized
// for this instruction set and split over threads for large buffers.
template <typename T>
void optimizer_update_flat(T* params, T* m, T* v, const T* grads, int64_t n, const OptimConfig& cfg,
                           int64_t t) {
  with_optimizer_step<T>(cfg, t, [&](const auto& step) {
    // Elements below which one thread is faster than two (a team run costs
    // 0.1-0.4 us, and each thread then pulls the other's gradient lines).
    constexpr int64_t kMinParallelUpdate = sizeof(T) == 4 ? 1 << 15 : 1 << 20;
    constexpr int64_t kChunk = 4096;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    for_each_index(chunks, n >= kMinParallelUpdate, [&](int64_t c) {
      const int64_t end = std::min(n, (c + 1) * kChunk);
#pragma omp simd
      for (int64_t i = c * kChunk; i < end; ++i) step(params[i], m[i], v[i], grads[i]);
    });
  });
}

}  // namespace
}  // namespace fastmlp

// Activations as scalar op_* functions plugged into one forward loop and one
// backward loop, so adding an activation is adding two small functions.
#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "parallel_for.h"

namespace fastmlp {
namespace {

// ---- forward: a = g(z)
template <typename T>
inline T op_identity(T z, T) {
  return z;
}
// Comparisons become 0/1 values instead of branches: ReLU patterns are
// random, so a branch per element mispredicts half the time.
template <typename T>
inline T op_step(T z, T) {
  return static_cast<T>(z >= T(0));
}
template <typename T>
inline T op_sigmoid(T z, T) {
  // Two branches keep exp() from overflowing for large |z|.
  if (z >= T(0)) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}
template <typename T>
inline T op_tanh(T z, T) {
  return std::tanh(z);
}
template <typename T>
inline T op_relu(T z, T) {
  return z > T(0) ? z : T(0);
}
template <typename T>
inline T op_leaky_relu(T z, T slope) {
  return z > T(0) ? z : slope * z;
}
template <typename T>
inline T op_softplus(T z, T) {
  // log(1 + e^z) = max(z, 0) + log1p(e^-|z|): finite for every finite z.
  return std::max(z, T(0)) + std::log1p(std::exp(-std::abs(z)));
}

template <typename T>
inline T op_exp(T z, T) {
  return std::exp(z);
}

// ---- backward: g'(z) written through a = g(z)
template <typename T>
inline T dop_identity(T, T) {
  return T(1);
}
template <typename T>
inline T dop_step(T, T) {
  return T(0);
}
template <typename T>
inline T dop_sigmoid(T a, T) {
  return a * (T(1) - a);
}
template <typename T>
inline T dop_tanh(T a, T) {
  return T(1) - a * a;
}
template <typename T>
inline T dop_relu(T a, T) {
  return static_cast<T>(a > T(0));
}
// Valid for slope > 0 (a and z then share their sign); slope 0 is plain ReLU.
template <typename T>
inline T dop_leaky_relu(T a, T slope) {
  return a > T(0) ? T(1) : slope;
}
// softplus' = sigmoid(z) = 1 - e^-a.
template <typename T>
inline T dop_softplus(T a, T) {
  return -std::expm1(-a);
}

// exp' = exp = a.
template <typename T>
inline T dop_exp(T a, T) {
  return a;
}

// Elements below which a second thread costs more than it saves. A team run
// costs about one cache-line round trip (thread_team.h): at 1 << 14 instead
// of 1 << 16, a batch-128 epoch on two threads went 1.2% faster.
constexpr int64_t kMinParallelElements = 1 << 14;

template <typename T, T (*op)(T, T)>
void bias_map_rows(T* a, const T* bias, int64_t N, int64_t O, T slope) {
  for_each_index(N, N * O >= kMinParallelElements, [&](int64_t n) {
    T* row = a + n * O;
    if (bias != nullptr) {
      for (int64_t o = 0; o < O; ++o) row[o] = op(row[o] + bias[o], slope);
    } else {
      for (int64_t o = 0; o < O; ++o) row[o] = op(row[o], slope);
    }
  });
}

// Row-wise softmax with the max subtracted so exp() never overflows.
template <typename T>
void bias_softmax_rows(T* a, const T* bias, int64_t N, int64_t O) {
  for_each_index(N, N * O >= kMinParallelElements, [&](int64_t n) {
    T* row = a + n * O;
    if (bias != nullptr)
      for (int64_t o = 0; o < O; ++o) row[o] += bias[o];
    T max_z = row[0];
    for (int64_t o = 1; o < O; ++o) max_z = std::max(max_z, row[o]);
    T sum = 0;
    for (int64_t o = 0; o < O; ++o) {
      row[o] = std::exp(row[o] - max_z);
      sum += row[o];
    }
    const T inv = T(1) / sum;
    for (int64_t o = 0; o < O; ++o) row[o] *= inv;
  });
}

template <typename T, T (*dop)(T, T)>
void derivative_span(T* dz, const T* da, const T* a, int64_t n, T slope) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dz[i] = da[i] * dop(a[i], slope);
}

// Chunks go to threads; each chunk is a plain function call, because GCC does
// not vectorize the loop body of a combined `parallel for simd`.
template <typename T, T (*dop)(T, T)>
void derivative_map(T* dz, const T* da, const T* a, int64_t n, T slope) {
  constexpr int64_t kChunk = 1 << 14;
  if (n < kMinParallelElements) return derivative_span<T, dop>(dz, da, a, n, slope);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  for_each_index(chunks, true, [&](int64_t c) {
    const int64_t begin = c * kChunk;
    derivative_span<T, dop>(dz + begin, da + begin, a + begin, std::min(kChunk, n - begin), slope);
  });
}

template <typename T>
struct ActivationOps {
  void (*forward)(T*, const T*, int64_t, int64_t, T);
  void (*backward)(T*, const T*, const T*, int64_t, T);
};

// Indexed by Act; softmax's slot is empty (it has its own row-wise path, and
// its derivative is folded into the loss).
template <typename T>
const ActivationOps<T>& activation_table(Act act) {
  static const ActivationOps<T> table[] = {
      {bias_map_rows<T, op_identity<T>>, derivative_map<T, dop_identity<T>>},
      {bias_map_rows<T, op_step<T>>, derivative_map<T, dop_step<T>>},
      {bias_map_rows<T, op_sigmoid<T>>, derivative_map<T, dop_sigmoid<T>>},
      {bias_map_rows<T, op_tanh<T>>, derivative_map<T, dop_tanh<T>>},
      {bias_map_rows<T, op_relu<T>>, derivative_map<T, dop_relu<T>>},
      {bias_map_rows<T, op_leaky_relu<T>>, derivative_map<T, dop_leaky_relu<T>>},
      {bias_map_rows<T, op_softplus<T>>, derivative_map<T, dop_softplus<T>>},
      {nullptr, nullptr},
      {bias_map_rows<T, op_exp<T>>, derivative_map<T, dop_exp<T>>},
  };
  return table[static_cast<int>(act)];
}

}  // namespace

// a[N,O] = g(a + bias)
template <typename T>
void bias_activation_forward(T* a, const T* bias, int64_t N, int64_t O, Act act, T slope) {
  if (act == Act::softmax) return bias_softmax_rows(a, bias, N, O);
  activation_table<T>(act).forward(a, bias, N, O, slope);
}

// dz[n] = da[n] * g'(z[n]) from a[n] = g(z[n])
template <typename T>
void activation_backward(T* dz, const T* da, const T* a, int64_t n, Act act, T slope) {
  activation_table<T>(act).backward(dz, da, a, n, slope);
}

template void bias_activation_forward<float>(float*, const float*, int64_t, int64_t, Act, float);
template void bias_activation_forward<double>(double*, const double*, int64_t, int64_t, Act,
                                              double);
template void activation_backward<float>(float*, const float*, const float*, int64_t, Act, float);
template void activation_backward<double>(double*, const double*, const double*, int64_t, Act,
                                          double);

}  // namespace fastmlp

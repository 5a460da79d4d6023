// fastmlp kernels: declarations and the one shape legend.
//
// Shape legend (every matrix is row-major; ld* is the row stride in elements):
//   N   rows of a batch (examples)
//   I   inputs of a layer  (fan-in)
//   O   outputs of a layer (fan-out)
//   GEMM uses BLAS letters instead: C[M,Nc] = op(A)[M,K] op(B)[K,Nc].
//   A layer's forward is a GEMM with M = N, K = I, Nc = O.
//
// Rules: outputs first, then const inputs, then sizes; a gradient is d<name>.
// Kernels never allocate, throw or touch Python.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastmlp {

// ---------------------------------------------------------------- GEMM
// C = beta * C + op(A) op(B), with beta 0 (C is only written) or 1 (accumulate).
// op(A) is A or A^T (trans_a: A is stored K x M), likewise op(B) (trans_b: B is Nc x K).

// The plain triple loop: test oracle and fallback.
template <typename T>
void gemm_reference(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a,
                    const T* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc,
                    int64_t K, T beta);

// Instruction-set variants of the float32 GEMM, same contract as the reference.
// Each is free to use OpenMP, but only over disjoint tiles of C, and never splits
// K between threads, so every thread count gives bit-identical results.
void sgemm_baseline(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                    const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc,
                    int64_t K, float beta);
void sgemm_avx2(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc,
                int64_t K, float beta);
void sgemm_avx512(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                  const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc,
                  int64_t K, float beta);

enum class Isa : int { reference = 0, baseline = 1, avx2 = 2, avx512 = 3 };

// The one dispatch point. The active ISA is the best the CPU supports, unless
// FASTMLP_ISA=reference|baseline|avx2|avx512 or set_isa() asks for another.
Isa best_supported_isa();
bool isa_supported(Isa isa);
Isa active_isa();
void set_isa(Isa isa);  // callers check isa_supported first
const char* isa_name(Isa isa);

// The float32 GEMM of a named instruction set (the caller checks isa_supported).
void sgemm_with(Isa isa, float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K,
                float beta);

// float32 goes through the dispatch point; float64 (gradient checks) through
// a cache-blocked portable loop.
template <typename T>
void gemm(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a, const T* B,
          int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K, T beta);

// ---------------------------------------------------------------- threads
int get_num_threads();
void set_num_threads(int n);
// Nanoseconds for one cache line to go from one thread to another and back
// (two threads bouncing an atomic counter, best of three batches of
// round_trips); -1 without OpenMP or a second thread. A benchmark reads it to
// see whether its two threads share a cache (tens of ns) or not (hundreds).
double thread_round_trip_ns(int round_trips);

// ---------------------------------------------------------------- activations
enum class Act : int {
  identity = 0, step = 1, sigmoid = 2, tanh = 3, relu = 4, leaky_relu = 5,
  softplus = 6, softmax = 7
};

// a[N,O] = g(a + bias) in place, row by row (softmax is per row).
// `slope` is leaky ReLU's negative slope; other activations ignore it.
template <typename T>
void bias_activation_forward(T* a, const T* bias, int64_t N, int64_t O, Act act, T slope);

// dz[n] = da[n] * g'(z[n]), with g' written through a = g(z) (as scikit-learn
// does), so the forward never has to keep z. dz may alias da.
// Not for softmax: its derivative is folded into the loss.
template <typename T>
void activation_backward(T* dz, const T* da, const T* a, int64_t n, Act act, T slope);

// ---------------------------------------------------------------- losses
enum class Loss : int {
  squared_error = 0,             // any elementwise output activation
  binary_cross_entropy = 1,      // sigmoid output, computed from logits
  categorical_cross_entropy = 2, // softmax output, log-sum-exp
  perceptron = 3                 // step output, delta = h(x) - y
};

// Output stage fused with the loss, for a batch of N rows and O outputs.
// In:  z[N,O] the output layer's pre-activation (bias included), y[N,O] targets,
//      w[N] row weights or nullptr (= all ones), scale = 1 / (normalizer).
// Out: a[N,O] = g(z) (may alias z), dz[N,O] = dLoss/dz * scale * w_row.
// Returns the weighted loss summed over rows, times scale.
// Squared error is 0.5 * sum over outputs; cross-entropies sum over outputs.
template <typename T>
double loss_forward_backward(T* a, T* dz, const T* z, const T* y, const T* w,
                             int64_t N, int64_t O, Loss loss, Act out_act, T slope,
                             T scale);

// The loss alone (no delta), same conventions.
template <typename T>
double loss_forward(T* a, const T* z, const T* y, const T* w, int64_t N, int64_t O,
                    Loss loss, Act out_act, T slope, T scale);

// ---------------------------------------------------------------- optimizers
enum class Optim : int { sgd = 0, momentum = 1, nesterov = 2, adam = 3 };

struct OptimConfig {
  Optim kind = Optim::sgd;
  double learning_rate = 0.01;
  double momentum = 0.9;
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-8;
};

// One update step over a flat buffer of n parameters, with scikit-learn's
// formulas. velocity/m and v are optimizer state of the same length;
// t is the 1-based step count (Adam's bias correction).
template <typename T>
void optimizer_update(T* params, T* velocity_or_m, T* v, const T* grads, int64_t n,
                      const OptimConfig& cfg, int64_t t);

// ---------------------------------------------------------------- fused training kernels
// float32 only, compiled per instruction set (fused_kernels.inc) and picked
// by active_isa(). Their reference twins are the unfused kernels above.

// A batch of ONE example through one dense layer, backward and update fused:
// da_prev[I] = W[I,O] delta[O] (old W; skipped when da_prev is null), then
// every W[i,o] and b[o] takes an optimizer step with g = a_prev[i] delta[o]
// + l2 W[i,o] (g = delta[o] for b). Wm, Wv / bm, bv: optimizer state.
// With next_x (else null), also leaves the next example's forward partial
// sums in next_partial, exactly as dense_forward_one would.
void dense_backward_update_one(float* da_prev, float* next_partial, float* W, float* Wm,
                               float* Wv, float* b, float* bm, float* bv,
                               const float* a_prev, const float* delta, const float* next_x,
                               int64_t I, int64_t O, float l2, const OptimConfig& cfg,
                               int64_t t);

// A batch of ONE example through one dense layer, forward (bias not added):
// z[O] = x[I] W[I,O], in fixed row blocks so the sum order does not depend on
// the thread count. partial: scratch of dense_forward_one_scratch(I, O) floats.
// x == nullptr: the partial sums are already in `partial` (left there by
// dense_backward_update_one), only their sum is taken.
void dense_forward_one(float* z, float* partial, const float* x, const float* W, int64_t I,
                       int64_t O);
int64_t dense_forward_one_scratch(int64_t I, int64_t O);

// optimizer_update for float32, vectorized per ISA and threaded for large n.
void optimizer_update_fast(float* params, float* m, float* v, const float* grads, int64_t n,
                           const OptimConfig& cfg, int64_t t);

}  // namespace fastmlp

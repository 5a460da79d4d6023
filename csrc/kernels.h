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
void gemm_reference(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a, const T* B,
                    int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K, T beta);

// The portable cache-blocked loop: the baseline table's GEMM on targets
// without SSE2.
template <typename T>
void gemm_blocked(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a, const T* B, int64_t ldb,
                  bool trans_b, int64_t M, int64_t Nc, int64_t K, T beta);

// float32 and float64 go through the active kernel table (sgemm, dgemm).
template <typename T>
void gemm(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a, const T* B, int64_t ldb,
          bool trans_b, int64_t M, int64_t Nc, int64_t K, T beta);

// ---------------------------------------------------------------- threads
int get_num_threads();
void set_num_threads(int n);
// Nanoseconds for one cache line to go from one thread to another and back
// (two threads bouncing an atomic counter, best of three batches of
// round_trips, on the thread team); -1 without a second CPU or while the team is busy. A benchmark reads it to
// see whether its two threads share a cache (tens of ns) or not (hundreds).
double thread_round_trip_ns(int round_trips);

// ---------------------------------------------------------------- activations
enum class Act : int {
  identity = 0,
  step = 1,
  sigmoid = 2,
  tanh = 3,
  relu = 4,
  leaky_relu = 5,
  softplus = 6,
  softmax = 7,
  exp = 8  // output only, with the Poisson loss (a log link)
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
  squared_error = 0,              // any elementwise output activation
  binary_cross_entropy = 1,       // sigmoid output, computed from logits
  categorical_cross_entropy = 2,  // softmax output, log-sum-exp
  perceptron = 3,                 // step output, delta = h(x) - y
  poisson = 4,                    // exp output, half Poisson deviance, delta = e^z - y
  perceptron_hinge = 5            // step output, scikit-learn's Perceptron: targets 0/1 read as
                                  // s = -1/+1, loss max(0, -s z), delta = -s when s z <= 0
};

// Output stage fused with the loss, for a batch of N rows and O outputs.
// In:  z[N,O] the output layer's pre-activation (bias included), y[N,O] targets,
//      w[N] row weights or nullptr (= all ones), scale = 1 / (normalizer).
// Out: a[N,O] = g(z) (may alias z), dz[N,O] = dLoss/dz * scale * w_row.
// Returns the weighted loss summed over rows, times scale.
// Squared error is 0.5 * sum over outputs; cross-entropies and the Poisson
// deviance sum over outputs.
template <typename T>
double loss_forward_backward(T* a, T* dz, const T* z, const T* y, const T* w, int64_t N, int64_t O,
                             Loss loss, Act out_act, T slope, T scale);

// The loss alone (no delta), same conventions.
template <typename T>
double loss_forward(T* a, const T* z, const T* y, const T* w, int64_t N, int64_t O, Loss loss,
                    Act out_act, T slope, T scale);

// ---------------------------------------------------------------- sparse input
// The first layer's products when its input is a CSR matrix (the layers
// after it see dense activations). Row r's nonzeros are entries
// [indptr[r], indptr[r+1]) of indices / data, column indices ascending;
// indptr holds absolute positions, so rows [r0, r1) of a matrix are the view
// {indptr + r0, indices, data}.
template <typename T>
struct CsrRows {
  const int64_t* indptr = nullptr;
  const int64_t* indices = nullptr;
  const T* data = nullptr;
  CsrRows<T> from_row(int64_t r) const { return {indptr + r, indices, data}; }
};

// out[N,O] = X[N,I] W[I,O]: threads over rows; every output sums its row's
// nonzeros in column order.
template <typename T>
void csr_dense_forward(T* out, const CsrRows<T>& X, const T* W, int64_t N, int64_t O);
// dW[I,O] += X^T[I,N] delta[N,O] (the caller sets dW first: zeros, or the
// L2 term): threads over disjoint column blocks of dW; every entry adds the
// rows in order, so no result depends on the thread count.
template <typename T>
void csr_transpose_dense(T* dW, const CsrRows<T>& X, const T* delta, int64_t N, int64_t I,
                         int64_t O);
// Their plain reference twins (one thread, the same arithmetic per entry).
template <typename T>
void csr_dense_forward_reference(T* out, const CsrRows<T>& X, const T* W, int64_t N, int64_t O);
template <typename T>
void csr_transpose_dense_reference(T* dW, const CsrRows<T>& X, const T* delta, int64_t N, int64_t I,
                                   int64_t O);

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
// float32 only, compiled once per instruction set (fused/batch_one.h) and
// reached through the kernel table. Their reference twins are the unfused
// kernels above.

// One dense layer's parameters and optimizer state, inside the flat buffers.
template <typename T>
struct DenseLayerState {
  T* W;    // [I, O] weights
  T* W_m;  // [I, O] velocity (momentum, Nesterov) or first moment (Adam)
  T* W_v;  // [I, O] second moment (Adam)
  T* b;    // [O] bias
  T* b_m;  // [O]
  T* b_v;  // [O]
  int64_t I, O;
  bool freeze_bias;  // the update leaves b and its state untouched
};

// What one example brings to a layer's backward + update, and what it leaves.
template <typename T>
struct SingleExampleSignals {
  const T* a_prev;  // [I] the layer's input
  const T* delta;   // [O] dLoss/dz of the layer
  T* da_prev;       // [I] out: W delta with the old W; nullptr skips it (first layer)
  const T* next_x;  // [I] the next example's input, or nullptr
  T* next_partial;  // out with next_x: its forward partial sums, as dense_forward_one
};

// One optimizer step: the rule, its 1-based step count, and the L2 factor.
template <typename T>
struct UpdateStep {
  const OptimConfig& cfg;
  int64_t t;
  T l2;
};

// Row blocks of the batch-1 kernels: fixed, so sums never depend on the
// thread count; the forward's scratch holds one row of partial sums per block.
constexpr int64_t kSingleExampleRowsPerBlock = 64;
inline int64_t dense_forward_one_scratch(int64_t I, int64_t O) {
  return (I + kSingleExampleRowsPerBlock - 1) / kSingleExampleRowsPerBlock * O;
}

}  // namespace fastmlp

// Network: a stack of dense layers over flat buffers.
//
// Layer l (0-based here, l = 1..L in the docs) maps I_l inputs to O_l outputs:
//   z[l] = a[l-1] W[l] + b[l],  a[l] = g_l(z[l]),  W[l]: I_l x O_l, b[l]: O_l.
// All W and b live in one flat `params` buffer (W[0], b[0], W[1], b[1], ...);
// grads and optimizer state share that layout, so an optimizer step is one
// loop over one buffer.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "aligned.h"
#include "kernels.h"
#include "ops/l1_penalty.h"

namespace fastmlp {

// reduce_failed: a distributed step's reduction reported an error (it waits
// in the caller).
enum class EpochStatus : int { completed = 0, interrupted = 1, non_finite = 2, reduce_failed = 3 };

struct EpochResult {
  EpochStatus status = EpochStatus::completed;
  double loss = 0;            // mean loss over the rows trained (penalty included)
  int64_t rows = 0;           // rows whose batches were applied
  int64_t batches = 0;        // updates applied
  int64_t failed_batch = -1;  // the batch whose loss was not finite
};

// Thrown when a network's training lock is taken (another thread is training
// it); Python sees it as fastmlp.ModelBusyError, a RuntimeError.
class ModelBusyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Asked between batches: true stops the epoch (a pending Ctrl-C).
using StopCheck = std::function<bool()>;

// The step plan of a data-parallel fit (fastmlp.distributed). Every process
// runs `n_steps` steps per epoch, whatever its own row count (a process out
// of rows contributes zeros). Between backward and update the loop hands
// `sum` the step's gradients followed by kReduceSlots more values (the step's
// loss, this process's stop request); `sum` adds the buffers of every
// process in place and must leave the same bits on all of them (fastmlp
// reduces to one process, then broadcasts). It returns false when it failed.
template <typename T>
struct StepReduce {
  std::function<bool(T* buffer, int64_t n)> sum;
  const int64_t* global_rows = nullptr;  // [n_steps]: the rows of step s over all processes
  int64_t n_steps = 0;
  bool adds_penalty = true;  // the one process whose sums carry the L2 term
};
constexpr int64_t kReduceSlots = 2;  // after the gradients: step loss, stop request

// The network's input rows: dense [N, I_0] row-major, or CSR (a sparse X;
// only the first layer's products see it, as csr_* kernels).
template <typename T>
struct InputRows {
  const T* dense = nullptr;
  CsrRows<T> csr{};
  InputRows(const T* rows) : dense(rows) {}         // NOLINT: a dense pointer is the common case
  InputRows(const CsrRows<T>& rows) : csr(rows) {}  // NOLINT
  bool sparse() const { return dense == nullptr; }
  // Rows r, r + 1, ... of the same matrix (I: its columns).
  InputRows from_row(int64_t r, int64_t I) const {
    return sparse() ? InputRows(csr.from_row(r)) : InputRows(dense + r * I);
  }
};

// What every batch of an epoch shares: the data, the update rule, the stop check.
template <typename T>
struct EpochInputs {
  InputRows<T> X;  // [N, I_0]
  const T* Y;      // [N, O_last]
  const T* w;      // [N] row weights, or nullptr
  const OptimConfig& cfg;
  T l2;
  bool freeze_bias;  // biases keep their values (and their optimizer state)
  const StopCheck& stop;
};

// A running count over part of an epoch: the epoch's loops each fill one,
// and train_epoch adds them up.
struct EpochTally {
  EpochStatus status = EpochStatus::completed;
  double loss_sum = 0;  // sum over batches of (batch loss x rows)
  int64_t rows = 0;
  int64_t batches = 0;
  int64_t failed_batch = -1;  // counted from the start of the tally

  // Continues this tally with the one of the rows trained right after.
  void append(const EpochTally& later) {
    status = later.status;
    loss_sum += later.loss_sum;
    rows += later.rows;
    if (later.failed_batch >= 0) failed_batch = batches + later.failed_batch;
    batches += later.batches;
  }
};

template <typename T>
class Network {
 public:
  // sizes: I_0, O_0, O_1, ..., O_{L-1}; acts: one per layer; the last layer's
  // activation must agree with `loss` (checked at the boundary, not here).
  Network(std::vector<int64_t> sizes, std::vector<Act> acts, Loss loss, T slope);

  int64_t num_layers() const { return static_cast<int64_t>(acts_.size()); }
  int64_t fan_in(int64_t l) const { return sizes_[l]; }
  int64_t fan_out(int64_t l) const { return sizes_[l + 1]; }
  int64_t num_params() const { return static_cast<int64_t>(params_.size()); }
  int64_t w_offset(int64_t l) const { return w_offset_[l]; }
  int64_t b_offset(int64_t l) const { return w_offset_[l] + fan_in(l) * fan_out(l); }
  const std::vector<int64_t>& sizes() const { return sizes_; }
  const std::vector<Act>& activations() const { return acts_; }
  Loss loss_kind() const { return loss_; }
  T slope() const { return slope_; }

  AlignedVector<T>& params() { return params_; }
  AlignedVector<T>& grads() { return grads_; }
  AlignedVector<T>& optimizer_state(int which) { return which == 0 ? state_m_ : state_v_; }
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t t) { step_count_ = t; }
  void reset_optimizer();

  // Inverted dropout on the hidden layers while training: each step zeroes a
  // share rates[l] of the units of layer l's output and scales the others by
  // 1 / (1 - rates[l]); the output layer keeps every unit (its rate must be
  // 0), prediction and the plain loss use every unit. A mask is a pure
  // function of (seed, salt, step, layer, position in the batch), so no
  // result depends on the thread count.
  void set_dropout(std::vector<T> rates, uint64_t seed);
  const std::vector<T>& dropout_rates() const { return dropout_; }
  uint64_t dropout_seed() const { return dropout_seed_; }
  // Mixed into every mask: the ranks of a distributed fit draw different ones.
  void set_dropout_salt(uint64_t salt) { dropout_salt_ = salt; }
  bool has_dropout() const;

  // scikit-learn's L1 step (ops/l1_penalty.h) after every update of the
  // batch loop: u grows by learning_rate * l1 per update and every weight
  // (not the biases) is truncated towards zero. 0 turns it off. Its state
  // (u and each weight's q) lasts until reset_optimizer, as scikit-learn's
  // lasts for one fit or partial_fit. The fused kernels have no L1 step, so
  // l1 > 0 takes the batch loop; a distributed epoch refuses it.
  void set_l1(T l1) { l1_ = l1; }
  T l1() const { return l1_; }
  // scikit-learn's SGD intercept_decay (0.01 when it trains on sparse rows):
  // every bias gradient is multiplied by it before each update of the batch
  // loop (and its distributed twin). 1 turns it off; other values take the
  // batch loop, as the fused kernels have no such factor.
  void set_intercept_decay(T decay) { intercept_decay_ = decay; }
  T intercept_decay() const { return intercept_decay_; }
  // Training's batch products (the forward, dW and dA GEMMs of train_epoch and
  // gradients) with bfloat16 inputs and float32 sums (gemm/bf16.h); the
  // weights, optimizer and prediction stay float32, and so do one-row steps
  // (the fused batch-1 kernels are bound by memory traffic, not products) and
  // a sparse input's first layer. float32 networks only; throws
  // std::invalid_argument where the kernels cannot run.
  void set_bf16_products(bool on);
  bool bf16_products() const { return bf16_products_; }

  // out[N, O_last] = the network's output (probabilities for cross-entropy).
  // Safe to call from several threads at once: it uses its own scratch.
  void predict(T* out, const InputRows<T>& X, int64_t N) const;
  // out[N, O_last] = the output layer's z (before its activation); as predict.
  void logits(T* out, const InputRows<T>& X, int64_t N) const { forward_logits(out, X, N); }

  // Every z[l] and a[l] for a batch; z[l], a[l] point to N x O_l buffers.
  void forward_all(const std::vector<T*>& z, const std::vector<T*>& a, const T* X, int64_t N) const;

  // Mean loss on a batch (weights w[N] or nullptr), with the L2 penalty
  // 0.5 l2 ||W||^2 / N. No gradient. `divisor` replaces N as the divisor
  // (0: N): a distributed fit divides each process's sum by the rows of all.
  double loss(const InputRows<T>& X, const T* Y, const T* w, int64_t N, T l2,
              int64_t divisor = 0) const;

  // The same loss, and its gradient with respect to every parameter in grads().
  // mask_step >= 0: with the dropout masks training draws at that step (a
  // gradient check with fixed masks); -1: every unit.
  double gradients(const InputRows<T>& X, const T* Y, const T* w, int64_t N, T l2,
                   int64_t divisor = 0, int64_t mask_step = -1);

  // The L2 penalty 0.5 l2 ||W||^2 over every layer's weights (not the biases).
  double l2_penalty(T l2) const;

  // One epoch: batches of `batch_size` rows taken from X, Y (and w) in the
  // order given by `order[n_order]`; forward, loss, backward, update for each.
  // Between batches it asks `stop`; a batch whose loss is not finite stops
  // the epoch before its update and restores the weights and optimizer
  // state to the start of the epoch. With freeze_bias, no update changes a
  // bias or its optimizer state (the caller has set the biases, normally to
  // zero); the weights update exactly as without it.
  // A batch of one row (every batch at batch size 1, or the lone last row)
  // goes to the single-example loop (single_example.h) when the active kernel
  // table has the fused kernels; float64 and 'reference' take the batch loop.
  // With a step plan (`reduce`), the epoch runs reduce->n_steps steps, each
  // summed over every process between backward and update (train_steps);
  // the result's loss and rows are then those of all processes. A sparse X
  // takes the batch loop at every batch size. keep_start=false skips the
  // copy of the weights and optimizer state that a non-finite loss restores
  // (three more buffers of the parameters' size): the weights are then left
  // as the last finite step made them.
  EpochResult train_epoch(const InputRows<T>& X, const T* Y, const T* w, const int64_t* order,
                          int64_t n_order, int64_t batch_size, const OptimConfig& cfg, T l2,
                          const StopCheck& stop, bool freeze_bias = false,
                          const StepReduce<T>* reduce = nullptr, bool keep_start = true);

  // Held by anything that writes the weights (training), so two fits on one
  // network cannot interleave.
  std::mutex& train_mutex() { return train_mutex_; }

 private:
  void ensure_scratch(int64_t rows);
  void forward_logits(T* logits, const InputRows<T>& X, int64_t N) const;
  // The first layer's z[N, O_0] = X W[0] (no bias), dense or sparse.
  void first_layer_forward(T* z, const InputRows<T>& X, int64_t N) const;
  // scale: the loss and gradient divisor's inverse (1 / N in one process).
  double forward_loss(const InputRows<T>& X, const T* Y, const T* w, int64_t N, T l2, T scale);
  void backward(const InputRows<T>& X, int64_t N, T l2, T scale);
  // C[M,Nc] = op(A) op(B) for forward_loss and backward: the active table's
  // float32 GEMM, or its bfloat16-product one when bf16_products() is on.
  void training_gemm(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a, const T* B,
                     int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K) const;
  // Throws std::invalid_argument when bf16_products() is on but the active
  // kernel table cannot run them (set_isa may have changed it since).
  void check_bf16_kernels() const;
  // Layer l's output goes through a dropout mask in this forward pass.
  bool dropping(int64_t l) const {
    return mask_step_ >= 0 && l < num_layers() - 1 && dropout_[l] > T(0);
  }
  // dropped_buf_[l] = acts_buf_[l] * mask_buf_[l], the masks of step mask_step_.
  void drop_units(int64_t l, int64_t N);
  // The input of layer l > 0: the previous layer's output (after its mask).
  const T* layer_input(int64_t l) const;
  // A step with no rows of this process: grads() = the L2 term's gradient
  // (zero without it); returns the term's share of the step loss.
  double penalty_only(T l2, T scale);
  void update(const OptimConfig& cfg, bool freeze_bias);
  // The rows order[0, rows) of the epoch's data, read in place when they are
  // consecutive, else gathered into the scratch buffers.
  struct BatchRows {
    InputRows<T> X;
    const T *Y, *w;
  };
  BatchRows batch_rows(const EpochInputs<T>& in, const int64_t* idx, int64_t rows);
  // The CSR rows idx[0, rows) of X into the x_batch_indptr_ / indices / data buffers.
  void gather_csr_rows(const CsrRows<T>& X, const int64_t* idx, int64_t rows);
  // Batches of batch_size rows over order[0, n_order), the unfused path.
  EpochTally train_batches(const EpochInputs<T>& in, const int64_t* order, int64_t n_order,
                           int64_t batch_size);
  // The distributed twin of train_batches: plan.n_steps steps, each summed
  // over all processes before its update.
  EpochTally train_steps(const EpochInputs<T>& in, const int64_t* order, int64_t n_order,
                         int64_t batch_size, const StepReduce<T>& plan);

  std::vector<int64_t> sizes_;
  std::vector<Act> acts_;
  Loss loss_;
  T slope_;
  std::vector<int64_t> w_offset_;
  int64_t max_width_ = 0;

  // grads_ holds kReduceSlots values past the gradients: a distributed
  // step reduces gradients, loss and stop request in one buffer.
  AlignedVector<T> params_, grads_, state_m_, state_v_;
  int64_t step_count_ = 0;

  // Training scratch, sized for the largest batch seen: gathered rows, each
  // layer's activations, and two delta buffers used in turn.
  int64_t scratch_rows_ = 0;
  // Dropout: each layer's rate, the masks' seed and salt, the step whose
  // masks the next forward pass uses (-1: none), and per dropped layer its
  // mask (0 or 1 / (1 - rate)) and its masked output.
  std::vector<T> dropout_;
  uint64_t dropout_seed_ = 0, dropout_salt_ = 0;
  int64_t mask_step_ = -1;
  std::vector<AlignedVector<T>> mask_buf_, dropped_buf_;
  AlignedVector<T> x_batch_, y_batch_, w_batch_;
  // A sparse batch gathered as CSR: its row pointers, column indices and values.
  std::vector<int64_t> x_batch_indptr_, x_batch_indices_;
  std::vector<T> x_batch_data_;
  std::vector<AlignedVector<T>> acts_buf_;
  AlignedVector<T> delta_a_, delta_b_;
  AlignedVector<T> backup_params_, backup_m_, backup_v_;
  // The L1 step: its coefficient, the penalty owed so far and, per weight,
  // what it has taken (params_' layout; biases unused).
  T l1_ = T(0);
  T intercept_decay_ = T(1);
  bool bf16_products_ = false;
  double l1_owed_ = 0;
  std::vector<T> l1_taken_;
  std::vector<int64_t> l1_columns_;  // a sparse batch's stored columns, each once
  std::vector<char> l1_seen_;        // [I_0] marks for collecting them
  ObjectiveNorms l1_norms_;          // what scikit-learn's objective sees (ops/l1_penalty.h)
  // The step's penalty terms for the loss, from l1_norms_.
  double l1_objective_terms(T l2, T scale);
  // After an update: the norms scikit-learn keeps, then the truncation.
  // `moved`: this step's rows changed the weights (some output delta != 0).
  // On sparse rows X (the batch's N rows), only the first layer's weights of
  // the batch's stored columns are truncated, as scikit-learn's SGD truncates
  // only a sparse sample's nonzero features.
  void l1_step(double learning_rate, T l2, T scale, bool moved, const InputRows<T>& X, int64_t N);

  std::mutex train_mutex_;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace fastmlp

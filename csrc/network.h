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
#include <vector>

#include "kernels.h"

namespace fastmlp {

enum class EpochStatus : int { completed = 0, interrupted = 1, non_finite = 2 };

struct EpochResult {
  EpochStatus status = EpochStatus::completed;
  double loss = 0;          // mean loss over the rows trained (penalty included)
  int64_t rows = 0;         // rows whose batches were applied
  int64_t batches = 0;      // updates applied
  int64_t failed_batch = -1;  // the batch whose loss was not finite
};

// Asked between batches: true stops the epoch (a pending Ctrl-C).
using StopCheck = std::function<bool()>;

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

  std::vector<T>& params() { return params_; }
  std::vector<T>& grads() { return grads_; }
  std::vector<T>& optimizer_state(int which) { return which == 0 ? state_m_ : state_v_; }
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t t) { step_count_ = t; }
  void reset_optimizer();

  // out[N, O_last] = the network's output (probabilities for cross-entropy).
  // Safe to call from several threads at once: it uses its own scratch.
  void predict(T* out, const T* X, int64_t N) const;

  // Every z[l] and a[l] for a batch; z[l], a[l] point to N x O_l buffers.
  void forward_all(const std::vector<T*>& z, const std::vector<T*>& a, const T* X,
                   int64_t N) const;

  // Mean loss on a batch (weights w[N] or nullptr), with the L2 penalty
  // 0.5 l2 ||W||^2 / N. No gradient.
  double loss(const T* X, const T* Y, const T* w, int64_t N, T l2) const;

  // The same loss, and its gradient with respect to every parameter in grads().
  double gradients(const T* X, const T* Y, const T* w, int64_t N, T l2);

  // One epoch: batches of `batch_size` rows taken from X, Y (and w) in the
  // order given by `order[n_order]`; forward, loss, backward, update for each.
  // Between batches it asks `stop`; a batch whose loss is not finite stops
  // the epoch before its update and restores the weights and optimizer
  // state to the start of the epoch.
  EpochResult train_epoch(const T* X, const T* Y, const T* w, const int64_t* order,
                          int64_t n_order, int64_t batch_size, const OptimConfig& cfg,
                          T l2, const StopCheck& stop);

  // Held by anything that writes the weights (training), so two fits on one
  // network cannot interleave.
  std::mutex& train_mutex() { return train_mutex_; }

 private:
  void ensure_scratch(int64_t rows);
  void forward_logits(T* logits, const T* X, int64_t N) const;
  double forward_loss(const T* X, const T* Y, const T* w, int64_t N, T l2, bool fused_one);
  void backward(const T* X, int64_t N, T l2);
  void backward_update_one(const T* x, const T* next_x, T l2, const OptimConfig& cfg);
  void update(const OptimConfig& cfg);
  double l2_penalty(T l2) const;

  std::vector<int64_t> sizes_;
  std::vector<Act> acts_;
  Loss loss_;
  T slope_;
  std::vector<int64_t> w_offset_;
  int64_t max_width_ = 0;

  std::vector<T> params_, grads_, state_m_, state_v_;
  int64_t step_count_ = 0;

  // Training scratch, sized for the largest batch seen: gathered rows, each
  // layer's activations, and two delta buffers used in turn.
  int64_t scratch_rows_ = 0;
  std::vector<T> x_batch_, y_batch_, w_batch_;
  std::vector<std::vector<T>> acts_buf_;
  std::vector<T> delta_a_, delta_b_;
  std::vector<T> forward_partial_;  // row-block partial sums of the batch-1 forward
  bool first_partial_ready_ = false;  // forward_partial_ holds the next layer-1 sums
  std::vector<T> backup_params_, backup_m_, backup_v_;

  std::mutex train_mutex_;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace fastmlp

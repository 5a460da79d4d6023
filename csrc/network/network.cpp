// Network: forward, backward and the training loop over flat buffers.
#include "network/network.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "isa/kernel_table.h"
#include "network/single_example.h"
#include "parallel_for.h"

namespace fastmlp {
namespace {

// C[N,O] = beta C + A[N,I] W[I,O]
template <typename T>
void dense_forward(T* out, const T* in, const T* W, int64_t N, int64_t I, int64_t O) {
  gemm<T>(out, O, in, I, false, W, O, false, N, O, I, T(0));
}

// db[O] = column sums of delta[N,O]. Threads take disjoint column groups and
// every column is summed in row order, whatever the thread count; from 16K
// elements on, as the activations.
template <typename T>
void bias_backward(T* db, const T* delta, int64_t N, int64_t O) {
  constexpr int64_t kColumnsPerItem = 64;
  const int64_t items = (O + kColumnsPerItem - 1) / kColumnsPerItem;
  for_each_index(items, items > 1 && N * O >= (1 << 14), [&](int64_t item) {
    const int64_t begin = item * kColumnsPerItem, end = std::min(O, begin + kColumnsPerItem);
    for (int64_t o = begin; o < end; ++o) db[o] = T(0);
    for (int64_t n = 0; n < N; ++n) {
      const T* row = delta + n * O;
      for (int64_t o = begin; o < end; ++o) db[o] += row[o];
    }
  });
}

// Rows [first, first + count) of `order` are consecutive indices, so the
// batch can be read in place instead of gathered.
bool is_consecutive(const int64_t* order, int64_t count) {
  for (int64_t i = 1; i < count; ++i)
    if (order[i] != order[0] + i) return false;
  return true;
}

// Copying a 1024 x 784 batch is ~6% of an epoch on one thread, so gathers
// use every thread (each copies whole rows; no result depends on it) from 16K
// elements on: rows from DRAM come at ~5 GB/s per core, and at batch 32 a
// parallel gather made a two-thread epoch 2.8% faster (bench/ab_epoch.py).
template <typename T>
void gather_rows(T* dst, const T* src, const int64_t* rows, int64_t count, int64_t width) {
  for_each_index(count, count * width >= (1 << 14), [&](int64_t r) {
    std::memcpy(dst + r * width, src + rows[r] * width, sizeof(T) * width);
  });
}

constexpr int64_t kPredictChunkRows = 2048;  // bounds predict's scratch memory

// out[n] = c x[n] (zeros when c is 0), threads over disjoint ranges.
template <typename T>
void set_scaled(T* out, const T* x, T c, int64_t n) {
  for_each_index(n, n >= (1 << 18), [&](int64_t i) { out[i] = c == T(0) ? T(0) : c * x[i]; });
}

// sum of x[i]^2 in float64, in kLanes interleaved partial sums (added in a
// fixed order at the end): the compiler vectorizes it, where one running
// sum is a chain of dependent adds (a 200,000 x 64 layer: ~15 ms a step).
template <typename T>
double sum_of_squares(const T* x, int64_t n) {
  constexpr int64_t kLanes = 8;
  double partial[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) partial[j] += double(x[i + j]) * double(x[i + j]);
  double sum = 0;
  for (; i < n; ++i) sum += double(x[i]) * double(x[i]);
  for (int64_t j = 0; j < kLanes; ++j) sum += partial[j];
  return sum;
}

// splitmix64's finalizer: a well-mixed 64-bit hash, the source of the
// dropout masks (counter-based, so any thread can draw any unit's mask).
inline uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

template <typename T>
Network<T>::Network(std::vector<int64_t> sizes, std::vector<Act> acts, Loss loss, T slope)
    : sizes_(std::move(sizes)), acts_(std::move(acts)), loss_(loss), slope_(slope) {
  int64_t offset = 0;
  for (int64_t l = 0; l < num_layers(); ++l) {
    w_offset_.push_back(offset);
    offset += fan_in(l) * fan_out(l) + fan_out(l);
  }
  // The widest layer output: the scratch buffers never hold the input
  // (200,000 columns of sparse text would make them N x 200,000).
  for (size_t l = 1; l < sizes_.size(); ++l) max_width_ = std::max(max_width_, sizes_[l]);
  params_.assign(offset, T(0));
  grads_.assign(offset + kReduceSlots, T(0));
  dropout_.assign(num_layers(), T(0));
  state_m_.assign(offset, T(0));
  state_v_.assign(offset, T(0));
}

template <typename T>
void Network<T>::reset_optimizer() {
  std::fill(state_m_.begin(), state_m_.end(), T(0));
  std::fill(state_v_.begin(), state_v_.end(), T(0));
  step_count_ = 0;
  l1_owed_ = 0;
  l1_taken_.clear();
  l1_norms_ = ObjectiveNorms{};
}

template <typename T>
double Network<T>::l1_objective_terms(T l2, T scale) {
  if (!l1_norms_.known)
    for (int64_t l = 0; l < num_layers(); ++l)
      l1_norms_.measure(params_.data() + w_offset(l), fan_in(l) * fan_out(l), l > 0);
  return 0.5 * double(l2) * double(scale) * l1_norms_.squares + double(l1_) * l1_norms_.absolute;
}

template <typename T>
void Network<T>::l1_step(double learning_rate, T l2, T scale, bool moved, const InputRows<T>& X,
                         int64_t N) {
  if (moved) {
    for (int64_t l = 0; l < num_layers(); ++l)
      l1_norms_.measure(params_.data() + w_offset(l), fan_in(l) * fan_out(l), l > 0);
  } else {
    l1_norms_.shrink(1.0 - learning_rate * double(l2) * double(scale));
  }
  if (l1_taken_.empty()) l1_taken_.assign(params_.size(), T(0));
  l1_owed_ += learning_rate * double(l1_);
  for (int64_t l = X.sparse() ? 1 : 0; l < num_layers(); ++l)
    l1_cumulative_penalty(params_.data() + w_offset(l), l1_taken_.data() + w_offset(l),
                          fan_in(l) * fan_out(l), l1_owed_);
  if (!X.sparse()) return;
  // The first layer's rows of the columns the batch stores, each row once.
  const int64_t O = fan_out(0);
  // The marks are cleared column by column afterwards, not refilled per step:
  // a step of a wide sparse input costs its stored entries, not its width.
  l1_seen_.resize(fan_in(0), 0);
  l1_columns_.clear();
  for (int64_t k = X.csr.indptr[0]; k < X.csr.indptr[N]; ++k) {
    const int64_t column = X.csr.indices[k];
    if (!l1_seen_[column]) l1_seen_[column] = 1, l1_columns_.push_back(column);
  }
  for (int64_t column : l1_columns_) {
    l1_cumulative_penalty(params_.data() + w_offset(0) + column * O,
                          l1_taken_.data() + w_offset(0) + column * O, O, l1_owed_);
    l1_seen_[column] = 0;
  }
}

template <typename T>
void Network<T>::set_dropout(std::vector<T> rates, uint64_t seed) {
  if (static_cast<int64_t>(rates.size()) != num_layers())
    throw std::invalid_argument("dropout needs one rate per layer");
  for (int64_t l = 0; l < num_layers(); ++l)
    if (!(rates[l] >= T(0) && rates[l] < T(1)) || (l == num_layers() - 1 && rates[l] != T(0)))
      throw std::invalid_argument("dropout rates must be in [0, 1), and 0 for the output layer");
  dropout_ = std::move(rates);
  dropout_seed_ = seed;
  scratch_rows_ = 0;  // the masks' buffers are sized with the others
}

namespace {

void require_bf16_kernels() {
  if (const char* why = bf16_products_unavailable(kernels())) throw std::invalid_argument(why);
}

}  // namespace

template <typename T>
void Network<T>::set_bf16_products(bool on) {
  if (on) {
    if (!std::is_same_v<T, float>)
      throw std::invalid_argument("bfloat16 products are for float32 networks");
    require_bf16_kernels();
  }
  bf16_products_ = on;
}

template <typename T>
void Network<T>::check_bf16_kernels() const {
  if (bf16_products_) require_bf16_kernels();
}

template <typename T>
void Network<T>::training_gemm(T* C, int64_t ldc, const T* A, int64_t lda, bool trans_a, const T* B,
                               int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K) const {
  if constexpr (std::is_same_v<T, float>) {
    if (bf16_products_)
      return kernels().sgemm_bf16(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, 0.0f);
  }
  gemm<T>(C, ldc, A, lda, trans_a, B, ldb, trans_b, M, Nc, K, T(0));
}

template <typename T>
bool Network<T>::has_dropout() const {
  return std::any_of(dropout_.begin(), dropout_.end(), [](T rate) { return rate > T(0); });
}

template <typename T>
void Network<T>::drop_units(int64_t l, int64_t N) {
  const int64_t O = fan_out(l);
  const double rate = double(dropout_[l]);
  const T kept = T(1) / (T(1) - dropout_[l]);
  const uint64_t key = mix64(
      dropout_seed_ ^ mix64(dropout_salt_ ^ mix64(uint64_t(mask_step_)) ^ (uint64_t(l) << 56)));
  const T* a = acts_buf_[l].data();
  T* mask = mask_buf_[l].data();
  T* out = dropped_buf_[l].data();
  for_each_index(N, N * O >= (1 << 15), [&](int64_t n) {
    for (int64_t o = 0; o < O; ++o) {
      const int64_t i = n * O + o;
      // 53 random bits as a uniform draw in [0, 1)
      const double u = double(mix64(key + uint64_t(i)) >> 11) * (1.0 / 9007199254740992.0);
      mask[i] = u < rate ? T(0) : kept;
      out[i] = a[i] * mask[i];
    }
  });
}

template <typename T>
const T* Network<T>::layer_input(int64_t l) const {
  return dropping(l - 1) ? dropped_buf_[l - 1].data() : acts_buf_[l - 1].data();
}

template <typename T>
void Network<T>::first_layer_forward(T* z, const InputRows<T>& X, int64_t N) const {
  if (X.sparse())
    csr_dense_forward(z, X.csr, params_.data() + w_offset(0), N, fan_out(0));
  else
    dense_forward(z, X.dense, params_.data() + w_offset(0), N, fan_in(0), fan_out(0));
}

template <typename T>
void Network<T>::ensure_scratch(int64_t rows) {
  if (rows <= scratch_rows_) return;
  scratch_rows_ = rows;
  mask_buf_.assign(num_layers(), {});
  dropped_buf_.assign(num_layers(), {});
  for (int64_t l = 0; l + 1 < num_layers(); ++l) {
    if (dropout_[l] == T(0)) continue;
    mask_buf_[l].resize(rows * fan_out(l));
    dropped_buf_[l].resize(rows * fan_out(l));
  }
  y_batch_.resize(rows * fan_out(num_layers() - 1));
  w_batch_.resize(rows);
  acts_buf_.resize(num_layers());
  for (int64_t l = 0; l < num_layers(); ++l) acts_buf_[l].resize(rows * fan_out(l));
  delta_a_.resize(rows * max_width_);
  delta_b_.resize(rows * max_width_);
}

// logits[N, O_last] = the output layer's z (bias added, activation not),
// a chunk of rows at a time through two scratch buffers, so memory stays
// bounded whatever N is.
template <typename T>
void Network<T>::forward_logits(T* logits, const InputRows<T>& X, int64_t N) const {
  const int64_t L = num_layers();
  const int64_t chunk = std::min(N, kPredictChunkRows);
  // A few rows (online prediction) reuse this thread's small scratch: a
  // malloc and free per call cost a sizable share of a one-row forward.
  // predict is const and may run in several threads at once, hence
  // thread_local; larger calls allocate (and amortize) their own.
  constexpr int64_t kReusedScratch = 16384;
  thread_local AlignedVector<T> small_ping(kReusedScratch), small_pong(kReusedScratch);
  AlignedVector<T> big_ping, big_pong;
  T* ping = small_ping.data();
  T* pong = small_pong.data();
  if (chunk * max_width_ > kReusedScratch) {
    big_ping.resize(chunk * max_width_);
    big_pong.resize(chunk * max_width_);
    ping = big_ping.data(), pong = big_pong.data();
  }
  const int64_t O_last = fan_out(L - 1);
  for (int64_t n0 = 0; n0 < N; n0 += chunk) {
    const int64_t rows = std::min(chunk, N - n0);
    const T* in = nullptr;
    for (int64_t l = 0; l < L; ++l) {
      const bool last = l == L - 1;
      T* dst = last ? logits + n0 * O_last : (l % 2 == 0 ? ping : pong);
      if (l == 0)
        first_layer_forward(dst, X.from_row(n0, fan_in(0)), rows);
      else
        dense_forward(dst, in, params_.data() + w_offset(l), rows, fan_in(l), fan_out(l));
      bias_activation_forward<T>(dst, params_.data() + b_offset(l), rows, fan_out(l),
                                 last ? Act::identity : acts_[l], slope_);
      in = dst;
    }
  }
}

template <typename T>
void Network<T>::predict(T* out, const InputRows<T>& X, int64_t N) const {
  const int64_t L = num_layers();
  forward_logits(out, X, N);
  bias_activation_forward<T>(out, nullptr, N, fan_out(L - 1), acts_[L - 1], slope_);
}

template <typename T>
void Network<T>::forward_all(const std::vector<T*>& z, const std::vector<T*>& a, const T* X,
                             int64_t N) const {
  const T* in = X;
  for (int64_t l = 0; l < num_layers(); ++l) {
    const int64_t O = fan_out(l);
    dense_forward(z[l], in, params_.data() + w_offset(l), N, fan_in(l), O);
    bias_activation_forward<T>(z[l], params_.data() + b_offset(l), N, O, Act::identity, slope_);
    std::memcpy(a[l], z[l], sizeof(T) * N * O);
    bias_activation_forward<T>(a[l], nullptr, N, O, acts_[l], slope_);
    in = a[l];
  }
}

template <typename T>
double Network<T>::l2_penalty(T l2) const {
  if (l2 == T(0)) return 0;
  double sum = 0;
  for (int64_t l = 0; l < num_layers(); ++l) {
    sum += sum_of_squares(params_.data() + w_offset(l), fan_in(l) * fan_out(l));
  }
  return 0.5 * double(l2) * sum;
}

template <typename T>
double Network<T>::loss(const InputRows<T>& X, const T* Y, const T* w, int64_t N, T l2,
                        int64_t divisor) const {
  const int64_t O_last = fan_out(num_layers() - 1);
  AlignedVector<T> logits(N * O_last);
  forward_logits(logits.data(), X, N);
  if (divisor <= 0) divisor = N;
  const T scale = T(1) / T(divisor);
  const double data_loss = loss_forward<T>(logits.data(), logits.data(), Y, w, N, O_last, loss_,
                                           acts_[num_layers() - 1], slope_, scale);
  return data_loss + l2_penalty(l2) / double(divisor);
}

// Forward and the fused output loss: fills acts_buf_ and, in delta_a_, the
// output delta dL/dz; returns the batch loss (penalty included).
template <typename T>
double Network<T>::forward_loss(const InputRows<T>& X, const T* Y, const T* w, int64_t N, T l2,
                                T scale) {
  const int64_t L = num_layers();
  for (int64_t l = 0; l < L; ++l) {
    T* dst = acts_buf_[l].data();
    const int64_t I = fan_in(l), O = fan_out(l);
    if (l == 0 && X.sparse())
      first_layer_forward(dst, X, N);
    else  // z[N,O] = a_prev[N,I] W[I,O]
      training_gemm(dst, O, l == 0 ? X.dense : layer_input(l), I, false,
                    params_.data() + w_offset(l), O, false, N, O, I);
    // The output layer stops at z: the loss kernel applies its activation.
    bias_activation_forward<T>(dst, params_.data() + b_offset(l), N, O,
                               l == L - 1 ? Act::identity : acts_[l], slope_);
    if (dropping(l)) drop_units(l, N);
  }
  T* out = acts_buf_[L - 1].data();
  const double data_loss = loss_forward_backward<T>(
      out, delta_a_.data(), out, Y, w, N, fan_out(L - 1), loss_, acts_[L - 1], slope_, scale);
  return data_loss + l2_penalty(l2) * double(scale);
}

// Backward from the output delta left by forward_loss: fills grads_.
template <typename T>
void Network<T>::backward(const InputRows<T>& X, int64_t N, T l2, T scale) {
  T* delta = delta_a_.data();
  T* spare = delta_b_.data();
  for (int64_t l = num_layers() - 1; l >= 0; --l) {
    const int64_t I = fan_in(l), O = fan_out(l);
    const T* W = params_.data() + w_offset(l);
    T* dW = grads_.data() + w_offset(l);
    // dW[I,O] = a_prev^T[I,N] delta[N,O], a_prev after its dropout mask
    if (l == 0 && X.sparse()) {
      // The L2 term first, then the nonzeros' rows added: two passes over
      // the (wide) dW instead of three.
      set_scaled(dW, W, l2 * scale, I * O);
      csr_transpose_dense(dW, X.csr, delta, N, I, O);
    } else {
      training_gemm(dW, O, l == 0 ? X.dense : layer_input(l), I, true, delta, O, false, I, O, N);
    }
    if (l2 != T(0) && !(l == 0 && X.sparse())) {
      const T c = l2 * scale;
      for (int64_t i = 0; i < I * O; ++i) dW[i] += c * W[i];
    }
    bias_backward(grads_.data() + b_offset(l), delta, N, O);
    if (l > 0) {
      // da_prev[N,I] = delta[N,O] W^T[O,I], then through g'(a_prev)
      training_gemm(spare, I, delta, O, false, W, O, true, N, I, O);
      if (dropping(l - 1)) {
        const T* mask = mask_buf_[l - 1].data();
        for (int64_t i = 0; i < N * I; ++i) spare[i] *= mask[i];
      }
      // g' from the layer's own output, before its mask
      activation_backward<T>(spare, spare, acts_buf_[l - 1].data(), N * I, acts_[l - 1], slope_);
      std::swap(delta, spare);
    }
  }
}

namespace {

// One optimizer step over n contiguous parameters through the active kernel
// table (its vectorized update, or the plain loop in 'reference').
void update_range(float* p, float* m, float* v, const float* g, int64_t n, const OptimConfig& cfg,
                  int64_t t) {
  kernels().optimizer_update(p, m, v, g, n, cfg, t);
}

void update_range(double* p, double* m, double* v, const double* g, int64_t n,
                  const OptimConfig& cfg, int64_t t) {
  kernels().optimizer_update_f64(p, m, v, g, n, cfg, t);
}

}  // namespace

template <typename T>
void Network<T>::update(const OptimConfig& cfg, bool freeze_bias) {
  if (intercept_decay_ != T(1) && !freeze_bias)
    for (int64_t l = 0; l < num_layers(); ++l) {
      T* db = grads_.data() + b_offset(l);
      for (int64_t o = 0; o < fan_out(l); ++o) db[o] *= intercept_decay_;
    }
  if (!freeze_bias)
    return update_range(params_.data(), state_m_.data(), state_v_.data(), grads_.data(),
                        num_params(), cfg, step_count_);
  // The step is elementwise, so stepping each layer's weights alone gives
  // them the same values as one pass over the whole buffer.
  for (int64_t l = 0; l < num_layers(); ++l) {
    const int64_t wo = w_offset(l);
    update_range(params_.data() + wo, state_m_.data() + wo, state_v_.data() + wo,
                 grads_.data() + wo, fan_in(l) * fan_out(l), cfg, step_count_);
  }
}

template <typename T>
double Network<T>::penalty_only(T l2, T scale) {
  std::fill(grads_.begin(), grads_.begin() + num_params(), T(0));
  if (l2 == T(0)) return 0;
  const T c = l2 * scale;
  for (int64_t l = 0; l < num_layers(); ++l) {
    const T* W = params_.data() + w_offset(l);
    T* dW = grads_.data() + w_offset(l);
    for (int64_t i = 0; i < fan_in(l) * fan_out(l); ++i) dW[i] = c * W[i];
  }
  return l2_penalty(l2) * double(scale);
}

template <typename T>
double Network<T>::gradients(const InputRows<T>& X, const T* Y, const T* w, int64_t N, T l2,
                             int64_t divisor, int64_t mask_step) {
  check_bf16_kernels();
  ensure_scratch(N);
  const T scale = T(1) / T(divisor > 0 ? divisor : N);
  mask_step_ = has_dropout() ? mask_step : -1;
  const double batch_loss = forward_loss(X, Y, w, N, l2, scale);
  backward(X, N, l2, scale);
  mask_step_ = -1;
  return batch_loss;
}

template <typename T>
typename Network<T>::BatchRows Network<T>::batch_rows(const EpochInputs<T>& in, const int64_t* idx,
                                                      int64_t rows) {
  const int64_t I = fan_in(0), O = fan_out(num_layers() - 1);
  if (is_consecutive(idx, rows))
    return {in.X.from_row(idx[0], I), in.Y + idx[0] * O, in.w != nullptr ? in.w + idx[0] : nullptr};
  InputRows<T> X = static_cast<const T*>(nullptr);
  if (in.X.sparse()) {
    gather_csr_rows(in.X.csr, idx, rows);
    X = CsrRows<T>{x_batch_indptr_.data(), x_batch_indices_.data(), x_batch_data_.data()};
  } else {
    // Sized here, not with the other scratch: a sparse X never needs it.
    if (x_batch_.size() < size_t(rows * I)) x_batch_.resize(rows * I);
    gather_rows(x_batch_.data(), in.X.dense, idx, rows, I);
    X = x_batch_.data();
  }
  gather_rows(y_batch_.data(), in.Y, idx, rows, O);
  const T* wb = nullptr;
  if (in.w != nullptr) {
    for (int64_t r = 0; r < rows; ++r) w_batch_[r] = in.w[idx[r]];
    wb = w_batch_.data();
  }
  return {X, y_batch_.data(), wb};
}

template <typename T>
void Network<T>::gather_csr_rows(const CsrRows<T>& X, const int64_t* idx, int64_t rows) {
  x_batch_indptr_.resize(rows + 1);
  x_batch_indptr_[0] = 0;
  for (int64_t r = 0; r < rows; ++r)
    x_batch_indptr_[r + 1] = x_batch_indptr_[r] + (X.indptr[idx[r] + 1] - X.indptr[idx[r]]);
  // Grown, never shrunk: a batch's nonzeros vary, the buffers settle at the largest.
  const size_t nnz = size_t(x_batch_indptr_[rows]);
  if (x_batch_indices_.size() < nnz) {
    x_batch_indices_.resize(nnz);
    x_batch_data_.resize(nnz);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t from = X.indptr[idx[r]], count = X.indptr[idx[r] + 1] - from;
    std::memcpy(x_batch_indices_.data() + x_batch_indptr_[r], X.indices + from,
                sizeof(int64_t) * count);
    std::memcpy(x_batch_data_.data() + x_batch_indptr_[r], X.data + from, sizeof(T) * count);
  }
}

template <typename T>
EpochTally Network<T>::train_batches(const EpochInputs<T>& in, const int64_t* order,
                                     int64_t n_order, int64_t batch_size) {
  EpochTally tally;
  ensure_scratch(batch_size);
  int64_t batch_index = 0;
  for (int64_t start = 0; start < n_order; start += batch_size, ++batch_index) {
    if (in.stop && in.stop()) {
      tally.status = EpochStatus::interrupted;
      break;
    }
    const int64_t rows = std::min(batch_size, n_order - start);
    const BatchRows b = batch_rows(in, order + start, rows);
    const T scale = T(1) / T(rows);
    mask_step_ = has_dropout() ? step_count_ : -1;
    // With the L1 step, the penalty terms are scikit-learn's (l1_objective_terms).
    double batch_loss = forward_loss(b.X, b.Y, b.w, rows, l1_ != T(0) ? T(0) : in.l2, scale);
    bool moved = false;  // some output delta != 0: the rows change the weights
    if (l1_ != T(0)) {
      batch_loss += l1_objective_terms(in.l2, scale);
      const T* delta = delta_a_.data();  // before backward reuses the buffer
      moved = std::any_of(delta, delta + rows * fan_out(num_layers() - 1),
                          [](T d) { return d != T(0); });
    }
    if (!std::isfinite(batch_loss)) {
      tally.status = EpochStatus::non_finite;
      tally.failed_batch = batch_index;
      break;
    }
    ++step_count_;
    backward(b.X, rows, in.l2, scale);
    update(in.cfg, in.freeze_bias);
    if (l1_ != T(0)) l1_step(in.cfg.learning_rate, in.l2, scale, moved, b.X, rows);
    tally.loss_sum += batch_loss * double(rows);
    tally.rows += rows;
    ++tally.batches;
  }
  return tally;
}

template <typename T>
EpochTally Network<T>::train_steps(const EpochInputs<T>& in, const int64_t* order, int64_t n_order,
                                   int64_t batch_size, const StepReduce<T>& plan) {
  EpochTally tally;
  ensure_scratch(batch_size);
  const int64_t n = num_params();
  T* buffer = grads_.data();
  const T l2 = plan.adds_penalty ? in.l2 : T(0);
  for (int64_t step = 0; step < plan.n_steps; ++step) {
    const int64_t start = step * batch_size;
    const int64_t rows = std::clamp<int64_t>(n_order - start, 0, batch_size);
    const int64_t global_rows = plan.global_rows[step];
    const T scale = T(1) / T(global_rows);
    double step_loss;
    mask_step_ = has_dropout() ? step_count_ : -1;
    if (rows > 0) {
      const BatchRows b = batch_rows(in, order + start, rows);
      step_loss = forward_loss(b.X, b.Y, b.w, rows, l2, scale);
      // Backward even when this process's loss is not finite: every process
      // must reach the reduction, and the sum then tells all of them.
      backward(b.X, rows, l2, scale);
    } else {
      step_loss = penalty_only(l2, scale);
    }
    buffer[n] = static_cast<T>(step_loss);
    buffer[n + 1] = in.stop && in.stop() ? T(1) : T(0);
    if (!plan.sum(buffer, n + kReduceSlots)) {
      tally.status = EpochStatus::reduce_failed;
      break;
    }
    // Every process now holds the same sums, so all of them take the same
    // branch below: none waits for a step the others skipped.
    if (buffer[n + 1] != T(0)) {
      tally.status = EpochStatus::interrupted;
      break;
    }
    const double loss = double(buffer[n]);
    if (!std::isfinite(loss)) {
      tally.status = EpochStatus::non_finite;
      tally.failed_batch = step;
      break;
    }
    ++step_count_;
    update(in.cfg, in.freeze_bias);
    tally.loss_sum += loss * double(global_rows);
    tally.rows += global_rows;
    ++tally.batches;
  }
  return tally;
}

template <typename T>
EpochResult Network<T>::train_epoch(const InputRows<T>& X, const T* Y, const T* w,
                                    const int64_t* order, int64_t n_order, int64_t batch_size,
                                    const OptimConfig& cfg, T l2, const StopCheck& stop,
                                    bool freeze_bias, const StepReduce<T>* reduce,
                                    bool keep_start) {
  EpochResult result;
  check_bf16_kernels();
  if (n_order <= 0 && reduce == nullptr) return result;
  if (reduce != nullptr && l1_ != T(0))
    throw std::invalid_argument("the L1 penalty is not available in a distributed epoch");
  // A distributed batch size is the same on every process, whatever its rows.
  if (reduce == nullptr) batch_size = std::min(batch_size, n_order);
  batch_size = std::max<int64_t>(1, batch_size);
  if (keep_start) {
    backup_params_ = params_;
    backup_m_ = state_m_;
    backup_v_ = state_v_;
  } else {
    // released, not kept from an earlier epoch that wanted them
    AlignedVector<T>().swap(backup_params_);
    AlignedVector<T>().swap(backup_m_);
    AlignedVector<T>().swap(backup_v_);
  }
  const int64_t backup_step = step_count_;

  const EpochInputs<T> in{X, Y, w, cfg, l2, freeze_bias, stop};
  EpochTally tally;
  if (reduce != nullptr) {
    tally = train_steps(in, order, n_order, batch_size, *reduce);
  } else {
    // Rows at the end of the order that train one at a time on the fused
    // kernels: all of them at batch size 1, else a lone last row.
    const KernelTable& table = kernels();
    // The fused kernels have no dropout, no L1 step and no intercept decay, and
    // read dense rows.
    const int64_t single = !table.has_fused_kernels() || has_dropout() || l1_ != T(0) ||
                                   intercept_decay_ != T(1) || X.sparse()
                               ? 0
                           : batch_size == 1           ? n_order
                           : n_order % batch_size == 1 ? 1
                                                       : 0;
    if (single < n_order) tally = train_batches(in, order, n_order - single, batch_size);
    if (single > 0 && tally.status == EpochStatus::completed)
      tally.append(train_single_examples(*this, table, in, order + n_order - single, single));
  }
  mask_step_ = -1;  // prediction and the plain loss use every unit
  // The updates before a non-finite loss are what blew up: their weights may
  // be finite yet so large that every later forward pass overflows. The
  // start of the epoch is the last state known to be sound.
  if (tally.status == EpochStatus::non_finite && keep_start) {
    params_ = backup_params_;  // the L1 state stays: a diverged fit ends here
    state_m_ = backup_m_;
    state_v_ = backup_v_;
    step_count_ = backup_step;
  }
  result.status = tally.status;
  result.rows = tally.rows;
  result.batches = tally.batches;
  result.failed_batch = tally.failed_batch;
  result.loss = tally.rows > 0 ? tally.loss_sum / double(tally.rows) : 0.0;
  return result;
}

template class Network<float>;
template class Network<double>;

}  // namespace fastmlp

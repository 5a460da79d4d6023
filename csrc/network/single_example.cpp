// The single-example training loop (see single_example.h).
#include "network/single_example.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace fastmlp {
namespace {

// One example through the network: forward + loss, then the fused backward
// and update, with the scratch that needs (a few kilobytes).
template <typename T>
class SingleExampleStep {
 public:
  SingleExampleStep(Network<T>& net, const KernelTable& kernels)
      : net_(net),
        forward_one_(kernels.fused_forward_one<T>()),
        backward_update_one_(kernels.fused_backward_update_one<T>()),
        acts_(net.num_layers()) {
    int64_t width = 0, partial = 0;
    for (int64_t l = 0; l < net.num_layers(); ++l) {
      acts_[l].resize(net.fan_out(l));
      width = std::max({width, net.fan_in(l), net.fan_out(l)});
      partial = std::max(partial, dense_forward_one_scratch(net.fan_in(l), net.fan_out(l)));
    }
    delta_.resize(width);
    spare_.resize(width);
    partial_.resize(partial);
  }

  // Every layer's activation (the output layer's z) and, in delta_, the
  // output delta; returns the loss, penalty included. With partial_ready,
  // the first layer's partial sums are already in partial_ (left by the
  // last update) and x is not read again.
  double forward_loss(const T* x, const T* y, const T* w, T l2, bool partial_ready) {
    const int64_t L = net_.num_layers();
    const T* params = net_.params().data();
    const std::vector<Act>& act = net_.activations();
    const T* in = x;
    for (int64_t l = 0; l < L; ++l) {
      T* z = acts_[l].data();
      const bool ready = l == 0 && partial_ready;
      forward_one_(z, partial_.data(), ready ? nullptr : in, params + net_.w_offset(l),
                   net_.fan_in(l), net_.fan_out(l));
      // The output layer stops at z: the loss kernel applies its activation.
      bias_activation_forward<T>(z, params + net_.b_offset(l), 1, net_.fan_out(l),
                                 l == L - 1 ? Act::identity : act[l], net_.slope());
      in = z;
    }
    T* out = acts_[L - 1].data();
    const double data_loss =
        loss_forward_backward<T>(out, delta_.data(), out, y, w, 1, net_.fan_out(L - 1),
                                 net_.loss_kind(), act[L - 1], net_.slope(), T(1));
    return data_loss + net_.l2_penalty(l2);
  }

  // Backward and optimizer step fused per layer, last layer first; with
  // next_x, the first layer's update leaves next_x's partial sums in partial_.
  void backward_update(const T* x, const T* next_x, const EpochInputs<T>& in) {
    const std::vector<Act>& act = net_.activations();
    const UpdateStep<T> step{in.cfg, net_.step_count(), in.l2};
    T* delta = delta_.data();
    T* spare = spare_.data();
    for (int64_t l = net_.num_layers() - 1; l >= 0; --l) {
      const int64_t I = net_.fan_in(l);
      const DenseLayerState<T> layer = layer_state(l, in.freeze_bias);
      const T* a_prev = l == 0 ? x : acts_[l - 1].data();
      const SingleExampleSignals<T> io{a_prev, delta, l > 0 ? spare : nullptr,
                                       l == 0 ? next_x : nullptr, partial_.data()};
      backward_update_one_(layer, io, step);
      if (l > 0) {
        activation_backward<T>(spare, spare, a_prev, I, act[l - 1], net_.slope());
        std::swap(delta, spare);
      }
    }
  }

 private:
  // Layer l's slices of the flat parameter and optimizer-state buffers.
  DenseLayerState<T> layer_state(int64_t l, bool freeze_bias) {
    const int64_t wo = net_.w_offset(l), bo = net_.b_offset(l);
    T* p = net_.params().data();
    T* m = net_.optimizer_state(0).data();
    T* v = net_.optimizer_state(1).data();
    DenseLayerState<T> layer;
    layer.W = p + wo, layer.W_m = m + wo, layer.W_v = v + wo;
    layer.b = p + bo, layer.b_m = m + bo, layer.b_v = v + bo;
    layer.I = net_.fan_in(l), layer.O = net_.fan_out(l);
    layer.freeze_bias = freeze_bias;
    return layer;
  }

  Network<T>& net_;
  decltype(std::declval<const KernelTable&>().fused_forward_one<T>()) forward_one_;
  decltype(std::declval<const KernelTable&>().fused_backward_update_one<T>()) backward_update_one_;
  std::vector<AlignedVector<T>> acts_;  // per layer, O_l values
  AlignedVector<T> delta_, spare_;      // the delta of a layer and of the one below
  AlignedVector<T> partial_;            // row-block partial sums of a forward
};

}  // namespace

template <typename T>
EpochTally train_single_examples(Network<T>& net, const KernelTable& kernels,
                                 const EpochInputs<T>& in, const int64_t* order, int64_t n) {
  EpochTally tally;
  SingleExampleStep<T> step(net, kernels);
  const int64_t I = net.fan_in(0), O = net.fan_out(net.num_layers() - 1);
  bool partial_ready = false;  // the last update summed this example's first layer
  for (int64_t i = 0; i < n; ++i) {
    if (in.stop && in.stop()) {
      tally.status = EpochStatus::interrupted;
      break;
    }
    const int64_t row = order[i];
    const T* x = in.X.dense + row * I;
    const T* w = in.w != nullptr ? in.w + row : nullptr;
    const double loss = step.forward_loss(x, in.Y + row * O, w, in.l2, partial_ready);
    if (!std::isfinite(loss)) {
      tally.status = EpochStatus::non_finite;
      tally.failed_batch = i;
      break;
    }
    net.set_step_count(net.step_count() + 1);
    const T* next_x = i + 1 < n ? in.X.dense + order[i + 1] * I : nullptr;
    step.backward_update(x, next_x, in);
    partial_ready = next_x != nullptr;
    tally.loss_sum += loss;
    ++tally.rows;
    ++tally.batches;
  }
  return tally;
}

template EpochTally train_single_examples<float>(Network<float>&, const KernelTable&,
                                                 const EpochInputs<float>&, const int64_t*,
                                                 int64_t);
template EpochTally train_single_examples<double>(Network<double>&, const KernelTable&,
                                                  const EpochInputs<double>&, const int64_t*,
                                                  int64_t);

}  // namespace fastmlp

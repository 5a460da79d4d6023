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
class SingleExampleStep {
 public:
  SingleExampleStep(Network<float>& net, const KernelTable& kernels)
      : net_(net), k_(kernels), acts_(net.num_layers()) {
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
  double forward_loss(const float* x, const float* y, const float* w, float l2,
                      bool partial_ready) {
    const int64_t L = net_.num_layers();
    const float* params = net_.params().data();
    const std::vector<Act>& act = net_.activations();
    const float* in = x;
    for (int64_t l = 0; l < L; ++l) {
      float* z = acts_[l].data();
      const bool ready = l == 0 && partial_ready;
      k_.dense_forward_one(z, partial_.data(), ready ? nullptr : in, params + net_.w_offset(l),
                           net_.fan_in(l), net_.fan_out(l));
      // The output layer stops at z: the loss kernel applies its activation.
      bias_activation_forward<float>(z, params + net_.b_offset(l), 1, net_.fan_out(l),
                                     l == L - 1 ? Act::identity : act[l], net_.slope());
      in = z;
    }
    float* out = acts_[L - 1].data();
    const double data_loss =
        loss_forward_backward<float>(out, delta_.data(), out, y, w, 1, net_.fan_out(L - 1),
                                     net_.loss_kind(), act[L - 1], net_.slope(), 1.f);
    return data_loss + net_.l2_penalty(l2);
  }

  // Backward and optimizer step fused per layer, last layer first; with
  // next_x, the first layer's update leaves next_x's partial sums in partial_.
  void backward_update(const float* x, const float* next_x, const EpochInputs<float>& in) {
    const std::vector<Act>& act = net_.activations();
    const UpdateStep step{in.cfg, net_.step_count(), in.l2};
    float* delta = delta_.data();
    float* spare = spare_.data();
    for (int64_t l = net_.num_layers() - 1; l >= 0; --l) {
      const int64_t I = net_.fan_in(l), O = net_.fan_out(l);
      const DenseLayerState layer = layer_state(l, in.freeze_bias);
      const float* a_prev = l == 0 ? x : acts_[l - 1].data();
      const SingleExampleSignals io{a_prev, delta, l > 0 ? spare : nullptr,
                                    l == 0 ? next_x : nullptr, partial_.data()};
      k_.dense_backward_update_one(layer, io, step);
      if (l > 0) {
        activation_backward<float>(spare, spare, a_prev, I, act[l - 1], net_.slope());
        std::swap(delta, spare);
      }
    }
  }

 private:
  // Layer l's slices of the flat parameter and optimizer-state buffers.
  DenseLayerState layer_state(int64_t l, bool freeze_bias) {
    const int64_t wo = net_.w_offset(l), bo = net_.b_offset(l);
    float* p = net_.params().data();
    float* m = net_.optimizer_state(0).data();
    float* v = net_.optimizer_state(1).data();
    DenseLayerState layer;
    layer.W = p + wo, layer.W_m = m + wo, layer.W_v = v + wo;
    layer.b = p + bo, layer.b_m = m + bo, layer.b_v = v + bo;
    layer.I = net_.fan_in(l), layer.O = net_.fan_out(l);
    layer.freeze_bias = freeze_bias;
    return layer;
  }

  Network<float>& net_;
  const KernelTable& k_;
  std::vector<AlignedVector<float>> acts_;  // per layer, O_l floats
  AlignedVector<float> delta_, spare_;      // the delta of a layer and of the one below
  AlignedVector<float> partial_;            // row-block partial sums of a forward
};

}  // namespace

EpochTally train_single_examples(Network<float>& net, const KernelTable& kernels,
                                 const EpochInputs<float>& in, const int64_t* order, int64_t n) {
  EpochTally tally;
  SingleExampleStep step(net, kernels);
  const int64_t I = net.fan_in(0), O = net.fan_out(net.num_layers() - 1);
  bool partial_ready = false;  // the last update summed this example's first layer
  for (int64_t i = 0; i < n; ++i) {
    if (in.stop && in.stop()) {
      tally.status = EpochStatus::interrupted;
      break;
    }
    const int64_t row = order[i];
    const float* x = in.X.dense + row * I;
    const float* w = in.w != nullptr ? in.w + row : nullptr;
    const double loss = step.forward_loss(x, in.Y + row * O, w, in.l2, partial_ready);
    if (!std::isfinite(loss)) {
      tally.status = EpochStatus::non_finite;
      tally.failed_batch = i;
      break;
    }
    net.set_step_count(net.step_count() + 1);
    const float* next_x = i + 1 < n ? in.X.dense + order[i + 1] * I : nullptr;
    step.backward_update(x, next_x, in);
    partial_ready = next_x != nullptr;
    tally.loss_sum += loss;
    ++tally.rows;
    ++tally.batches;
  }
  return tally;
}

}  // namespace fastmlp

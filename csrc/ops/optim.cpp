// Optimizer updates over one flat parameter buffer, with scikit-learn's
// formulas (sklearn/neural_network/_stochastic_optimizers.py), so a fastmlp
// step and a scikit-learn step agree from the same starting weights.
#include "ops/optim_step.h"

namespace fastmlp {

// params, state, grads: [n]
template <typename T>
void optimizer_update(T* params, T* velocity_or_m, T* v, const T* grads, int64_t n,
                      const OptimConfig& cfg, int64_t t) {
  with_optimizer_step<T>(cfg, t, [&](const auto& step) {
    for (int64_t i = 0; i < n; ++i) step(params[i], velocity_or_m[i], v[i], grads[i]);
  });
}

template void optimizer_update<float>(float*, float*, float*, const float*, int64_t,
                                      const OptimConfig&, int64_t);
template void optimizer_update<double>(double*, double*, double*, const double*, int64_t,
                                       const OptimConfig&, int64_t);

}  // namespace fastmlp

// Optimizer updates over one flat parameter buffer, with scikit-learn's
// formulas (sklearn/neural_network/_stochastic_optimizers.py), so a fastmlp
// step and a scikit-learn step agree from the same starting weights.
#include <cmath>

#include "kernels.h"

namespace fastmlp {

// params, state, grads: [n]
template <typename T>
void optimizer_update(T* params, T* velocity_or_m, T* v, const T* grads, int64_t n,
                      const OptimConfig& cfg, int64_t t) {
  const T lr = static_cast<T>(cfg.learning_rate);
  const T mu = static_cast<T>(cfg.momentum);
  switch (cfg.kind) {
    case Optim::sgd:
      for (int64_t i = 0; i < n; ++i) params[i] -= lr * grads[i];
      return;
    case Optim::momentum:  // velocity = mu velocity - lr g; p += velocity
      for (int64_t i = 0; i < n; ++i) {
        const T vel = mu * velocity_or_m[i] - lr * grads[i];
        velocity_or_m[i] = vel;
        params[i] += vel;
      }
      return;
    case Optim::nesterov:  // look ahead: p += mu velocity - lr g
      for (int64_t i = 0; i < n; ++i) {
        const T vel = mu * velocity_or_m[i] - lr * grads[i];
        velocity_or_m[i] = vel;
        params[i] += mu * vel - lr * grads[i];
      }
      return;
    case Optim::adam: {
      const double b1 = cfg.beta_1, b2 = cfg.beta_2;
      const T step = static_cast<T>(cfg.learning_rate * std::sqrt(1.0 - std::pow(b2, t)) /
                                    (1.0 - std::pow(b1, t)));
      const T tb1 = static_cast<T>(b1), tb2 = static_cast<T>(b2);
      const T eps = static_cast<T>(cfg.epsilon);
      for (int64_t i = 0; i < n; ++i) {
        const T g = grads[i];
        const T m = tb1 * velocity_or_m[i] + (T(1) - tb1) * g;
        const T s = tb2 * v[i] + (T(1) - tb2) * g * g;
        velocity_or_m[i] = m;
        v[i] = s;
        params[i] -= step * m / (std::sqrt(s) + eps);
      }
      return;
    }
  }
}

template void optimizer_update<float>(float*, float*, float*, const float*, int64_t,
                                      const OptimConfig&, int64_t);
template void optimizer_update<double>(double*, double*, double*, const double*, int64_t,
                                       const OptimConfig&, int64_t);

}  // namespace fastmlp

// One optimizer step on one parameter, as inlinable functors, so the plain
// flat-buffer update (optim.cpp) and the fused batch-1 kernels share the
// exact formulas (scikit-learn's, see optim.cpp).
#pragma once

#include <cmath>
#include <limits>

#include "kernels.h"

namespace fastmlp {

// Optimizer state decays geometrically wherever the gradient stays zero (a
// pixel blank in every image, a dead unit): left alone it sinks into
// subnormal numbers, which x86 processes about a hundred times slower (Adam
// at batch 1 on MNIST-like data ran 20x slower). Below the smallest normal
// number the state is taken as zero; its effect on a weight was nil anyway.
template <typename T>
inline T flush_subnormal(T x) {
  return std::abs(x) < std::numeric_limits<T>::min() ? T(0) : x;
}

template <typename T>
struct SgdStep {
  T lr;
  inline void operator()(T& p, T&, T&, T g) const { p -= lr * g; }
};

template <typename T>
struct MomentumStep {  // velocity = mu velocity - lr g; p += velocity
  T lr, mu;
  inline void operator()(T& p, T& velocity, T&, T g) const {
    const T vel = flush_subnormal(mu * velocity - lr * g);
    velocity = vel;
    p += vel;
  }
};

template <typename T>
struct NesterovStep {  // look ahead: p += mu velocity - lr g
  T lr, mu;
  inline void operator()(T& p, T& velocity, T&, T g) const {
    const T vel = flush_subnormal(mu * velocity - lr * g);
    velocity = vel;
    p += mu * vel - lr * g;
  }
};

template <typename T>
struct AdamStep {  // bias correction folded into `step` once per update
  T step, b1, b2, eps;
  inline void operator()(T& p, T& m, T& v, T g) const {
    const T m_new = flush_subnormal(b1 * m + (T(1) - b1) * g);
    const T v_new = flush_subnormal(b2 * v + (T(1) - b2) * g * g);
    m = m_new;
    v = v_new;
    p -= step * m_new / (std::sqrt(v_new) + eps);
  }
};

// Calls body(step_functor) with the functor for cfg at 1-based step t, so the
// loop inside body is compiled once per optimizer with the step inlined.
template <typename T, typename Body>
void with_optimizer_step(const OptimConfig& cfg, int64_t t, Body&& body) {
  const T lr = static_cast<T>(cfg.learning_rate);
  const T mu = static_cast<T>(cfg.momentum);
  switch (cfg.kind) {
    case Optim::sgd: return body(SgdStep<T>{lr});
    case Optim::momentum: return body(MomentumStep<T>{lr, mu});
    case Optim::nesterov: return body(NesterovStep<T>{lr, mu});
    case Optim::adam: {
      const double b1 = cfg.beta_1, b2 = cfg.beta_2;
      const T step = static_cast<T>(cfg.learning_rate * std::sqrt(1.0 - std::pow(b2, double(t))) /
                                    (1.0 - std::pow(b1, double(t))));
      return body(
          AdamStep<T>{step, static_cast<T>(b1), static_cast<T>(b2), static_cast<T>(cfg.epsilon)});
    }
  }
}

}  // namespace fastmlp

// The L1 part of scikit-learn's SGD penalty (sklearn/linear_model/_sgd_fast.pyx):
// the cumulative-penalty truncation of
//   Y. Tsuruoka, J. Tsujii and S. Ananiadou, "Stochastic gradient descent
//   training for L1-regularized log-linear models with cumulative penalty",
//   ACL-IJCNLP 2009, pp. 477-485.
//
// After every update, u has grown by eta * l1 (the L1 step every weight could
// have taken so far) and q[i] holds the L1 steps weight i has actually taken
// (negative for a positive weight). Each weight moves towards zero by what it
// is still owed, and stops at zero instead of crossing it:
//   w > 0: w = max(0, w - (u + q)),  w < 0: w = min(0, w + (u - q)),
//   q += w_new - w_old.
// The arithmetic is in double whatever T is, as scikit-learn's.
#pragma once

#include <algorithm>
#include <cstdint>

namespace fastmlp {

// w[n], q[n]: the weights and their L1 steps taken so far; u: the total owed.
template <typename T>
inline void l1_cumulative_penalty(T* w, T* q, int64_t n, double u) {
  for (int64_t i = 0; i < n; ++i) {
    const double z = w[i];
    if (z > 0.0)
      w[i] = static_cast<T>(std::max(0.0, z - (u + double(q[i]))));
    else if (z < 0.0)
      w[i] = static_cast<T>(std::min(0.0, z + (u - double(q[i]))));
    q[i] = static_cast<T>(double(q[i]) + (double(w[i]) - z));
  }
}

// The weight norms in scikit-learn's SGD objective, kept its way: its
// weight vector recomputes ||w||^2 and ||w||_1 when a sample changes the
// weights and scales them with each L2 shrink, but the L1 truncation leaves
// them as they were. Its stopping rule compares that objective, so a fit
// that is to stop at the same epoch keeps the same figures.
struct ObjectiveNorms {
  double squares = 0, absolute = 0;
  bool known = false;  // false: take the weights' own norms at the next use

  template <typename T>
  void measure(const T* w, int64_t n, bool add) {
    if (!add) squares = absolute = 0;
    for (int64_t i = 0; i < n; ++i) {
      squares += double(w[i]) * double(w[i]);
      absolute += w[i] < T(0) ? -double(w[i]) : double(w[i]);
    }
    known = true;
  }
  void shrink(double factor) {
    squares *= factor * factor;
    absolute *= factor < 0 ? -factor : factor;
  }
};

}  // namespace fastmlp

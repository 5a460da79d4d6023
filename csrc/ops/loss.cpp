// Output activation fused with the loss: one pass over the logits gives the
// probabilities, the loss and the output delta dL/dz. Computing from logits
// (log-sum-exp, log1p) keeps the loss finite where p = 0 or 1 would not be.
#include <algorithm>
#include <cmath>

#include "kernels.h"

namespace fastmlp {
namespace {

// softmax + categorical cross-entropy for one row of O logits.
// loss = sum_o y_o (lse - z_o); dL/dz = softmax * sum(y) - y.
template <typename T>
double softmax_ce_row(T* a, T* dz, const T* z, const T* y, int64_t O, T coef) {
  T max_z = z[0];
  for (int64_t o = 1; o < O; ++o) max_z = std::max(max_z, z[o]);
  double sum_exp = 0;
  for (int64_t o = 0; o < O; ++o) sum_exp += std::exp(static_cast<double>(z[o] - max_z));
  const double lse = static_cast<double>(max_z) + std::log(sum_exp);
  double loss = 0, sum_y = 0;
  for (int64_t o = 0; o < O; ++o) {
    loss += static_cast<double>(y[o]) * (lse - static_cast<double>(z[o]));
    sum_y += y[o];
  }
  for (int64_t o = 0; o < O; ++o) {
    const T p = static_cast<T>(std::exp(static_cast<double>(z[o]) - lse));
    if (dz != nullptr) dz[o] = (p * static_cast<T>(sum_y) - y[o]) * coef;
    a[o] = p;  // written last: a may alias z
  }
  return loss;
}

// sigmoid + binary cross-entropy per output, from logits:
// loss = max(z,0) - z y + log1p(e^-|z|); dL/dz = sigmoid(z) - y.
template <typename T>
double sigmoid_bce_row(T* a, T* dz, const T* z, const T* y, int64_t O, T coef) {
  double loss = 0;
  for (int64_t o = 0; o < O; ++o) {
    const T zo = z[o];
    loss += std::max(zo, T(0)) - zo * y[o] + std::log1p(std::exp(-std::abs(zo)));
    const T e = std::exp(-std::abs(zo));
    const T p = zo >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
    if (dz != nullptr) dz[o] = (p - y[o]) * coef;
    a[o] = p;
  }
  return loss;
}

// any elementwise output + 0.5 * squared error; dL/dz = (a - y) g'(a).
template <typename T>
double squared_error_row(T* a, T* dz, const T* z, const T* y, int64_t O, T coef, Act out_act,
                         T slope) {
  if (a != z)
    for (int64_t o = 0; o < O; ++o) a[o] = z[o];
  bias_activation_forward<T>(a, nullptr, 1, O, out_act, slope);
  double loss = 0;
  for (int64_t o = 0; o < O; ++o) {
    const T diff = a[o] - y[o];
    loss += 0.5 * static_cast<double>(diff) * diff;
    if (dz != nullptr) dz[o] = diff * coef;
  }
  if (dz != nullptr && out_act != Act::identity)
    activation_backward<T>(dz, dz, a, O, out_act, slope);
  return loss;
}

// step output + the perceptron rule: delta = h(x) - y, loss = outputs wrong.
template <typename T>
double perceptron_row(T* a, T* dz, const T* z, const T* y, int64_t O, T coef) {
  double wrong = 0;
  for (int64_t o = 0; o < O; ++o) {
    const T h = z[o] >= T(0) ? T(1) : T(0);
    wrong += std::abs(static_cast<double>(h - y[o]));
    if (dz != nullptr) dz[o] = (h - y[o]) * coef;
    a[o] = h;
  }
  return wrong;
}

// step output + scikit-learn's perceptron (its Hinge loss at threshold 0):
// the target 0/1 is read as s = -1/+1, and a row is wrong when s z <= 0, so
// z = 0 counts as wrong for either class (the step rule above calls it right
// for class 1). loss = max(0, -s z), dL/dz = -s on a wrong row, 0 otherwise.
template <typename T>
double perceptron_hinge_row(T* a, T* dz, const T* z, const T* y, int64_t O, T coef) {
  double loss = 0;
  for (int64_t o = 0; o < O; ++o) {
    const T zo = z[o];  // read before a[o] is written: a may alias z
    const T s = y[o] > T(0.5) ? T(1) : T(-1);
    const bool wrong = s * zo <= T(0);
    if (wrong) loss -= static_cast<double>(s * zo);
    if (dz != nullptr) dz[o] = wrong ? -s * coef : T(0);
    a[o] = zo >= T(0) ? T(1) : T(0);
  }
  return loss;
}

// exp output + half the Poisson deviance, scikit-learn's 'poisson' loss:
// loss = sum_o [y log(y / a) - y + a] with a = e^z (0 log 0 = 0),
// computed from z so a large z costs no log of an overflowed a; dL/dz = a - y.
template <typename T>
double poisson_row(T* a, T* dz, const T* z, const T* y, int64_t O, T coef) {
  double loss = 0;
  for (int64_t o = 0; o < O; ++o) {
    const double zo = z[o], yo = y[o];
    const double ao = std::exp(zo);
    loss += (yo > 0 ? yo * (std::log(yo) - zo) : 0.0) - yo + ao;
    const T p = static_cast<T>(ao);
    if (dz != nullptr) dz[o] = (p - y[o]) * coef;
    a[o] = p;  // written last: a may alias z
  }
  return loss;
}

template <typename T>
double loss_rows(T* a, T* dz, const T* z, const T* y, const T* w, int64_t N, int64_t O, Loss loss,
                 Act out_act, T slope, T scale) {
  double total = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T weight = w != nullptr ? w[n] : T(1);
    const T coef = scale * weight;
    T* a_row = a + n * O;
    T* dz_row = dz != nullptr ? dz + n * O : nullptr;
    const T* z_row = z + n * O;
    const T* y_row = y + n * O;
    double row_loss = 0;
    switch (loss) {
      case Loss::categorical_cross_entropy:
        row_loss = softmax_ce_row(a_row, dz_row, z_row, y_row, O, coef);
        break;
      case Loss::binary_cross_entropy:
        row_loss = sigmoid_bce_row(a_row, dz_row, z_row, y_row, O, coef);
        break;
      case Loss::squared_error:
        row_loss = squared_error_row(a_row, dz_row, z_row, y_row, O, coef, out_act, slope);
        break;
      case Loss::perceptron: row_loss = perceptron_row(a_row, dz_row, z_row, y_row, O, coef); break;
      case Loss::poisson: row_loss = poisson_row(a_row, dz_row, z_row, y_row, O, coef); break;
      case Loss::perceptron_hinge:
        row_loss = perceptron_hinge_row(a_row, dz_row, z_row, y_row, O, coef);
        break;
    }
    total += row_loss * static_cast<double>(weight);
  }
  return total * static_cast<double>(scale);
}

}  // namespace

// z, y, a, dz: [N,O]; w: [N] or nullptr
template <typename T>
double loss_forward_backward(T* a, T* dz, const T* z, const T* y, const T* w, int64_t N, int64_t O,
                             Loss loss, Act out_act, T slope, T scale) {
  return loss_rows<T>(a, dz, z, y, w, N, O, loss, out_act, slope, scale);
}

// z, y, a: [N,O]; w: [N] or nullptr
template <typename T>
double loss_forward(T* a, const T* z, const T* y, const T* w, int64_t N, int64_t O, Loss loss,
                    Act out_act, T slope, T scale) {
  return loss_rows<T>(a, nullptr, z, y, w, N, O, loss, out_act, slope, scale);
}

template double loss_forward_backward<float>(float*, float*, const float*, const float*,
                                             const float*, int64_t, int64_t, Loss, Act, float,
                                             float);
template double loss_forward_backward<double>(double*, double*, const double*, const double*,
                                              const double*, int64_t, int64_t, Loss, Act, double,
                                              double);
template double loss_forward<float>(float*, const float*, const float*, const float*, int64_t,
                                    int64_t, Loss, Act, float, float);
template double loss_forward<double>(double*, const double*, const double*, const double*, int64_t,
                                     int64_t, Loss, Act, double, double);

}  // namespace fastmlp

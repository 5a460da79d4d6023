// Native GEMM benchmark: for every supported instruction set, checks the float32
// GEMM against gemm_reference and prints GFLOP/s (median of repeats) on the MLP
// layer shapes, forward and both backward products, at 1 and 2 threads.
//
//   fastmlp_bench [threads...] [filter...]
//     threads: e.g. `1 2` (the default); filter: only shapes whose name contains
//     one of these substrings, e.g. `fastmlp_bench 1 dW fwd`.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "isa/kernel_table.h"
#include "kernels.h"

using namespace fastmlp;

namespace {

using SgemmFn = void (*)(float*, int64_t, const float*, int64_t, bool, const float*, int64_t, bool,
                         int64_t, int64_t, int64_t, float);

struct Variant {
  Isa isa;
  SgemmFn fn;
};

std::vector<Variant> variants() {
  std::vector<Variant> v;
  for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (isa_supported(isa)) v.push_back({isa, kernels_for(isa).sgemm});
  return v;
}

// One GEMM problem: C[M,Nc] = op(A) op(B) with the layout a layer pass uses.
struct Problem {
  std::string name;
  int64_t M, Nc, K;
  bool trans_a, trans_b;
  std::vector<float> A, B;
  int64_t lda() const { return trans_a ? M : K; }
  int64_t ldb() const { return trans_b ? K : Nc; }
};

Problem make_problem(const std::string& kind, int64_t N, int64_t I, int64_t O, std::mt19937& rng) {
  Problem p;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%-3s N=%-5lld I=%-4lld O=%-4lld", kind.c_str(), (long long)N,
                (long long)I, (long long)O);
  p.name = buf;
  if (kind == "fwd") {  // Z[N,O] = X[N,I] W[I,O]
    p.M = N, p.Nc = O, p.K = I, p.trans_a = false, p.trans_b = false;
  } else if (kind == "dW") {  // dW[I,O] = X^T dZ, X stored N x I
    p.M = I, p.Nc = O, p.K = N, p.trans_a = true, p.trans_b = false;
  } else {  // dA[N,I] = dZ W^T, W stored I x O
    p.M = N, p.Nc = I, p.K = O, p.trans_a = false, p.trans_b = true;
  }
  std::normal_distribution<float> normal(0.f, 1.f);
  p.A.resize(p.M * p.K);
  p.B.resize(p.K * p.Nc);
  for (float& x : p.A) x = normal(rng);
  for (float& x : p.B) x = normal(rng);
  return p;
}

void run(const Problem& p, SgemmFn fn, std::vector<float>& C) {
  fn(C.data(), p.Nc, p.A.data(), p.lda(), p.trans_a, p.B.data(), p.ldb(), p.trans_b, p.M, p.Nc, p.K,
     0.f);
}

// ||C - ref|| / ||ref||
double relative_error(const std::vector<float>& C, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < C.size(); ++i) {
    const double d = double(C[i]) - double(ref[i]);
    num += d * d;
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

// Median GFLOP/s over 9 timed batches, each long enough (~2 ms) to beat timer noise.
double gflops(const Problem& p, SgemmFn fn, std::vector<float>& C) {
  using clock = std::chrono::steady_clock;
  const double flops = 2.0 * p.M * p.Nc * p.K;
  int reps = 1;
  for (;;) {
    const auto t0 = clock::now();
    for (int r = 0; r < reps; ++r) run(p, fn, C);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (s > 2e-3 || reps > (1 << 20)) break;
    reps *= 2;
  }
  std::vector<double> rates;
  for (int t = 0; t < 9; ++t) {
    const auto t0 = clock::now();
    for (int r = 0; r < reps; ++r) run(p, fn, C);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    rates.push_back(flops * reps / s / 1e9);
  }
  std::nth_element(rates.begin(), rates.begin() + 4, rates.end());
  return rates[4];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts;
  std::vector<std::string> filters;
  for (int i = 1; i < argc; ++i) {
    if (std::atoi(argv[i]) > 0)
      thread_counts.push_back(std::atoi(argv[i]));
    else
      filters.emplace_back(argv[i]);
  }
  auto wanted = [&](const std::string& name) {
    if (filters.empty()) return true;
    for (const auto& f : filters)
      if (name.find(f) != std::string::npos) return true;
    return false;
  };
  if (thread_counts.empty()) thread_counts = {1, 2};

  const auto vars = variants();
  std::mt19937 rng(42);
  const int64_t batches[] = {1, 32, 128, 1024};
  // The MLP 784-256-128-10 layers, and a single-output (binary logistic) layer.
  const int64_t layers[][2] = {{784, 256}, {256, 128}, {128, 10}, {784, 1}};

  std::printf("%-30s %3s", "shape (GFLOP/s)", "thr");
  for (const auto& v : vars) std::printf(" %9s", isa_name(v.isa));
  std::printf("   max rel err\n");
  bool ok = true;
  for (int64_t N : batches) {
    for (const auto& layer : layers) {
      for (const char* kind : {"fwd", "dW", "dA"}) {
        const Problem p = make_problem(kind, N, layer[0], layer[1], rng);
        if (!wanted(p.name)) continue;
        std::vector<float> ref(p.M * p.Nc), C(p.M * p.Nc);
        gemm_reference<float>(ref.data(), p.Nc, p.A.data(), p.lda(), p.trans_a, p.B.data(), p.ldb(),
                              p.trans_b, p.M, p.Nc, p.K, 0.f);
        double worst = 0;
        for (const auto& v : vars) {
          std::fill(C.begin(), C.end(), NAN);  // beta = 0 must ignore garbage
          run(p, v.fn, C);
          worst = std::max(worst, relative_error(C, ref));
        }
        const double tol = 1e-6 * std::sqrt(double(p.K)) + 1e-7;
        if (!(worst <= tol)) ok = false;
        for (int threads : thread_counts) {
          set_num_threads(threads);
          std::printf("%-30s %3d", p.name.c_str(), threads);
          for (const auto& v : vars) std::printf(" %9.2f", gflops(p, v.fn, C));
          std::printf("   %.1e%s\n", worst, worst <= tol ? "" : "  MISMATCH");
        }
      }
    }
  }
  if (!ok) std::printf("FAILED: some variant disagrees with gemm_reference\n");
  return ok ? 0 : 1;
}

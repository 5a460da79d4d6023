// The kernel table: every per-instruction-set kernel behind one struct of
// function pointers, one constant table per instruction set, and the active
// table picked once (at startup, or by set_isa), never switched on per call.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels.h"

namespace fastmlp {

enum class Isa : int { reference = 0, baseline = 1, avx2 = 2, avx512 = 3 };

struct KernelTable {
  Isa isa;

  // C = beta C + op(A) op(B) in float32 (the contract of gemm_reference).
  void (*sgemm)(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a, const float* B,
                int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K, float beta);
  // The same in float64.
  void (*dgemm)(double* C, int64_t ldc, const double* A, int64_t lda, bool trans_a, const double* B,
                int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K, double beta);

  // optimizer_update over a flat float32 buffer (vectorized, threaded for large n).
  void (*optimizer_update)(float* params, float* m, float* v, const float* grads, int64_t n,
                           const OptimConfig& cfg, int64_t t);
  // The same in float64.
  void (*optimizer_update_f64)(double* params, double* m, double* v, const double* grads, int64_t n,
                               const OptimConfig& cfg, int64_t t);

  // The fused batch-1 kernels (fused/batch_one.h), float32 then float64; nullptr in the reference
  // table, whose callers take the unfused path.
  //   dense_forward_one: z[O] = x[I] W[I,O] (no bias) through partial[] (of
  //   dense_forward_one_scratch(I, O) floats); x == nullptr: the partial sums
  //   are already there (left by dense_backward_update_one), only summed.
  void (*dense_forward_one)(float* z, float* partial, const float* x, const float* W, int64_t I,
                            int64_t O);
  void (*dense_forward_one_f64)(double* z, double* partial, const double* x, const double* W,
                                int64_t I, int64_t O);
  //   dense_backward_update_one: da_prev = W delta (old W), then one optimizer
  //   step on every W[i,o] (g = a_prev[i] delta[o] + l2 W[i,o]) and b[o]
  //   (g = delta[o]) unless the bias is frozen; with next_x, the next
  //   example's forward partial sums from the updated rows.
  void (*dense_backward_update_one)(const DenseLayerState<float>& layer,
                                    const SingleExampleSignals<float>& io,
                                    const UpdateStep<float>& step);
  //   (each in float64 too)
  void (*dense_backward_update_one_f64)(const DenseLayerState<double>& layer,
                                        const SingleExampleSignals<double>& io,
                                        const UpdateStep<double>& step);

  // C = beta C + op(A) op(B) in float32 with bfloat16 products (the contract
  // of gemm/bf16.h); nullptr in the tables without such a kernel (baseline,
  // avx2, and avx512 in a build whose compiler lacks AVX512_BF16).
  void (*sgemm_bf16)(float* C, int64_t ldc, const float* A, int64_t lda, bool trans_a,
                     const float* B, int64_t ldb, bool trans_b, int64_t M, int64_t Nc, int64_t K,
                     float beta);

  bool has_fused_kernels() const { return dense_backward_update_one != nullptr; }

  // The fused kernels of element type T, for code written once over both dtypes.
  template <typename T>
  auto fused_forward_one() const {
    if constexpr (std::is_same_v<T, float>)
      return dense_forward_one;
    else
      return dense_forward_one_f64;
  }
  template <typename T>
  auto fused_backward_update_one() const {
    if constexpr (std::is_same_v<T, float>)
      return dense_backward_update_one;
    else
      return dense_backward_update_one_f64;
  }
};

// One table per instruction set, each defined in the file compiled for it.
extern const KernelTable reference_kernels;  // isa/reference.cpp
extern const KernelTable baseline_kernels;   // isa/baseline.cpp
#ifdef FASTMLP_X86
extern const KernelTable avx2_kernels;    // isa/avx2.cpp
extern const KernelTable avx512_kernels;  // isa/avx512.cpp
#endif

// The active ISA is the best the CPU supports, unless FASTMLP_ISA=
// reference|baseline|avx2|avx512 or set_isa() asks for another.
Isa best_supported_isa();
bool isa_supported(Isa isa);
Isa active_isa();
void set_isa(Isa isa);  // callers check isa_supported first
const char* isa_name(Isa isa);
// The float32 FMA peak in GFLOP/s of `threads` threads running that set's widest
// FMA (avx512: zmm, avx2: ymm) for about `seconds` (isa/machine_probes.cpp); throws
// std::invalid_argument for other sets, other CPUs and non-x86 builds.
double fma_peak_gflops(Isa isa, int threads, double seconds);
// GB/s of `threads` threads each reading its own `bytes`-long buffer over and
// over with zmm loads (the bandwidth of the cache level that size fits in);
// throws std::invalid_argument without AVX-512 or off x86.
double read_bandwidth_gbs(int64_t bytes, int threads, double seconds);

// Why `table` cannot run bfloat16 products (no such kernel in it, or a CPU
// without AVX512_BF16 and AVX512BW), or nullptr when it can.
const char* bf16_products_unavailable(const KernelTable& table);

const KernelTable& kernels();             // the active table
const KernelTable& kernels_for(Isa isa);  // a named one (the caller checks isa_supported)

}  // namespace fastmlp

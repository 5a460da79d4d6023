// Picking the instruction set: the best the CPU supports (or FASTMLP_ISA, or
// set_isa), and with it the one active kernel table every caller reads.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "isa/cpu_features.h"
#include "isa/kernel_table.h"

namespace fastmlp {
namespace {

Isa detect_best() {
  const CpuFeatures f = detect_cpu_features();
  if (f.avx512f && f.avx512vl && f.avx512dq && f.fma) return Isa::avx512;
  if (f.avx2 && f.fma) return Isa::avx2;
  return Isa::baseline;
}

Isa initial_isa() {
  const char* env = std::getenv("FASTMLP_ISA");
  if (env != nullptr) {
    for (Isa isa : {Isa::reference, Isa::baseline, Isa::avx2, Isa::avx512}) {
      if (std::strcmp(env, isa_name(isa)) == 0 && isa_supported(isa)) return isa;
    }
  }
  return detect_best();
}

// Atomic, so a set_isa from one thread and a training epoch in another never
// read a torn pointer; a running epoch keeps the table it started with.
std::atomic<const KernelTable*>& active_table() {
  static std::atomic<const KernelTable*> table{&kernels_for(initial_isa())};
  return table;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::reference: return "reference";
    case Isa::baseline: return "baseline";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

Isa best_supported_isa() {
  static const Isa best = detect_best();
  return best;
}

bool isa_supported(Isa isa) {
  return static_cast<int>(isa) <= static_cast<int>(best_supported_isa());
}

const KernelTable& kernels_for(Isa isa) {
  switch (isa) {
    case Isa::reference: return reference_kernels;
#ifdef FASTMLP_X86
    case Isa::avx2: return avx2_kernels;
    case Isa::avx512: return avx512_kernels;
#endif
    default: return baseline_kernels;
  }
}

const char* bf16_products_unavailable(const KernelTable& table) {
  if (table.isa == Isa::reference) return nullptr;  // plain loops run anywhere
  if (table.sgemm_bf16 == nullptr)
    return table.isa == Isa::avx512
               ? "this build of fastmlp has no bfloat16 kernels (its compiler lacked AVX512_BF16)"
               : "bfloat16 products need a CPU with AVX512_BF16 and AVX512BW; this one runs the "
                 "float32 kernels of a narrower instruction set";
  static const CpuFeatures f = detect_cpu_features();
  if (!f.avx512_bf16 || !f.avx512bw)
    return "bfloat16 products need a CPU with AVX512_BF16 and AVX512BW; this one has AVX-512 "
           "without them";
  return nullptr;
}

const KernelTable& kernels() { return *active_table().load(std::memory_order_acquire); }

Isa active_isa() { return kernels().isa; }

void set_isa(Isa isa) { active_table().store(&kernels_for(isa), std::memory_order_release); }

}  // namespace fastmlp

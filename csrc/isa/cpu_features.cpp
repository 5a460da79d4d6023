// Runtime CPU detection: cpuid says what the processor has; xgetbv says which
// register states the operating system saves on a context switch. An
// instruction set is usable only when both agree (a CPU with AVX-512 under an
// OS that does not save zmm state must not run AVX-512 code).
#include "isa/cpu_features.h"

#include <cstdint>

#if defined(FASTMLP_X86) && defined(_MSC_VER)
#include <intrin.h>
#elif defined(FASTMLP_X86)
#include <cpuid.h>
#endif

namespace fastmlp {
namespace {

#ifdef FASTMLP_X86
struct CpuidRegs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegs cpuid(uint32_t leaf, uint32_t subleaf) {
  CpuidRegs r;
#ifdef _MSC_VER
  int regs[4];
  __cpuidex(regs, static_cast<int>(leaf), static_cast<int>(subleaf));
  r.eax = static_cast<uint32_t>(regs[0]);
  r.ebx = static_cast<uint32_t>(regs[1]);
  r.ecx = static_cast<uint32_t>(regs[2]);
  r.edx = static_cast<uint32_t>(regs[3]);
#else
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
#endif
  return r;
}

// XCR0: the register states the OS has enabled. Only call when cpuid reports
// OSXSAVE (xgetbv faults otherwise).
uint64_t xcr0() {
#ifdef _MSC_VER
  return _xgetbv(0);
#else
  // Inline assembly rather than _xgetbv, which needs -mxsave on this
  // baseline-compiled file.
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
#endif
}

constexpr bool bit(uint32_t reg, int n) { return (reg >> n) & 1u; }
#endif

}  // namespace

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#ifdef FASTMLP_X86
  const uint32_t max_leaf = cpuid(0, 0).eax;
  if (max_leaf < 1) return f;
  const CpuidRegs l1 = cpuid(1, 0);
  const bool osxsave = bit(l1.ecx, 27), avx = bit(l1.ecx, 28);
  if (!osxsave || !avx) return f;
  const uint64_t xcr = xcr0();
  const bool os_ymm = (xcr & 0x6) == 0x6;    // SSE and AVX state
  const bool os_zmm = (xcr & 0xE6) == 0xE6;  // and opmask, ZMM_Hi256, Hi16_ZMM
  if (!os_ymm) return f;
  f.fma = bit(l1.ecx, 12);
  if (max_leaf < 7) return f;
  const CpuidRegs l7 = cpuid(7, 0);
  f.avx2 = bit(l7.ebx, 5);
  if (os_zmm) {
    f.avx512f = bit(l7.ebx, 16);
    f.avx512dq = bit(l7.ebx, 17);
    f.avx512vl = bit(l7.ebx, 31);
    f.avx512bw = bit(l7.ebx, 30);
    // Leaf 7 subleaf 1 exists when subleaf 0 reports it in eax.
    if (l7.eax >= 1) f.avx512_bf16 = bit(cpuid(7, 1).eax, 5);
  }
#endif
  return f;
}

}  // namespace fastmlp

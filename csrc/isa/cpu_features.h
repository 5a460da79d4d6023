// What the CPU and the operating system let fastmlp run, read with cpuid and
// xgetbv (no compiler builtins, so GCC, Clang and MSVC all build it).
#pragma once

namespace fastmlp {

struct CpuFeatures {
  bool fma = false;
  bool avx2 = false;     // and the OS saves the ymm registers
  bool avx512f = false;  // and the OS saves the zmm and mask registers
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512bw = false;
  bool avx512_bf16 = false;  // vdpbf16ps and the bfloat16 conversions
};

// All false off x86.
CpuFeatures detect_cpu_features();

}  // namespace fastmlp

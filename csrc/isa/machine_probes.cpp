// Machine probes for the benchmarks' ceilings. The float32 FMA peak, measured: each thread runs
// twelve independent chains of vector FMAs in inline assembly (a C loop of identical FMA chains is
// merged by the compiler into one chain, so it would measure latency, not throughput). Twelve
// chains cover 4-cycle latency on two FMA pipes with room to spare. Benchmarks call it in the same
// run as what they compare with it, because on a shared host the peak moves with the load.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "aligned.h"
#include "isa/cpu_features.h"
#include "isa/kernel_table.h"
#include "kernels.h"
#include "thread_team.h"

namespace fastmlp {
namespace {

#if defined(FASTMLP_X86) && (defined(__GNUC__) || defined(__clang__))
#define FASTMLP_FMA_PROBE 1

#define FMA12(reg)                               \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg \
  "0\n\t"                                        \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg \
  "1\n\t"                                        \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg \
  "2\n\t"                                        \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg \
  "3\n\t"                                        \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg \
  "4\n\t"                                        \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg \
  "5\n\t"                                        \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg \
  "6\n\t"                                        \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg \
  "7\n\t"                                        \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg \
  "8\n\t"                                        \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg \
  "9\n\t"                                        \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg \
  "10\n\t"                                       \
  "vfmadd231ps %%" reg "12, %%" reg "13, %%" reg "11\n\t"

// The zeroing uses xmm forms (VEX zeroes the upper lanes too); zeros keep the
// operands away from subnormal slow paths. vzeroupper at the end avoids the
// SSE transition penalty in the caller.
#define FMA_LOOP(reg) \
  asm volatile(                                                                             \
      "vxorps %%xmm0, %%xmm0, %%xmm0\n\t"                                                   \
      "vxorps %%xmm1, %%xmm1, %%xmm1\n\t"                                                   \
      "vxorps %%xmm2, %%xmm2, %%xmm2\n\t"                                                   \
      "vxorps %%xmm3, %%xmm3, %%xmm3\n\t"                                                   \
      "vxorps %%xmm4, %%xmm4, %%xmm4\n\t"                                                   \
      "vxorps %%xmm5, %%xmm5, %%xmm5\n\t"                                                   \
      "vxorps %%xmm6, %%xmm6, %%xmm6\n\t"                                                   \
      "vxorps %%xmm7, %%xmm7, %%xmm7\n\t"                                                   \
      "vxorps %%xmm8, %%xmm8, %%xmm8\n\t"                                                   \
      "vxorps %%xmm9, %%xmm9, %%xmm9\n\t"                                                   \
      "vxorps %%xmm10, %%xmm10, %%xmm10\n\t"                                                \
      "vxorps %%xmm11, %%xmm11, %%xmm11\n\t"                                                \
      "vxorps %%xmm12, %%xmm12, %%xmm12\n\t"                                                \
      "vxorps %%xmm13, %%xmm13, %%xmm13\n\t"                                                \
      "1:\n\t" FMA12(reg) "dec %0\n\t"                                                      \
      "jnz 1b\n\t"                                                                          \
      "vzeroupper\n\t"                                                                      \
      : "+r"(iterations)                                                                    \
      :                                                                                     \
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
        "xmm10", "xmm11", "xmm12", "xmm13", "cc")

void fma_chains_zmm(int64_t iterations) { FMA_LOOP("zmm"); }
void fma_chains_ymm(int64_t iterations) { FMA_LOOP("ymm"); }

#undef FMA_LOOP
#undef FMA12

// Reads `bytes` (a multiple of 512, 64-byte aligned) from p once, 512 bytes
// per trip into eight independent zmm sums: the load ports, not the adds,
// are the limit, as in a batch-1 layer that streams its weights.
void read_pass_zmm(const char* p, int64_t bytes) {
  const char* end = p + bytes;
  asm volatile(
      "vxorps %%xmm0, %%xmm0, %%xmm0\n\t"
      "vxorps %%xmm1, %%xmm1, %%xmm1\n\t"
      "vxorps %%xmm2, %%xmm2, %%xmm2\n\t"
      "vxorps %%xmm3, %%xmm3, %%xmm3\n\t"
      "vxorps %%xmm4, %%xmm4, %%xmm4\n\t"
      "vxorps %%xmm5, %%xmm5, %%xmm5\n\t"
      "vxorps %%xmm6, %%xmm6, %%xmm6\n\t"
      "vxorps %%xmm7, %%xmm7, %%xmm7\n\t"
      "1:\n\t"
      "vaddps (%0), %%zmm0, %%zmm0\n\t"
      "vaddps 64(%0), %%zmm1, %%zmm1\n\t"
      "vaddps 128(%0), %%zmm2, %%zmm2\n\t"
      "vaddps 192(%0), %%zmm3, %%zmm3\n\t"
      "vaddps 256(%0), %%zmm4, %%zmm4\n\t"
      "vaddps 320(%0), %%zmm5, %%zmm5\n\t"
      "vaddps 384(%0), %%zmm6, %%zmm6\n\t"
      "vaddps 448(%0), %%zmm7, %%zmm7\n\t"
      "add $512, %0\n\t"
      "cmp %1, %0\n\t"
      "jb 1b\n\t"
      "vzeroupper\n\t"
      : "+r"(p)
      : "r"(end)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "cc", "memory");
}
#endif

// Seconds of the slowest of `threads` threads each running work(t); every
// thread first runs prepare(t), and all start together after a barrier. On
// the kernels' own thread team, so a probe measures the threads they run on.
template <class Prepare, class Work>
double slowest_thread_seconds(int threads, const Prepare& prepare, const Work& work) {
  std::vector<double> seconds(threads, 0.0);
  int team_size = 0;
  run_team(threads, [&](const TeamMember& member) {
    const int t = member.thread();
    if (t == 0) team_size = member.threads();
    prepare(t);
    member.barrier();
    const auto start = std::chrono::steady_clock::now();
    work(t);
    seconds[t] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  });
  if (team_size != threads)
    throw std::runtime_error("a machine probe asked for " + std::to_string(threads) +
                             " threads and got " + std::to_string(team_size) +
                             " (another fastmlp call was running, or no thread could be started)");
  return *std::max_element(seconds.begin(), seconds.end());
}

// Units of work per second, best of three runs: seconds_for(n) times n units,
// and n is first grown from 1 until a run lasts 10 ms, then set so the three
// runs take about `seconds` in all. The best, because a probe measures what the
// cores can do: a burst of outside load is noise.
template <class Timed>
double best_rate(const Timed& seconds_for, double seconds) {
  int64_t n = 1;
  while (seconds_for(n) < 0.01 && n < (int64_t(1) << 40)) n *= 4;
  const double probe = seconds_for(n);
  n = std::max<int64_t>(1, static_cast<int64_t>(double(n) * seconds / 3.0 / probe));
  double best = 0;
  for (int run = 0; run < 3; ++run) best = std::max(best, double(n) / seconds_for(n));
  return best;
}

}  // namespace

double fma_peak_gflops(Isa isa, int threads, double seconds) {
#ifdef FASTMLP_FMA_PROBE
  const CpuFeatures f = detect_cpu_features();
  void (*chains)(int64_t) = nullptr;
  int lanes = 0;
  if (isa == Isa::avx512 && f.avx512f) chains = fma_chains_zmm, lanes = 16;
  if (isa == Isa::avx2 && f.avx2 && f.fma) chains = fma_chains_ymm, lanes = 8;
  if (chains == nullptr)
    throw std::invalid_argument(std::string("no FMA peak probe for instruction set '") +
                                isa_name(isa) + "' on this CPU (probes: avx2, avx512)");
  threads = std::max(1, threads);
  // 12 chains x lanes x 2 flops per loop trip and thread
  const double trips_per_second = best_rate(
      [&](int64_t trips) {
        return slowest_thread_seconds(
            threads, [](int) {}, [&](int) { chains(trips); });
      },
      seconds);
  return trips_per_second * 12.0 * lanes * 2.0 * threads / 1e9;
#else
  (void)threads, (void)seconds;
  throw std::invalid_argument(std::string("no FMA peak probe for instruction set '") +
                              isa_name(isa) + "' in this build (x86-64 with GCC or Clang only)");
#endif
}

double read_bandwidth_gbs(int64_t bytes, int threads, double seconds) {
#ifdef FASTMLP_FMA_PROBE
  if (!detect_cpu_features().avx512f)
    throw std::invalid_argument("the read-bandwidth probe needs AVX-512 (zmm loads)");
  threads = std::max(1, threads);
  bytes = std::max<int64_t>(512, (bytes + 511) / 512 * 512);
  // One buffer per thread, touched first by the thread that reads it.
  std::vector<AlignedVector<char>> buffers(threads);
  const double passes_per_second = best_rate(
      [&](int64_t passes) {
        return slowest_thread_seconds(
            threads,
            [&](int t) {
              if (buffers[t].empty()) buffers[t].assign(bytes, char(0));
              read_pass_zmm(buffers[t].data(), bytes);  // into the cache level being measured
            },
            [&](int t) {
              for (int64_t i = 0; i < passes; ++i) read_pass_zmm(buffers[t].data(), bytes);
            });
      },
      seconds);
  return passes_per_second * double(bytes) * threads / 1e9;
#else
  (void)bytes, (void)threads, (void)seconds;
  throw std::invalid_argument(
      "no read-bandwidth probe in this build (x86-64 with GCC or Clang only)");
#endif
}

}  // namespace fastmlp

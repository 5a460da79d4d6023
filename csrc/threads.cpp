// Thread count: one place, so every kernel agrees on it.
#include "kernels.h"
#include "thread_team.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastmlp {

int get_num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n < 1 ? 1 : n);
#else
  (void)n;
#endif
}

double thread_round_trip_ns(int round_trips) {
  if (round_trips < 1) round_trips = 1;
  // Two threads on one CPU would bounce the line once per time slice.
  if (team_outnumbers_cpus(2)) return -1;
  alignas(64) std::atomic<int> ball{0};
  double best = -1;
  int team = 1;
  // On the kernels' thread team: the latency their runs pay.
  run_team(2, [&](const TeamMember& member) {
    const int me = member.thread();
    if (me == 0) team = member.threads();
    if (member.threads() != 2) return;
    // Three batches: the fastest is the latency, the others warm up.
    for (int batch = 0; batch < 3; ++batch) {
      member.barrier();
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < round_trips; ++i) {
        const int serve = 2 * (batch * round_trips + i);
        if (me == 0) {
          ball.store(serve + 1, std::memory_order_release);
          while (ball.load(std::memory_order_acquire) != serve + 2) {
          }
        } else {
          while (ball.load(std::memory_order_acquire) != serve + 1) {
          }
          ball.store(serve + 2, std::memory_order_release);
        }
      }
      if (me == 0) {
        const double ns =
            std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
                .count() /
            round_trips;
        best = best < 0 ? ns : std::min(best, ns);
      }
    }
  });
  return team == 2 ? best : -1;
}

}  // namespace fastmlp

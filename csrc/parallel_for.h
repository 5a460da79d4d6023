// for_each_index: one loop over [0, n), split statically over the thread team
// (thread_team.h) only when the caller says the work is worth it.
//
// The serial case is a plain loop that never touches the team. (Under
// OpenMP, `#pragma omp parallel for if (false)` was not free: libgomp still
// entered the runtime and started a team of one, about 0.35 us per loop on a
// Zen 4 EPYC, three times the 0.11 us of the 256-wide bias + ReLU it wrapped.)
//
// Each index is one independent piece of work (a row, a chunk, a column
// group), so both branches give the same bits. The body is a lambda, whose
// type is local to the file that writes it, so the ISA files that include
// this header under different flags never share an instantiation.
#pragma once

#include <cstdint>

#include "kernels.h"
#include "thread_team.h"

namespace fastmlp {

template <class Body>
inline void for_each_index(int64_t n, bool parallel, const Body& body) {
  const int threads = parallel ? get_num_threads() : 1;
  if (threads > 1 && n > 1) {
    run_team(threads, [&](const TeamMember& member) {
      const int64_t end = member.share_end(n);
      for (int64_t i = member.share_begin(n); i < end; ++i) body(i);
    });
    return;
  }
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace fastmlp

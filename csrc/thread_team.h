// run_team: the kernels' one way to run on several threads.
//
// A persistent team of worker threads, kept spinning between runs, instead
// of an OpenMP parallel region per kernel call. On a two-vCPU Zen 4 EPYC an
// empty `#pragma omp parallel` costs libgomp about four cache-line round
// trips between the cores (0.5 us, or 1.1 us when the hypervisor places the
// vCPUs far apart) and its barrier two; a one-row forward runs two regions
// and a training step a dozen or more. Here a run costs one round trip: the
// caller writes each worker's mailbox line, does its own share, and waits
// for a count to reach zero.
//
// Workers spin on their mailbox for a couple of milliseconds after a run,
// then sleep on a condition variable, so an idle process costs no CPU; every
// spin-wait yields now and then, for teams larger than the machine. The
// team serves one run at a time: a call made while it is busy (another
// thread's kernel, or a kernel called from inside a run) runs as a team of
// one in the calling thread, which gives the same bits, since every kernel's
// results are independent of its thread count. After fork() the child starts
// a fresh team (the parent's workers do not exist there).
#pragma once

#include <cstdint>

namespace fastmlp {

class ThreadTeam;

// One member's view of a run: its index, the team size and the barrier.
class TeamMember {
 public:
  TeamMember(ThreadTeam* team, int thread, int threads)
      : team_(team), thread_(thread), threads_(threads) {}
  int thread() const { return thread_; }
  int threads() const { return threads_; }
  // [begin, end) of this member's share of n items in order: member t of T
  // takes [t n / T, (t + 1) n / T). The one split every kernel uses, so work
  // cut the same way in two loops (packing B slivers, then multiplying
  // them) falls on the same members; the longer shares come last (784 rows
  // in 13 blocks of 64: 6 blocks, then 7 with the short one).
  int64_t share_begin(int64_t n) const { return begin_of(n, thread_); }
  int64_t share_end(int64_t n) const { return begin_of(n, thread_ + 1); }
  // Every member of the run waits here until all have arrived.
  void barrier() const;

 private:
  int64_t begin_of(int64_t n, int64_t t) const { return t * n / threads_; }
  ThreadTeam* team_;
  int thread_, threads_;
};

using TeamBody = void (*)(const void* context, const TeamMember& member);

// body(context, member) on `threads` threads, the caller as member 0; returns
// when every member has returned. A body that throws ends the process (as an
// exception leaving an OpenMP region does): the other members may still be
// using what the caller's frame holds.
void run_team_erased(int threads, TeamBody body, const void* context);

template <class Body>
void run_team(int threads, const Body& body) {
  run_team_erased(
      threads,
      [](const void* context, const TeamMember& member) noexcept {
        (*static_cast<const Body*>(context))(member);
      },
      &body);
}

// Whether a team of `threads` has more threads than this process has CPUs.
bool team_outnumbers_cpus(int threads);

}  // namespace fastmlp

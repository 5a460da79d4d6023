// The persistent worker team behind run_team (see thread_team.h).
#include "thread_team.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <immintrin.h>
#define FASTMLP_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define FASTMLP_CPU_RELAX() \
  __asm__ __volatile__("isb")  // as long as x86's pause; "yield" is a cycle
#else
#define FASTMLP_CPU_RELAX() ((void)0)
#endif

#if !defined(_WIN32)
#include <pthread.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace fastmlp {

namespace {

// How long an idle worker spins before it sleeps: far longer than the gap
// between the runs of a training step or of back-to-back predictions, and
// short enough that a process done with fastmlp soon stops using the CPU.
constexpr auto kSpinBeforeSleep = std::chrono::milliseconds(2);

// Spin-wait rounds between two looks at the clock.
constexpr int kSpinsPerClockRead = 256;

// A spin-wait that gives the CPU away now and then: with more threads than
// CPUs (set_num_threads above the core count, MPI ranks sharing a machine), the
// member being waited for may need the very CPU the waiter spins on. Every
// 1024th round (tens of microseconds of pause) it yields instead, which costs
// one system call when nothing else is waiting to run; in a team larger than
// the machine, every round. (A 5-thread epoch on 2 CPUs: 3.8 s spinning with
// pause alone, 0.10 s yielding every 1024th round, 0.05 s yielding always;
// libgomp took 0.07 s.)
class SpinWait {
 public:
  explicit SpinWait(bool crowded) : yield_every_(crowded ? 1 : 1024) {}
  void once() {
    if (++rounds_ % yield_every_ == 0)
      std::this_thread::yield();
    else
      FASTMLP_CPU_RELAX();
  }

 private:
  uint32_t yield_every_;
  uint32_t rounds_ = 0;
};

// CPUs this process may run on: its affinity mask where Linux has one (a
// container's or taskset's share), else the machine's count; 0 if unknown.
unsigned usable_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<unsigned>(CPU_COUNT(&set));
#endif
  return std::thread::hardware_concurrency();
}

// Whether a team of this size has more threads than the process has CPUs.
bool crowded(int threads) {
  static const unsigned cpus = usable_cpus();
  return cpus != 0 && static_cast<unsigned>(threads) > cpus;
}

}  // namespace

class ThreadTeam {
 public:
  // Runs body on `threads` members (the caller and threads - 1 workers), or
  // on fewer when workers cannot be started. The caller holds the team.
  void run(int threads, TeamBody body, const void* context) {
    threads = 1 + grow_to(threads - 1);
    if (threads == 1) return body(context, TeamMember(this, 0, 1));
    body_ = body;
    context_ = context;
    threads_ = threads;
    const bool oversubscribed = crowded(threads);
    crowded_.store(oversubscribed, std::memory_order_relaxed);
    pending_.store(threads - 1, std::memory_order_relaxed);
    const uint64_t sequence = ++sequence_;
    bool asleep = false;
    for (int w = 0; w < threads - 1; ++w) asleep |= post(*workers_[w], sequence);
    if (asleep) wake_sleepers();
    body(context, TeamMember(this, 0, threads));
    SpinWait wait(oversubscribed);
    while (pending_.load(std::memory_order_acquire) != 0) wait.once();
  }

  // Sense-reversing barrier over the members of the current run.
  void barrier(int threads) {
    const uint32_t phase = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads) {
      arrived_.store(0, std::memory_order_relaxed);
      phase_.store(phase + 1, std::memory_order_release);
    } else {
      SpinWait wait(crowded(threads));
      while (phase_.load(std::memory_order_acquire) == phase) wait.once();
    }
  }

 private:
  // Each worker spins on its own cache line.
  struct alignas(64) Worker {
    std::atomic<uint64_t> posted{0};  // sequence number of the last run it was given
    std::atomic<bool> sleeping{false};
    int index = 0;  // member index - 1
  };

  // Starts workers until there are `wanted`; returns how many there are.
  // Once a thread cannot be had (or its bookkeeping cannot be allocated),
  // the team stays at the size it has rather than retry on every run.
  int grow_to(int wanted) {
    while (!full_ && static_cast<int>(workers_.size()) < wanted) {
      try {
        workers_.push_back(std::make_unique<Worker>());
      } catch (const std::exception&) {
        full_ = true;
        break;
      }
      Worker* w = workers_.back().get();
      w->index = static_cast<int>(workers_.size()) - 1;
      try {
        std::thread([this, w] { work(*w); }).detach();
      } catch (const std::exception&) {
        workers_.pop_back();
        full_ = true;
      }
    }
    return std::min<int>(wanted, static_cast<int>(workers_.size()));
  }

  // Gives the worker a run; true if it may be asleep. The store and the load
  // are sequentially consistent, as are the worker's store to `sleeping` and
  // load of `posted`: either it sees this post, or this sees it going to
  // sleep, and then wake_sleepers reaches it.
  bool post(Worker& w, uint64_t sequence) {
    w.posted.store(sequence, std::memory_order_seq_cst);
    return w.sleeping.load(std::memory_order_seq_cst);
  }

  // Taking the mutex first means a worker between its check of `posted` and
  // its wait (it holds the mutex there) is waiting by the time of the notify.
  void wake_sleepers() {
    sleep_mutex_.lock();
    sleep_mutex_.unlock();
    wake_.notify_all();
  }

  uint64_t wait_for_post(Worker& w, uint64_t seen) {
    const auto start = std::chrono::steady_clock::now();
    SpinWait wait(crowded_.load(std::memory_order_relaxed));  // as the last run was
    for (int spin = 1;; ++spin) {
      const uint64_t posted = w.posted.load(std::memory_order_acquire);
      if (posted != seen) return posted;
      wait.once();
      if (spin % kSpinsPerClockRead == 0 &&
          std::chrono::steady_clock::now() - start > kSpinBeforeSleep)
        break;
    }
    std::unique_lock<std::mutex> lock(sleep_mutex_);
    w.sleeping.store(true, std::memory_order_seq_cst);
    uint64_t posted;
    while ((posted = w.posted.load(std::memory_order_seq_cst)) == seen) wake_.wait(lock);
    w.sleeping.store(false, std::memory_order_relaxed);
    return posted;
  }

  [[noreturn]] void work(Worker& w) {
    uint64_t seen = 0;
    for (;;) {
      seen = wait_for_post(w, seen);
      body_(context_, TeamMember(this, w.index + 1, threads_));
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  // The current run, written by the caller before it posts to the workers.
  TeamBody body_ = nullptr;
  const void* context_ = nullptr;
  int threads_ = 1;
  std::atomic<bool> crowded_{false};  // the last run had more threads than CPUs
  uint64_t sequence_ = 0;
  bool full_ = false;  // a worker could not be started: no more tries
  std::vector<std::unique_ptr<Worker>> workers_;

  alignas(64) std::atomic<int> pending_{0};  // workers still in the current run
  alignas(64) std::atomic<int> arrived_{0};
  alignas(64) std::atomic<uint32_t> phase_{0};
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
};

void TeamMember::barrier() const {
  if (threads_ > 1) team_->barrier(threads_);
}

namespace {

// The process's team, never destroyed: its detached workers may still be
// waiting on its members while the process exits.
std::atomic<ThreadTeam*> the_team{nullptr};
std::atomic_flag team_busy = ATOMIC_FLAG_INIT;

#if !defined(_WIN32)
// The child of a fork has none of the parent's workers: it starts over with a
// new team, leaving the old one (and a run another thread had under way) behind.
void forget_team_in_child() {
  the_team.store(nullptr, std::memory_order_relaxed);
  team_busy.clear(std::memory_order_relaxed);
}
// Registered when the library loads, before any thread can fork.
[[maybe_unused]] const int fork_handler_registered =
    pthread_atfork(nullptr, nullptr, forget_team_in_child);
#endif

ThreadTeam& team() {
  ThreadTeam* t = the_team.load(std::memory_order_acquire);
  if (t == nullptr) {
    t = new ThreadTeam();
    the_team.store(t, std::memory_order_release);
  }
  return *t;
}

}  // namespace

void run_team_erased(int threads, TeamBody body, const void* context) {
  if (threads <= 1 || team_busy.test_and_set(std::memory_order_acquire))
    return body(context, TeamMember(nullptr, 0, 1));
  struct Release {
    ~Release() { team_busy.clear(std::memory_order_release); }
  } release;
  team().run(threads, body, context);
}

bool team_outnumbers_cpus(int threads) { return crowded(threads); }

}  // namespace fastmlp

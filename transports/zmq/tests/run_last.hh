// Holding threads back while the test's thread steps through what it
// provokes: a thread that runs last on a CPU (SCHED_IDLE) does not run
// there while a thread of the normal policy keeps that CPU busy, so what
// wakes it (an answer, a cancel) and what follows (a connection's loss)
// can both be done before it looks. The scheduler still gives it a turn
// now and then (after some milliseconds), so a test provokes its
// interleaving often, not always: it tries many times. Linux only.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <sys/types.h>

#include <fstream>
#include <string>

namespace jnzmq {

// The first CPU this process may run on.
inline int first_cpu() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &cpus)) {
        return cpu;
      }
    }
  }
  return 0;
}

// Makes the calling thread run on cpu alone, and last there. Returns
// whether it could.
inline bool run_last_on(int cpu) {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(cpu, &cpus);
  const sched_param priority{};
  return pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus) == 0 &&
         pthread_setschedparam(pthread_self(), SCHED_IDLE, &priority) == 0;
}

// While it lives, the calling thread runs on cpu alone; its CPUs are
// given back after.
class PinnedTo {
 public:
  explicit PinnedTo(int cpu) {
    CPU_ZERO(&before_);
    pthread_getaffinity_np(pthread_self(), sizeof(before_), &before_);
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(cpu, &cpus);
    pinned_ = pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus) == 0;
  }
  PinnedTo(const PinnedTo&) = delete;
  PinnedTo& operator=(const PinnedTo&) = delete;
  ~PinnedTo() { pthread_setaffinity_np(pthread_self(), sizeof(before_), &before_); }
  [[nodiscard]] bool pinned() const noexcept { return pinned_; }

 private:
  cpu_set_t before_;
  bool pinned_ = false;
};

// Whether thread tid of this process is blocked in the system call
// numbered syscall_number (SYS_ppoll, SYS_futex...).
inline bool blocked_in(pid_t tid, long syscall_number) {
  std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long number = -1;
  return static_cast<bool>(file >> number) && number == syscall_number;
}

}  // namespace jnzmq

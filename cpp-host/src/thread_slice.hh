// Junction's own threads that are woken for each call or deadline (listener
// threads, a host's workers and its timer thread) ask the kernel for a
// scheduler slice, by default a short one. Such a thread runs in short
// bursts: woken with a call, it runs the handler, answers and waits again.
// With the kernel's default slice (1.4 ms on the benchmark machine) a thread
// woken with a call waits until the thread that woke it has gone to sleep,
// and the answer must often wake that one again: a sleep and a wake-up more
// per call (bench/results/zmq-history.md). A shorter slice gives the woken
// thread an earlier deadline, so the kernel (Linux 6.12 and later) runs it
// at once; older kernels ignore the request, and a refusal (a seccomp
// filter) leaves the default. A handler running past the slice is preempted
// sooner only when another thread wants its CPU. The host's options choose
// another slice, or none (jn_host_options.thread_slice_ns).
//
// The kernel's struct sched_attr is declared here because glibc wraps
// neither sched_getattr nor sched_setattr and the kernel's own header
// clashes with glibc's <sched.h>; the tests read threads' attributes back
// with it.
#pragma once

#include <junction.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>

namespace junction::detail {

// The slice asked for when the host's options leave it at 0.
constexpr std::uint64_t kDefaultSliceNs = 500'000;

// struct sched_attr, its first version (48 bytes), which every kernel with
// the calls takes.
struct SchedAttr {
  std::uint32_t size;
  std::uint32_t policy;
  std::uint64_t flags;
  std::int32_t nice;
  std::uint32_t priority;
  std::uint64_t runtime_ns;  // a fair-class thread's slice, from Linux 6.12
  std::uint64_t deadline_ns;
  std::uint64_t period_ns;
};

// sched_attr's SCHED_FLAG_RESET_ON_FORK: threads the thread starts begin
// with the defaults.
constexpr std::uint64_t kSchedResetOnFork = 0x01;

// Reads thread tid's attributes (0: the calling thread); false on failure.
inline bool get_sched_attr(pid_t tid, SchedAttr& attr) noexcept {
  attr = SchedAttr{};
  return syscall(SYS_sched_getattr, tid, &attr, sizeof(attr), 0) == 0;
}

// Names the calling thread (top -H, debuggers; abi/ABI.md lists the names)
// and asks for a slice_ns slice for it, or for none when slice_ns is
// JN_THREAD_SLICE_INHERITED. A thread the user placed in another policy
// keeps it, its nice value is kept, and threads it starts (a handler's) get
// the kernel's default slice.
inline void name_and_ask_slice(const char* name, std::uint64_t slice_ns) noexcept {
  pthread_setname_np(pthread_self(), name);
  SchedAttr attr;
  if (slice_ns == JN_THREAD_SLICE_INHERITED || !get_sched_attr(0, attr) ||
      attr.policy != SCHED_OTHER) {
    return;
  }
  attr.size = sizeof(attr);
  attr.flags |= kSchedResetOnFork;
  attr.runtime_ns = slice_ns;
  static_cast<void>(syscall(SYS_sched_setattr, 0, &attr, 0));
}

}  // namespace junction::detail

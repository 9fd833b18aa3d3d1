// The kernel's struct sched_attr, which sched_getattr and sched_setattr
// exchange (glibc wraps neither call, and the kernel's own header clashes
// with glibc's <sched.h>): listener threads ask for their slice with it,
// and the tests read it back.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>

namespace junction::zmq_transport {

// Its first version (48 bytes), which every kernel with the calls takes.
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

// Sets the calling thread's attributes; false on failure.
inline bool set_sched_attr(SchedAttr attr) noexcept {
  attr.size = sizeof(attr);
  return syscall(SYS_sched_setattr, 0, &attr, 0) == 0;
}

}  // namespace junction::zmq_transport

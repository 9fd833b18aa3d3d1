// Cancels (abi/junction.h, ABI 1.10): what a caller signals to end a
// call's wait, and how the waits of libjunction hear it.
#pragma once

#include <junction.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "thread_local_scope.hh"

namespace junction::detail {
class CancelWait;
}  // namespace junction::detail

// The opaque cancel of the C ABI. Each call waiting with it registers the
// wake that ends its wait (a CancelWait); jn_cancel_signal takes them off
// the list one by one and runs each with mutex released, so that a wake
// may answer calls, ending their waits on the cancel. A wait taken back
// (CancelWait's destructor) is no longer woken, and waits for its wake if
// another thread is running it. Its maker holds one reference, which
// jn_cancel_free drops; an asynchronous call holds another until its
// handler is done.
struct jn_cancel {
  std::atomic<bool> signalled{false};
  std::atomic<std::uint32_t> references{1};
  std::mutex mutex;                                      // guards what follows
  junction::detail::CancelWait* waits = nullptr;         // a list: those not yet woken
  const junction::detail::CancelWait* waking = nullptr;  // whose wake is running
  std::thread::id signalling_thread;                     // which runs the wakes
  std::condition_variable woken;                         // waking has changed
};

namespace junction::detail {

// The cancel of the call running on this thread (jn_call_cancellable), or
// NULL: the waits of the calls it makes, nested ones included, read it.
extern constinit thread_local jn_cancel* tls_call_cancel __attribute__((tls_model("initial-exec")));

// One wait that a cancel ends: from construction to destruction, the first
// signal of cancel calls wake(wake_arg) once, on the signalling thread (or
// the constructor does, at once, if cancel was signalled before), and
// never after the destructor returns. Any number of calls may wait with
// one cancel. wake may end waits on cancel (its own too) and answer calls,
// but must not signal or free cancel; the waiting code must not hold a
// lock wake takes while it destroys this.
class CancelWait {
 public:
  CancelWait(jn_cancel* cancel, void (*wake)(void*), void* wake_arg) noexcept;
  ~CancelWait();
  CancelWait(const CancelWait&) = delete;
  CancelWait& operator=(const CancelWait&) = delete;

 private:
  friend void ::jn_cancel_signal(jn_cancel* cancel);
  jn_cancel* const cancel_;
  void (*const wake_)(void*);
  void* const wake_arg_;
  // Under cancel_'s mutex: whether in its list, and the neighbours there.
  bool listed_ = false;
  CancelWait* previous_ = nullptr;
  CancelWait* next_ = nullptr;
};

// Takes a reference to cancel (not NULL), which jn_cancel_free drops.
inline jn_cancel* cancel_hold(jn_cancel* cancel) noexcept {
  cancel->references.fetch_add(1, std::memory_order_relaxed);
  return cancel;
}

// While it lives, cancel (NULL: none) is the cancel of the call running on
// this thread: its handler's jn_call_cancel, and the one its own calls wait
// with. An asynchronous call given none has none, not the thread's: it may
// outlive the call it was started in, whose cancel it does not hold.
class CallCancelScope : ThreadLocalScope<jn_cancel*> {
 public:
  explicit CallCancelScope(jn_cancel* cancel) noexcept
      : ThreadLocalScope(tls_call_cancel, cancel) {}
};

inline bool cancel_signalled(const jn_cancel* cancel) noexcept {
  return cancel != nullptr && cancel->signalled.load(std::memory_order_acquire);
}

}  // namespace junction::detail

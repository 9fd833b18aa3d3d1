#include "reader_domain.hh"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <new>
#include <thread>

#include "host.hh"

namespace junction::detail {

constinit thread_local ThreadState tls_state __attribute__((tls_model("initial-exec"))) = {};
std::atomic<std::uint64_t> global_epoch{1};
bool readers_need_fence = true;

namespace {

std::atomic<ReaderRecord*> records_head{nullptr};
std::atomic<std::uint32_t> records_count{0};
// Sections running without a record (reader_domain.hh), on any thread.
std::atomic<std::uint64_t> unrecorded_sections{0};

// Returns an exiting thread's record to the pool (the destructor of
// record_key, whose value is the record). Key destructors run after the
// thread's C++ thread_local destructors, so a call one of those makes
// still has its record (or registers again, and is returned here again).
void return_record(void* value) {
  auto* record = static_cast<ReaderRecord*>(value);
  tls_state.shard = 0;  // the shard goes with the record to its next thread
  tls_state.record = nullptr;
  record->epoch.store(0, std::memory_order_release);
  record->in_use.store(false, std::memory_order_release);
}

pthread_key_t record_key;
bool record_key_made = false;

// Decided once, before any thread enters its first section (every thread
// passes reader_register_thread first, which calls this).
void domain_init() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    const long registered =
        syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
    readers_need_fence = registered != 0;
    record_key_made = pthread_key_create(&record_key, return_record) == 0;
  });
}

void heavy_barrier() {
  if (readers_need_fence || syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

// A writer's wait for a reader: yields at first, then sleeps.
void back_off(unsigned spins) {
  if (spins < 64) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

// Takes a record an exited thread left, or makes one (NULL without memory).
// Records are never freed: a writer may be scanning them.
ReaderRecord* take_record() noexcept {
  for (ReaderRecord* r = records_head.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    bool expected = false;
    if (r->in_use.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
      return r;
    }
  }
  auto* record = new (std::nothrow) ReaderRecord;
  if (record == nullptr) {
    return nullptr;
  }
  record->in_use.store(true, std::memory_order_relaxed);
  record->index = records_count.fetch_add(1, std::memory_order_relaxed);
  ReaderRecord* head = records_head.load(std::memory_order_relaxed);
  do {
    record->next = head;
  } while (!records_head.compare_exchange_weak(head, record, std::memory_order_release,
                                               std::memory_order_relaxed));
  return record;
}

}  // namespace

ReaderRecord* reader_register_thread() noexcept {
  domain_init();
  if (!record_key_made) {
    return nullptr;  // no way to return a record when its thread exits
  }
  ReaderRecord* record = take_record();
  if (record == nullptr) {
    return nullptr;
  }
  if (pthread_setspecific(record_key, record) != 0) {
    record->in_use.store(false, std::memory_order_release);
    return nullptr;
  }
  tls_state.record = record;
  tls_state.shard = record->index + 1;
  return record;
}

void enter_unrecorded_section() noexcept {
  ++tls_state.unrecorded_sections;
  // A full barrier (a locked instruction) before the section reads what it
  // guards, paired with synchronize()'s barriers: either the section sees
  // the writer's stores or the writer sees its count.
  unrecorded_sections.fetch_add(1, std::memory_order_seq_cst);
}

void leave_unrecorded_section() noexcept {
  unrecorded_sections.fetch_sub(1, std::memory_order_release);
  --tls_state.unrecorded_sections;
}

// NOLINTBEGIN(performance-no-int-to-ptr): scopes hold addresses.
void widen_scope(ReaderRecord* record, std::uintptr_t scope) noexcept {
  const std::uintptr_t outer = record->scope.load(std::memory_order_relaxed);
  if (outer == kAnyScope || outer == scope) {
    return;
  }
  std::uintptr_t wider = kAnyScope;
  if (scope != kAnyScope) {
    // The outer scope's service is alive: its own section holds it.
    const Host* outer_host = (outer & kHostScopeBit) != 0
                                 ? reinterpret_cast<const Host*>(outer & ~kHostScopeBit)
                                 : reinterpret_cast<const ServiceEntry*>(outer)->host;
    if (outer_host == reinterpret_cast<const ServiceEntry*>(scope)->host) {
      wider = reinterpret_cast<std::uintptr_t>(outer_host) | kHostScopeBit;
    }
  }
  if (wider != outer) {
    record->scope.store(wider, std::memory_order_relaxed);
    reader_fence();
  }
}

void synchronize(const Host* host, const std::vector<ServiceEntry*>& services) {
  domain_init();
  const std::uintptr_t host_scope = reinterpret_cast<std::uintptr_t>(host) | kHostScopeBit;
  // Compared by address only: a record may name a service that is gone.
  const auto covers = [&](std::uintptr_t scope) {
    return scope == kAnyScope || scope == host_scope ||
           std::binary_search(services.begin(), services.end(),
                              reinterpret_cast<ServiceEntry*>(scope), std::less<>());
  };
  // Every reader thread passes a full barrier between the writer's stores
  // before this (a service closed) and the epoch's advance: a section that
  // reads the new epoch has read it after that barrier, and so reads what
  // it guards (the open flag) after it too, on any processor. Without it,
  // a processor that reorders loads (not x86) could read the flag before
  // the new epoch, and the wait below would skip a section using a closed
  // service.
  heavy_barrier();
  const std::uint64_t target = global_epoch.fetch_add(1, std::memory_order_seq_cst) + 1;
  heavy_barrier();
  for (ReaderRecord* r = records_head.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    for (unsigned spins = 0;; ++spins) {
      const std::uint64_t epoch = r->epoch.load(std::memory_order_acquire);
      // A scope read after its epoch is that section's (a section only
      // widens it) or a later section's, which the wait need not cover.
      if (epoch == 0 || epoch >= target || !covers(r->scope.load(std::memory_order_relaxed))) {
        break;
      }
      back_off(spins);
    }
  }
  // Unrecorded sections cover anything and are not told apart: this waits
  // until none is running, those entered after the advance too.
  for (unsigned spins = 0; unrecorded_sections.load(std::memory_order_acquire) != 0; ++spins) {
    back_off(spins);
  }
  heavy_barrier();
}
// NOLINTEND(performance-no-int-to-ptr)

}  // namespace junction::detail

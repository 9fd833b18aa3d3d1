// The reader domain: how a service's context is kept alive while calls run
// on it without a lock or an atomic read-modify-write on the call path.
//
// A call runs inside a ReadSection. Entering the outermost section stores
// the section's scope (what it may touch: below) and the current epoch into
// the thread's record; leaving it stores 0 (a nested section sees a
// non-zero epoch and leaves it alone, only widening the scope if it enters
// another service; epochs start at 1). To retire something (a service's
// ctx, a host), a writer first makes it unreachable (marks the service
// closed), then synchronize() advances the epoch, issues a process-wide
// memory barrier (membarrier(2), so readers need only compiler barriers)
// and waits until no thread is still inside a section it entered before
// the advance whose scope covers what is retired. After that no call can be
// using the retired object. Where membarrier is unavailable readers pay a
// full fence instead.
//
// A scope is one service (a call on it may touch the service and its
// host), every service of one host (a call nested in a call on another
// service of the same host), or anything (a call nested in a call on
// another host's service, or a section opened before it knew its service).
// So a writer retiring one host's services never waits for a call that
// only another host's services are running, however long it runs.
//
// A thread's record is made at its first section. A thread that cannot
// have one (no memory for it) still runs its sections, unrecorded: each
// counts itself in one process-wide counter with a locked instruction and
// covers anything, and synchronize() also waits until that counter is 0.
// The thread tries again for a record at each section until it has one.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace junction::detail {

struct Host;
struct ServiceEntry;

// A section's scope as a record holds it: a ServiceEntry's address, a
// Host's address with kHostScopeBit set (any service of that host), or
// kAnyScope. Both structures are aligned to more than 1, so the bit is free.
inline constexpr std::uintptr_t kHostScopeBit = 1;
inline constexpr std::uintptr_t kAnyScope = ~std::uintptr_t{0};

struct alignas(64) ReaderRecord {
  std::atomic<std::uint64_t> epoch{0};  // 0: not inside a section
  // The outermost section's scope, widened by nested ones; meaningful while
  // epoch is not 0. Only this record's thread writes it.
  std::atomic<std::uintptr_t> scope{kAnyScope};
  std::atomic<bool> in_use{false};
  ReaderRecord* next = nullptr;
  std::uint32_t index = 0;
};

// Per-thread state: trivially constructible so initial-exec TLS access is a
// single segment-relative load.
struct ThreadState {
  ReaderRecord* record;
  std::uint32_t shard;                // statistics shard: record index + 1, 0 before registration
  std::uint32_t unrecorded_sections;  // this thread's sections without a record
};
// constinit: no dynamic initialisation, so no TLS wrapper call on access.
extern constinit thread_local ThreadState tls_state __attribute__((tls_model("initial-exec")));

extern std::atomic<std::uint64_t> global_epoch;
extern bool readers_need_fence;

// Gives the calling thread a record (one an exited thread left, or a new
// one) and returns it; NULL, with the thread left as it was, when there is
// no memory for one.
ReaderRecord* reader_register_thread() noexcept;

// A section of a thread without a record: counted process-wide until
// leave_unrecorded_section().
void enter_unrecorded_section() noexcept;
void leave_unrecorded_section() noexcept;

// Widens the scope of the thread's current section to cover scope (a
// service's or kAnyScope) too, before the nested section touches it.
void widen_scope(ReaderRecord* record, std::uintptr_t scope) noexcept;

// Waits for every section entered before the call whose scope covers one
// of services (sorted by std::less), all of which belong to host: a section
// on one of them, on any service of host, or on anything. Must not be
// called from inside a section (it would wait for itself).
void synchronize(const Host* host, const std::vector<ServiceEntry*>& services);

[[nodiscard]] inline bool in_read_section() noexcept {
  const ReaderRecord* record = tls_state.record;
  return (record != nullptr && record->epoch.load(std::memory_order_relaxed) != 0) ||
         tls_state.unrecorded_sections != 0;
}

// Orders a record's stores before the section's reads (see above).
inline void reader_fence() noexcept {
  if (readers_need_fence) [[unlikely]] {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
}

// The scope of a section opened before it knows its service (see narrow).
struct UnknownService {};

class ReadSection {
 public:
  // A section for a call on service.
  explicit ReadSection(const ServiceEntry& service) noexcept
      : ReadSection(reinterpret_cast<std::uintptr_t>(&service)) {}
  explicit ReadSection(UnknownService /*unused*/) noexcept : ReadSection(kAnyScope) {}
  ~ReadSection() {
    if (outermost_record_ != nullptr) {
      outermost_record_->epoch.store(0, std::memory_order_release);
    } else if (unrecorded_) [[unlikely]] {
      leave_unrecorded_section();
    }
  }
  ReadSection(const ReadSection&) = delete;
  ReadSection& operator=(const ReadSection&) = delete;

  // Narrows a section opened with UnknownService to service, once it knows
  // that from here on it touches only service and its host (and what it
  // touched before is not retired by synchronize). A nested section stays
  // as wide as its outermost one.
  void narrow(const ServiceEntry& service) noexcept {
    narrow_to(reinterpret_cast<std::uintptr_t>(&service));
  }
  // The same, to every service of host, where the service it touches may
  // no longer be one that a writer retiring host's services waits for.
  // host is not read: it may be gone already, its calls all answered.
  void narrow_to_host(const Host* host) noexcept {
    narrow_to(reinterpret_cast<std::uintptr_t>(host) | kHostScopeBit);
  }

 private:
  explicit ReadSection(std::uintptr_t scope) noexcept {
    ReaderRecord* record = tls_state.record;
    if (record == nullptr) [[unlikely]] {
      record = reader_register_thread();
      if (record == nullptr) {
        enter_unrecorded_section();
        unrecorded_ = true;
        return;
      }
    }
    // Only this thread writes its record, so relaxed loads are exact.
    if (record->epoch.load(std::memory_order_relaxed) != 0) [[unlikely]] {
      // Nested: the outermost section covers this one once its scope does.
      if (record->scope.load(std::memory_order_relaxed) != scope) {
        widen_scope(record, scope);
      }
      return;
    }
    outermost_record_ = record;
    record->scope.store(scope, std::memory_order_relaxed);
    // Release: a writer that sees the epoch sees the scope stored with it.
    record->epoch.store(global_epoch.load(std::memory_order_relaxed), std::memory_order_release);
    reader_fence();
  }

  void narrow_to(std::uintptr_t scope) noexcept {
    if (outermost_record_ != nullptr) {
      outermost_record_->scope.store(scope, std::memory_order_relaxed);
    }
  }

  ReaderRecord* outermost_record_ = nullptr;  // NULL when nested or unrecorded
  bool unrecorded_ = false;                   // counted by enter_unrecorded_section
};

}  // namespace junction::detail

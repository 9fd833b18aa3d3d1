// The reader domain: how a service's context is kept alive while calls run
// on it without a lock or an atomic read-modify-write on the call path.
//
// A call runs inside a ReadSection. Entering the outermost section stores the
// current epoch into the thread's record; leaving it stores 0 (a nested
// section sees a non-zero epoch and leaves it alone; epochs start at 1). To retire
// something (a service's ctx), a writer first makes it unreachable (marks the
// service closed), then synchronize() advances the epoch, issues a
// process-wide memory barrier (membarrier(2), so readers need only compiler
// barriers) and waits until no thread is still inside a section it entered
// before the advance. After that no call can be using the retired object.
// Where membarrier is unavailable readers pay a full fence instead.
#pragma once

#include <atomic>
#include <cstdint>

namespace junction::detail {

struct alignas(64) ReaderRecord {
  std::atomic<std::uint64_t> epoch{0};  // 0: not inside a section
  std::atomic<bool> in_use{false};
  ReaderRecord* next = nullptr;
  std::uint32_t index = 0;
};

// Per-thread state: trivially constructible so initial-exec TLS access is a
// single segment-relative load.
struct ThreadState {
  ReaderRecord* record;
  std::uint32_t shard;  // statistics shard: record index + 1, 0 before registration
};
// constinit: no dynamic initialisation, so no TLS wrapper call on access.
extern constinit thread_local ThreadState tls_state __attribute__((tls_model("initial-exec")));

extern std::atomic<std::uint64_t> global_epoch;
extern bool readers_need_fence;

ReaderRecord* reader_register_thread();

// Waits for every section entered before the call. Must not be called from
// inside a section (it would wait for itself).
void synchronize();

[[nodiscard]] inline bool in_read_section() noexcept {
  const ReaderRecord* record = tls_state.record;
  return record != nullptr && record->epoch.load(std::memory_order_relaxed) != 0;
}

class ReadSection {
 public:
  ReadSection() noexcept {
    ReaderRecord* record = tls_state.record;
    if (record == nullptr) [[unlikely]] {
      record = reader_register_thread();
    }
    // Only this thread writes its record's epoch, so a relaxed load is exact.
    if (record->epoch.load(std::memory_order_relaxed) != 0) [[unlikely]] {
      return;  // nested: the outermost section covers this one
    }
    outermost_record_ = record;
    record->epoch.store(global_epoch.load(std::memory_order_relaxed), std::memory_order_relaxed);
    if (readers_need_fence) [[unlikely]] {
      std::atomic_thread_fence(std::memory_order_seq_cst);
    } else {
      std::atomic_signal_fence(std::memory_order_seq_cst);
    }
  }
  ~ReadSection() {
    if (outermost_record_ != nullptr) {
      outermost_record_->epoch.store(0, std::memory_order_release);
    }
  }
  ReadSection(const ReadSection&) = delete;
  ReadSection& operator=(const ReadSection&) = delete;

 private:
  ReaderRecord* outermost_record_ = nullptr;  // NULL when nested
};

}  // namespace junction::detail

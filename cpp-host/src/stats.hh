// Per-method statistics: exact call and error counts kept in per-thread
// shards (no shared cache line and no locked instruction on the call path),
// sampled latency in a log2 histogram.
#pragma once

#include <junction.h>

#include <array>
#include <atomic>
#include <cstdint>

namespace junction::detail {

inline constexpr std::uint32_t kStatsShards = 16;
inline constexpr std::uint32_t kLatencySampleEvery = 128;

class MethodStats {
 public:
  // thread_shard: ThreadState::shard. Shards 1..kStatsShards each belong
  // to one live thread (the reader record's index + 1), which alone writes
  // them, so a plain load and store count exactly; every other thread
  // (unregistered, or beyond the first kStatsShards) shares the atomic
  // overflow shard. Returns whether this call's latency is to be sampled:
  // every kLatencySampleEvery-th call of a shard.
  bool count_call(std::uint32_t thread_shard) noexcept {
    const std::uint32_t index = thread_shard - 1;
    std::uint64_t calls = 0;
    if (index < kStatsShards) [[likely]] {
      std::atomic<std::uint64_t>& counter = shards_[index].calls;
      calls = counter.load(std::memory_order_relaxed) + 1;
      counter.store(calls, std::memory_order_relaxed);
    } else {
      calls = overflow_.calls.fetch_add(1, std::memory_order_relaxed) + 1;
    }
    return calls % kLatencySampleEvery == 0;
  }
  void count_error(std::uint32_t thread_shard) noexcept {
    const std::uint32_t index = thread_shard - 1;
    if (index < kStatsShards) [[likely]] {
      std::atomic<std::uint64_t>& counter = shards_[index].errors;
      counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    } else {
      overflow_.errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
  void record(std::uint32_t thread_shard, bool error) noexcept {
    count_call(thread_shard);
    if (error) {
      count_error(thread_shard);
    }
  }
  void record_latency(std::uint64_t nanoseconds) noexcept;
  void snapshot(jn_method_stats* out) const noexcept;

 private:
  struct alignas(64) Shard {
    std::atomic<std::uint64_t> calls{0};
    std::atomic<std::uint64_t> errors{0};
  };
  std::array<Shard, kStatsShards> shards_{};
  Shard overflow_;
  std::array<std::atomic<std::uint64_t>, 64> latency_buckets_{};
  std::atomic<std::uint64_t> latency_samples_{0};
  std::atomic<std::uint64_t> latency_sum_ns_{0};
  std::atomic<std::uint64_t> latency_max_ns_{0};
};

}  // namespace junction::detail

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
  // overflow shard.
  void record(std::uint32_t thread_shard, bool error) noexcept {
    const std::uint32_t index = thread_shard - 1;
    if (index < kStatsShards) [[likely]] {
      Shard& s = shards_[index];
      s.calls.store(s.calls.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (error) [[unlikely]] {
        s.errors.store(s.errors.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      }
      return;
    }
    overflow_.calls.fetch_add(1, std::memory_order_relaxed);
    if (error) [[unlikely]] {
      overflow_.errors.fetch_add(1, std::memory_order_relaxed);
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

// Per-method statistics: exact call and error counts kept in per-thread
// shards (no shared cache line on the call path), sampled latency in a log2
// histogram.
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
  void record(std::uint32_t shard, bool error) noexcept {
    Shard& s = shards_[shard % kStatsShards];
    s.calls.fetch_add(1, std::memory_order_relaxed);
    if (error) [[unlikely]] {
      s.errors.fetch_add(1, std::memory_order_relaxed);
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
  std::array<std::atomic<std::uint64_t>, 64> latency_buckets_{};
  std::atomic<std::uint64_t> latency_samples_{0};
  std::atomic<std::uint64_t> latency_sum_ns_{0};
  std::atomic<std::uint64_t> latency_max_ns_{0};
};

}  // namespace junction::detail

// Per-method statistics: exact call and error counts kept in per-thread
// shards (no shared cache line and no locked instruction on the call path),
// sampled latency in a log2 histogram.
#pragma once

#include <junction.h>

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace junction::detail {

// Shards held in every MethodStats: those of the first threads to call.
inline constexpr std::uint32_t kStatsShards = 16;
// Further shards come in segments made at a method's first call from a
// thread that needs one: segment k holds the kStatsShards << k shards from
// kStatsShards << k on, so kStatsSegments of them serve 2^16 threads.
inline constexpr std::uint32_t kStatsSegments = 12;
inline constexpr std::uint32_t kLatencySampleEvery = 128;

class MethodStats {
 public:
  MethodStats() = default;
  MethodStats(const MethodStats&) = delete;
  MethodStats& operator=(const MethodStats&) = delete;
  ~MethodStats();

  // thread_shard: ThreadState::shard. Shard n (from 1) belongs to one live
  // thread (the reader record's index + 1), which alone writes it, so a
  // plain load and store count exactly. A thread without a record (shard
  // 0), or one whose segment cannot be made (no memory), shares the atomic
  // overflow shard. Returns whether this call's latency is to be sampled:
  // every kLatencySampleEvery-th call of a shard.
  bool count_call(std::uint32_t thread_shard) noexcept {
    std::uint64_t calls = 0;
    if (Shard* own = shard_of(thread_shard)) [[likely]] {
      calls = bump(own->calls);
    } else {
      calls = overflow_.calls.fetch_add(1, std::memory_order_relaxed) + 1;
    }
    return calls % kLatencySampleEvery == 0;
  }
  void count_error(std::uint32_t thread_shard) noexcept {
    if (Shard* own = shard_of(thread_shard)) [[likely]] {
      bump(own->errors);
    } else {
      overflow_.errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Whether thread_shard is one of the shards every MethodStats holds: a
  // caller that knows it is gets only their code from the two above.
  static bool inline_shard(std::uint32_t thread_shard) noexcept {
    return thread_shard - 1 < kStatsShards;
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

  // Adds one to a counter only its thread writes; returns the new count.
  static std::uint64_t bump(std::atomic<std::uint64_t>& counter) noexcept {
    const std::uint64_t count = counter.load(std::memory_order_relaxed) + 1;
    counter.store(count, std::memory_order_relaxed);
    return count;
  }
  // The thread's own shard; NULL for the overflow shard's threads.
  Shard* shard_of(std::uint32_t thread_shard) noexcept {
    if (inline_shard(thread_shard)) [[likely]] {
      return &shards_[thread_shard - 1];
    }
    // Shard 0 wraps to the largest index, past every segment.
    const std::uint32_t index = thread_shard - 1;
    const auto segment = static_cast<std::uint32_t>(std::bit_width(index / kStatsShards)) - 1;
    if (segment >= kStatsSegments) {
      return nullptr;
    }
    Shard* first = segments_[segment].load(std::memory_order_acquire);
    if (first == nullptr) [[unlikely]] {
      first = make_segment(segment);
      if (first == nullptr) {
        return nullptr;
      }
    }
    return &first[index - (kStatsShards << segment)];
  }
  // Makes segment, once, whichever thread gets there first, and returns
  // it; NULL when there is no memory for it.
  Shard* make_segment(std::uint32_t segment) noexcept;

  std::array<Shard, kStatsShards> shards_{};
  std::array<std::atomic<Shard*>, kStatsSegments> segments_{};
  Shard overflow_;
  std::array<std::atomic<std::uint64_t>, 64> latency_buckets_{};
  std::atomic<std::uint64_t> latency_samples_{0};
  std::atomic<std::uint64_t> latency_sum_ns_{0};
  std::atomic<std::uint64_t> latency_max_ns_{0};
};

}  // namespace junction::detail

#include "stats.hh"

#include <bit>
#include <new>

#include "host.hh"

namespace junction::detail {

MethodStats::~MethodStats() {
  for (const std::atomic<Shard*>& segment : segments_) {
    delete[] segment.load(std::memory_order_relaxed);
  }
}

MethodStats::Shard* MethodStats::make_segment(std::uint32_t segment) noexcept {
  auto* made = new (std::nothrow) Shard[std::size_t{kStatsShards} << segment];
  if (made == nullptr) {
    return nullptr;
  }
  Shard* found = nullptr;
  if (segments_[segment].compare_exchange_strong(found, made, std::memory_order_acq_rel,
                                                 std::memory_order_acquire)) {
    return made;
  }
  delete[] made;  // another thread made it first
  return found;
}

void MethodStats::record_latency(std::uint64_t nanoseconds) noexcept {
  const unsigned bucket =
      nanoseconds == 0 ? 0 : static_cast<unsigned>(std::bit_width(nanoseconds)) - 1;
  latency_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_samples_.fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_.fetch_add(nanoseconds, std::memory_order_relaxed);
  std::uint64_t seen = latency_max_ns_.load(std::memory_order_relaxed);
  while (nanoseconds > seen &&
         !latency_max_ns_.compare_exchange_weak(seen, nanoseconds, std::memory_order_relaxed)) {
  }
}

void MethodStats::snapshot(jn_method_stats* out) const noexcept {
  *out = jn_method_stats{};
  const auto add = [out](const Shard& shard) {
    out->calls += shard.calls.load(std::memory_order_relaxed);
    out->errors += shard.errors.load(std::memory_order_relaxed);
  };
  for (const Shard& shard : shards_) {
    add(shard);
  }
  for (std::uint32_t segment = 0; segment < kStatsSegments; ++segment) {
    if (const Shard* first = segments_[segment].load(std::memory_order_acquire)) {
      for (std::size_t i = 0; i < (std::size_t{kStatsShards} << segment); ++i) {
        add(first[i]);
      }
    }
  }
  add(overflow_);
  std::array<std::uint64_t, 64> buckets{};
  std::uint64_t samples = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    buckets[i] = latency_buckets_[i].load(std::memory_order_relaxed);
    samples += buckets[i];
  }
  out->latency_samples = samples;
  if (samples == 0) {
    return;
  }
  out->latency_mean_ns = latency_sum_ns_.load(std::memory_order_relaxed) / samples;
  out->latency_max_ns = latency_max_ns_.load(std::memory_order_relaxed);
  // Upper bound of the bucket holding the quantile: bucket i holds
  // [2^i, 2^(i+1)).
  auto quantile = [&](std::uint64_t numerator, std::uint64_t denominator) {
    const std::uint64_t rank = (samples * numerator + denominator - 1) / denominator;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      seen += buckets[i];
      if (seen >= rank) {
        return i >= 63 ? UINT64_MAX : (std::uint64_t{2} << i) - 1;
      }
    }
    return UINT64_MAX;
  };
  out->latency_p50_ns = quantile(50, 100);
  out->latency_p99_ns = quantile(99, 100);
}

}  // namespace junction::detail

extern "C" JN_API std::int32_t jn_method_stats_get(const jn_method* method,
                                                   jn_method_stats* stats) {
  if (method == nullptr || stats == nullptr) {
    return JN_INVALID_ARGUMENT;
  }
  method->method->stats.snapshot(stats);
  return JN_OK;
}

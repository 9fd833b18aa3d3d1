// Host-allocated buffers and the live-object counters.
#include <cstdlib>
#include <cstring>

#include "internal.hh"

namespace junction::detail {

LiveCounters& live_counters() noexcept {
  static LiveCounters counters;
  return counters;
}

namespace {

// A host buffer is one malloc block: this header, then the bytes.
// private_data points at the header, which remembers the allocated length
// so the accounting stays right even if a consumer shortened len.
struct HostBlock {
  std::uint64_t len;
};

void host_buffer_release(jn_buffer* buffer) {
  auto* block = static_cast<HostBlock*>(buffer->private_data);
  LiveCounters& live = live_counters();
  live.buffers.fetch_sub(1, std::memory_order_relaxed);
  live.buffer_bytes.fetch_sub(block->len, std::memory_order_relaxed);
  std::free(block);
  *buffer = jn_buffer{};
}

std::int32_t host_buffer_new(std::uint64_t len, std::uint8_t** data_out, jn_buffer* buffer) {
  if (len > SIZE_MAX - sizeof(HostBlock) - 1) {
    return JN_RESOURCE_EXHAUSTED;
  }
  // One byte more lets every host buffer be read as a NUL-terminated string.
  void* memory = std::malloc(sizeof(HostBlock) + static_cast<std::size_t>(len) + 1);
  if (memory == nullptr) {
    return JN_RESOURCE_EXHAUSTED;
  }
  auto* block = static_cast<HostBlock*>(memory);
  block->len = len;
  auto* data = static_cast<std::uint8_t*>(memory) + sizeof(HostBlock);
  data[len] = 0;
  LiveCounters& live = live_counters();
  live.buffers.fetch_add(1, std::memory_order_relaxed);
  live.buffer_bytes.fetch_add(len, std::memory_order_relaxed);
  *buffer = jn_buffer{data, len, host_buffer_release, block};
  if (data_out != nullptr) {
    *data_out = data;
  }
  return JN_OK;
}

}  // namespace
}  // namespace junction::detail

extern "C" {

JN_API std::int32_t jn_buffer_new(std::uint64_t len, std::uint8_t** data_out, jn_buffer* buffer) {
  if (buffer == nullptr) {
    return JN_INVALID_ARGUMENT;
  }
  return junction::detail::host_buffer_new(len, data_out, buffer);
}

JN_API std::int32_t jn_buffer_copy(const std::uint8_t* data, std::uint64_t len, jn_buffer* buffer) {
  if (buffer == nullptr || (data == nullptr && len != 0)) {
    return JN_INVALID_ARGUMENT;
  }
  std::uint8_t* dest = nullptr;
  const std::int32_t code = junction::detail::host_buffer_new(len, &dest, buffer);
  if (code == JN_OK && len != 0) {
    std::memcpy(dest, data, static_cast<std::size_t>(len));
  }
  return code;
}

JN_API void jn_buffer_release(jn_buffer* buffer) {
  if (buffer == nullptr || buffer->release == nullptr) {
    return;
  }
  auto release = buffer->release;
  release(buffer);
  // A producer's callback must mark the buffer released; make sure of it so
  // a second release is a no-op whatever the producer did.
  buffer->release = nullptr;
}

JN_API std::int32_t jn_live_objects(jn_live_counts* counts) {
  if (counts == nullptr) {
    return JN_INVALID_ARGUMENT;
  }
  const auto& live = junction::detail::live_counters();
  counts->buffers = live.buffers.load(std::memory_order_relaxed);
  counts->buffer_bytes = live.buffer_bytes.load(std::memory_order_relaxed);
  counts->hosts = live.hosts.load(std::memory_order_relaxed);
  counts->methods = live.methods.load(std::memory_order_relaxed);
  counts->services = live.services.load(std::memory_order_relaxed);
  counts->pending_calls = live.pending_calls.load(std::memory_order_relaxed);
  return JN_OK;
}

}  // extern "C"

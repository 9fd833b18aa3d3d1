// Host-allocated buffers and the live-object counters.
#include <pthread.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "internal.hh"

#if defined(__SANITIZE_ADDRESS__)
#define JUNCTION_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JUNCTION_ADDRESS_SANITIZER 1
#endif
#endif
#ifdef JUNCTION_ADDRESS_SANITIZER
#include <sanitizer/asan_interface.h>
#endif

namespace junction::detail {

LiveCounters& live_counters() noexcept {
  static LiveCounters counters;
  return counters;
}

namespace {

// Host buffers are counted per thread: the thread that makes or releases a
// buffer adjusts its own slot with a plain load and store (no locked
// instruction on the call path, where handlers make responses). A slot may
// go negative (a buffer released on another thread than made it); the sum
// over all slots is exact. A thread's slot is folded into the retired
// totals when it exits and reused by a later thread.
struct alignas(64) BufferCounterSlot {
  std::atomic<std::int64_t> buffers{0};
  std::atomic<std::int64_t> bytes{0};
  bool in_use = false;  // guarded by BufferCounterRegistry::mutex
  BufferCounterSlot* next = nullptr;
};

// Never destroyed: threads may exit (and fold their slots) during static
// destruction.
struct BufferCounterRegistry {
  std::mutex mutex;
  BufferCounterSlot* slots = nullptr;  // every slot ever made, never freed
  std::int64_t retired_buffers = 0;
  std::int64_t retired_bytes = 0;
};

BufferCounterRegistry& buffer_counter_registry() noexcept {
  // A union member's destructor runs only if called: the registry outlives
  // static destruction.
  union NeverDestroyed {
    BufferCounterRegistry registry;
    NeverDestroyed() : registry() {}
    ~NeverDestroyed() {}  // NOLINT(modernize-use-equals-default): must not destroy registry
  };
  static NeverDestroyed storage;
  return storage.registry;
}

constinit thread_local BufferCounterSlot* tls_buffer_slot
    __attribute__((tls_model("initial-exec"))) = nullptr;

// A host buffer is one malloc block: this header, then the bytes.
// private_data points at the header, which remembers the allocated length
// so the accounting stays right even if a consumer shortened len.
struct HostBlock {
  std::uint64_t len;
};

// Small host buffers (a number, a short record or status message: what
// handlers answer most) are all blocks of one size, and each thread keeps
// up to kBlockCacheCapacity released ones to make its next ones from
// instead of a malloc and a free. On the 2026-12-05 machine that took 3 ns
// off a C++ jn_call into a Rust handler answering 8 bytes (23 ns before)
// and 6 to 11 ns off a Rust Method::call into a Go one (108 to 114 ns
// before). A block released on another thread than made it joins that
// thread's cache. A thread's cache is freed when the thread exits;
// AddressSanitizer builds poison cached blocks, so a use after release is
// still reported.
constexpr std::uint64_t kSmallBufferMaxLen = 64;
// The header, the bytes and the terminating NUL host_buffer_new adds.
constexpr std::size_t kSmallBlockSize = sizeof(HostBlock) + kSmallBufferMaxLen + 1;
constexpr std::uint32_t kBlockCacheCapacity = 16;

struct BlockCache {
  std::uint32_t count;
  // The thread is exiting, or has no slot whose return would free the
  // cache: released blocks are freed.
  bool closed;
  void* blocks[kBlockCacheCapacity];
};
constinit thread_local BlockCache tls_block_cache __attribute__((tls_model("initial-exec"))) = {};

// A cached block is unusable until taken out of the cache again.
void poison_cached_block([[maybe_unused]] void* block) noexcept {
#ifdef JUNCTION_ADDRESS_SANITIZER
  __asan_poison_memory_region(block, kSmallBlockSize);
#endif
}
void unpoison_cached_block([[maybe_unused]] void* block) noexcept {
#ifdef JUNCTION_ADDRESS_SANITIZER
  __asan_unpoison_memory_region(block, kSmallBlockSize);
#endif
}

void block_cache_free_all() noexcept {
  BlockCache& cache = tls_block_cache;
  cache.closed = true;
  while (cache.count != 0) {
    void* block = cache.blocks[--cache.count];
    unpoison_cached_block(block);
    std::free(block);
  }
}

// Returns an exiting thread's counter slot (the destructor of the key of
// buffer_slot_key(), whose value is the slot) and frees its block cache. A pthread key rather
// than a C++ thread_local: registering a thread_local's destructor
// allocates, and glibc crashes when that allocation fails. Key destructors
// also run after the thread's C++ thread_local destructors, so buffers
// those release are still counted in the slot and cached for this free.
void return_buffer_slot(void* value) {
  block_cache_free_all();
  auto* slot = static_cast<BufferCounterSlot*>(value);
  BufferCounterRegistry& registry = buffer_counter_registry();
  std::lock_guard lock(registry.mutex);
  registry.retired_buffers += slot->buffers.exchange(0, std::memory_order_relaxed);
  registry.retired_bytes += slot->bytes.exchange(0, std::memory_order_relaxed);
  slot->in_use = false;
  tls_buffer_slot = nullptr;
}

// The key whose destructor returns a thread's slot; NULL when the process
// could not make one.
const pthread_key_t* buffer_slot_key() noexcept {
  static pthread_key_t key;
  static const bool made = pthread_key_create(&key, return_buffer_slot) == 0;
  return made ? &key : nullptr;
}

// Gives the calling thread a counter slot (one an exited thread left, or a
// new one) and returns it. NULL when there is no memory for one or for its
// return at exit: the caller counts in the retired totals instead, and the
// thread caches no blocks (nothing would free them at its exit).
[[gnu::noinline]] BufferCounterSlot* buffer_slot_register() noexcept {
  const pthread_key_t* key = buffer_slot_key();
  if (key == nullptr) {
    tls_block_cache.closed = true;
    return nullptr;
  }
  BufferCounterRegistry& registry = buffer_counter_registry();
  std::lock_guard lock(registry.mutex);
  BufferCounterSlot* slot = registry.slots;
  while (slot != nullptr && slot->in_use) {
    slot = slot->next;
  }
  if (slot == nullptr) {
    slot = new (std::nothrow) BufferCounterSlot;
    if (slot != nullptr) {
      slot->next = registry.slots;
      registry.slots = slot;
    }
  }
  if (slot == nullptr || pthread_setspecific(*key, slot) != 0) {
    tls_block_cache.closed = true;
    return nullptr;
  }
  slot->in_use = true;
  tls_buffer_slot = slot;
  return slot;
}

// buffer_count on a thread without a slot yet: registers one, or counts
// in the retired totals when there is no memory for it. Out of line, so
// that the usual count is a few instructions in its caller.
[[gnu::cold, gnu::noinline]] BufferCounterSlot* buffer_count_without_slot(
    std::int64_t buffers, std::int64_t bytes) noexcept {
  BufferCounterSlot* slot = buffer_slot_register();
  if (slot == nullptr) {
    BufferCounterRegistry& registry = buffer_counter_registry();
    std::lock_guard lock(registry.mutex);
    registry.retired_buffers += buffers;
    registry.retired_bytes += bytes;
  }
  return slot;
}

inline void buffer_count(std::int64_t buffers, std::int64_t bytes) noexcept {
  BufferCounterSlot* slot = tls_buffer_slot;
  if (slot == nullptr) [[unlikely]] {
    slot = buffer_count_without_slot(buffers, bytes);
    if (slot == nullptr) {
      return;  // counted in the retired totals
    }
  }
  // Only this thread writes its slot, so load-and-store counts exactly.
  slot->buffers.store(slot->buffers.load(std::memory_order_relaxed) + buffers,
                      std::memory_order_relaxed);
  slot->bytes.store(slot->bytes.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
}

// Copies len bytes. Responses answered into lent room are mostly a few
// bytes (a number, a small record): those are copied inline, as two
// overlapping words, rather than through a call to memcpy.
inline void copy_bytes(std::uint8_t* dst, const std::uint8_t* src, std::uint64_t len) noexcept {
  if (len >= 8 && len <= 16) {
    std::uint64_t head = 0;
    std::uint64_t tail = 0;
    std::memcpy(&head, src, 8);
    std::memcpy(&tail, src + len - 8, 8);
    std::memcpy(dst, &head, 8);
    std::memcpy(dst + len - 8, &tail, 8);
  } else if (len != 0) {
    std::memcpy(dst, src, static_cast<std::size_t>(len));
  }
}

void host_buffer_release(jn_buffer* buffer) {
  auto* block = static_cast<HostBlock*>(buffer->private_data);
  const std::uint64_t len = block->len;
  // Counted first: the first count on a thread sets up what frees its
  // cache at exit.
  buffer_count(-1, -static_cast<std::int64_t>(len));
  BlockCache& cache = tls_block_cache;
  if (len <= kSmallBufferMaxLen && cache.count < kBlockCacheCapacity && !cache.closed) {
    poison_cached_block(block);
    cache.blocks[cache.count++] = block;
  } else {
    std::free(block);
  }
  *buffer = jn_buffer{};
}

std::int32_t host_buffer_new(std::uint64_t len, std::uint8_t** data_out, jn_buffer* buffer) {
  if (len > SIZE_MAX - sizeof(HostBlock) - 1) {
    return JN_RESOURCE_EXHAUSTED;
  }
  void* memory = nullptr;
  BlockCache& cache = tls_block_cache;
  if (len <= kSmallBufferMaxLen && cache.count != 0) {
    memory = cache.blocks[--cache.count];
    unpoison_cached_block(memory);
  } else {
    // One byte more lets every host buffer be read as a NUL-terminated
    // string. Small ones all take kSmallBlockSize, so any can be reused.
    memory = std::malloc(len <= kSmallBufferMaxLen
                             ? kSmallBlockSize
                             : sizeof(HostBlock) + static_cast<std::size_t>(len) + 1);
    if (memory == nullptr) {
      return JN_RESOURCE_EXHAUSTED;
    }
  }
  auto* block = static_cast<HostBlock*>(memory);
  block->len = len;
  auto* data = static_cast<std::uint8_t*>(memory) + sizeof(HostBlock);
  data[len] = 0;
  buffer_count(1, static_cast<std::int64_t>(len));
  buffer_store_whole(buffer, jn_buffer{data, len, host_buffer_release, block});
  if (data_out != nullptr) {
    *data_out = data;
  }
  return JN_OK;
}

// A host buffer holding a copy of data[0..len).
std::int32_t host_buffer_copy(const std::uint8_t* data, std::uint64_t len, jn_buffer* buffer) {
  std::uint8_t* dest = nullptr;
  const std::int32_t code = host_buffer_new(len, &dest, buffer);
  if (code == JN_OK) {
    copy_bytes(dest, data, len);
  }
  return code;
}

}  // namespace

BufferCounts buffer_counts_read() noexcept {
  BufferCounterRegistry& registry = buffer_counter_registry();
  std::lock_guard lock(registry.mutex);
  std::int64_t buffers = registry.retired_buffers;
  std::int64_t bytes = registry.retired_bytes;
  for (const BufferCounterSlot* slot = registry.slots; slot != nullptr; slot = slot->next) {
    buffers += slot->buffers.load(std::memory_order_relaxed);
    bytes += slot->bytes.load(std::memory_order_relaxed);
  }
  // The slots are read one after another while other threads count: a
  // buffer released on a slot read after the one that counted it made may
  // be seen released only, which would take the sum below zero.
  return {static_cast<std::uint64_t>(std::max<std::int64_t>(buffers, 0)),
          static_cast<std::uint64_t>(std::max<std::int64_t>(bytes, 0))};
}

}  // namespace junction::detail

namespace junction::detail {
namespace {

// The release callback of a response written into a caller's lent room:
// the caller owns that memory, so there is nothing to free.
void lent_release(jn_buffer* buffer) { buffer->release = nullptr; }

// jn_respond without lent room for it: a host buffer.
[[gnu::noinline]] std::int32_t respond_owned(jn_result* result, const std::uint8_t* data,
                                             std::uint64_t len) noexcept {
  jn_buffer response{};
  if (const std::int32_t code = host_buffer_copy(data, len, &response); code != JN_OK) {
    return code;
  }
  if (result->response.release != nullptr) {
    jn_buffer_release(&result->response);
  }
  buffer_store_whole(&result->response, response);
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
  return junction::detail::host_buffer_copy(data, len, buffer);
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

JN_API std::int32_t jn_respond(jn_result* result, const std::uint8_t* data, std::uint64_t len) {
  if (result == nullptr || (data == nullptr && len != 0)) [[unlikely]] {
    return JN_INVALID_ARGUMENT;
  }
  const junction::detail::LentSpace& lent = junction::detail::tls_lent_space;
  if (lent.result != result || len > lent.cap) {
    return junction::detail::respond_owned(result, data, len);
  }
  junction::detail::copy_bytes(lent.data, data, len);
  if (result->response.release != nullptr) [[unlikely]] {
    jn_buffer_release(&result->response);
  }
  junction::detail::buffer_store_whole(
      &result->response, jn_buffer{lent.data, len, junction::detail::lent_release, nullptr});
  return JN_OK;
}

JN_API std::int32_t jn_live_objects(jn_live_counts* counts) {
  if (counts == nullptr) {
    return JN_INVALID_ARGUMENT;
  }
  const auto& live = junction::detail::live_counters();
  const junction::detail::BufferCounts buffers = junction::detail::buffer_counts_read();
  counts->buffers = buffers.buffers;
  counts->buffer_bytes = buffers.bytes;
  counts->hosts = live.hosts.load(std::memory_order_relaxed);
  counts->methods = live.methods.load(std::memory_order_relaxed);
  counts->services = live.services.load(std::memory_order_relaxed);
  counts->pending_calls = live.pending_calls.load(std::memory_order_relaxed);
  return JN_OK;
}

}  // extern "C"

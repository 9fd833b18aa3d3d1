// For tests of what junction does when memory runs out: the including
// executable stands in for operator new, and fails the allocations a test
// names (by size, or by count) on the thread that names them, aligned
// ones too; and for calloc, which the C library uses for itself (to
// register a C++ thread_local's destructor, say), and fails it on the
// threads that ask. Include it in one source file of an executable built
// without sanitizers (their runtimes replace these themselves).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace jnfail {

// On this thread, allocations of at least this many bytes fail; 0: none.
inline thread_local std::size_t failing_from = 0;

// On this thread, the allocation this many allocations from now fails (1:
// the next one), once; 0: none.
inline thread_local unsigned failing_nth = 0;

// On this thread, how many allocations were failed as the two above say.
inline thread_local unsigned failed = 0;

// On this thread, calloc fails (and counts in calloc_failed).
inline thread_local bool failing_calloc = false;
inline thread_local unsigned calloc_failed = 0;

// Whether this thread's allocation of size is to fail (counted if so).
inline bool fails(std::size_t size) {
  const bool by_size = failing_from != 0 && size >= failing_from;
  const bool by_count = !by_size && failing_nth != 0 && --failing_nth == 0;
  if (by_size || by_count) {
    ++failed;
    return true;
  }
  return false;
}

}  // namespace jnfail

// calloc from malloc, so that the C library's free takes what it gives.
extern "C" void* calloc(std::size_t count, std::size_t size) noexcept {
  if (jnfail::failing_calloc) {
    ++jnfail::calloc_failed;
    return nullptr;
  }
  if (size != 0 && count > SIZE_MAX / size) {
    return nullptr;
  }
  void* memory = std::malloc(count * size);
  if (memory != nullptr) {
    // Through a pointer the compiler cannot follow: malloc then memset is
    // what it would otherwise turn back into a call to calloc.
    static void* (*volatile const zero)(void*, int, std::size_t) = std::memset;
    zero(memory, 0, count * size);
  }
  return memory;
}

void* operator new(std::size_t size) {
  if (jnfail::fails(size)) {
    throw std::bad_alloc();
  }
  if (void* memory = std::malloc(size == 0 ? 1 : size)) {
    return memory;
  }
  throw std::bad_alloc();
}

void* operator new(std::size_t size, std::align_val_t alignment) {
  if (jnfail::fails(size)) {
    throw std::bad_alloc();
  }
  // aligned_alloc wants a non-zero multiple of the alignment.
  const auto align = static_cast<std::size_t>(alignment);
  const std::size_t rounded = size == 0 ? align : (size + align - 1) / align * align;
  if (void* memory = std::aligned_alloc(align, rounded)) {
    return memory;
  }
  throw std::bad_alloc();
}

// operator new above allocates with malloc, which GCC cannot see where it
// inlines a library allocation into a delete of this file's.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t /*size*/) noexcept { std::free(memory); }
void operator delete(void* memory, std::align_val_t /*alignment*/) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t /*size*/, std::align_val_t /*alignment*/) noexcept {
  std::free(memory);
}
#pragma GCC diagnostic pop

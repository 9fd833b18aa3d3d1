// For tests of what junction does when memory runs out: the including
// executable stands in for operator new, and fails the allocations a test
// names (by size, or by count) on the thread that names them. Include it in one source file of an
// executable built without sanitizers (their runtimes replace operator new
// themselves).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace jnfail {

// On this thread, allocations of at least this many bytes fail; 0: none.
inline thread_local std::size_t failing_from = 0;

// On this thread, the allocation this many allocations from now fails (1:
// the next one), once; 0: none.
inline thread_local unsigned failing_nth = 0;

}  // namespace jnfail

void* operator new(std::size_t size) {
  if (jnfail::failing_from != 0 && size >= jnfail::failing_from) {
    throw std::bad_alloc();
  }
  if (jnfail::failing_nth != 0 && --jnfail::failing_nth == 0) {
    throw std::bad_alloc();
  }
  if (void* memory = std::malloc(size == 0 ? 1 : size)) {
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
#pragma GCC diagnostic pop

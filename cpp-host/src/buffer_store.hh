// Storing a jn_buffer so that the other side of a call can copy it whole
// without a wait: shared by libjunction and the C++ API (junction.hpp).
#pragma once

#include <junction.h>

#include <cstddef>

#if defined(__x86_64__) && !defined(__clang_analyzer__)
#include <emmintrin.h>
#endif

namespace junction::detail {

// Stores value into *dst as two 16-byte stores, for a buffer the other side
// of a call reads next. x86-64 forwards a load from a store still on its way
// to the cache only when one store covers the whole load: a jn_buffer stored
// a field at a time and then copied whole (a Rust Buffer moved, a C++ struct
// copy) waits for the stores to reach the cache, about 10 ns a call on the
// machines of bench/results. After these two stores, loads of a field or of
// the whole are forwarded. The static analyser is shown the plain store,
// which means the same: it does not follow pointers through vector stores.
inline void buffer_store_whole(jn_buffer* dst, const jn_buffer& value) noexcept {
#if defined(__x86_64__) && !defined(__clang_analyzer__)
  static_assert(sizeof(jn_buffer) == 32 && offsetof(jn_buffer, len) == 8 &&
                offsetof(jn_buffer, private_data) == 24);
  auto* halves = reinterpret_cast<__m128i*>(dst);
  _mm_storeu_si128(halves, _mm_set_epi64x(static_cast<long long>(value.len),
                                          reinterpret_cast<long long>(value.data)));
  _mm_storeu_si128(halves + 1, _mm_set_epi64x(reinterpret_cast<long long>(value.private_data),
                                              reinterpret_cast<long long>(value.release)));
#else
  *dst = value;
#endif
}

}  // namespace junction::detail

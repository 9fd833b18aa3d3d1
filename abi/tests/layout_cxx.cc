// layout_cxx.cc - junction.h's frozen layout and constants asserted by the
// C++ compiler (static_assert, offsetof, type traits), then compared at run
// time with the table layout_c99.c computed with the C compiler: both
// languages must see the same structs.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "abi_layout.h"
#include "junction.h"

extern "C" {
extern const struct abi_layout_entry abi_layout_c[];
extern const unsigned long abi_layout_c_count;
}

namespace {

template <typename T>
constexpr bool is_c_struct = std::is_standard_layout_v<T>&& std::is_trivial_v<T>;

#define ABI_ASSERT_STRUCT(type, size, alignment)                       \
  static_assert(is_c_struct<type>, #type " must be a plain C struct"); \
  static_assert(sizeof(type) == (size), "sizeof(" #type ") changed");  \
  static_assert(alignof(type) == (alignment), "alignof(" #type ") changed");
ABI_LAYOUT_STRUCTS(ABI_ASSERT_STRUCT)

// Some fields are pointers: their size is what the layout freezes.
// NOLINTBEGIN(bugprone-sizeof-expression)
#define ABI_ASSERT_FIELD(type, field, offset, size)                                            \
  static_assert(offsetof(type, field) == (offset), "offsetof(" #type ", " #field ") changed"); \
  static_assert(sizeof(type::field) == (size), "sizeof(" #type "::" #field ") changed");
ABI_LAYOUT_FIELDS(ABI_ASSERT_FIELD)
// NOLINTEND(bugprone-sizeof-expression)

#define ABI_ASSERT_CODE(constant, number) \
  static_assert((constant) == (number), #constant " must be gRPC's " #number);
ABI_LAYOUT_CODES(ABI_ASSERT_CODE)
static_assert(JN_STATUS_CODE_MAX == 16 && JN_STATUS_CODE_MAX == JN_UNAUTHENTICATED);
static_assert(std::is_same_v<decltype(jn_status::code), std::int32_t>);

static_assert(std::is_same_v<decltype(JN_ABI_VERSION), std::uint32_t>);
static_assert(JN_ABI_VERSION_MAJOR >= 1 && JN_ABI_VERSION_MAJOR <= 0xFFFF);
static_assert(JN_ABI_VERSION_MINOR >= 0 && JN_ABI_VERSION_MINOR <= 0xFFFF);
static_assert(JN_ABI_VERSION ==
              ((static_cast<std::uint32_t>(JN_ABI_VERSION_MAJOR) << 16) | JN_ABI_VERSION_MINOR));
static_assert(JN_ABI_VERSION_MAJOR_OF(JN_ABI_VERSION) == JN_ABI_VERSION_MAJOR);
static_assert(JN_ABI_VERSION_MINOR_OF(JN_ABI_VERSION) == JN_ABI_VERSION_MINOR);
static_assert(JN_ABI_VERSION_MAJOR_OF(0x00020003u) == 2 &&
              JN_ABI_VERSION_MINOR_OF(0x00020003u) == 3);
static_assert(std::is_same_v<decltype(JN_NO_DEADLINE), std::int64_t> &&
              JN_NO_DEADLINE == INT64_MAX);
static_assert(std::is_same_v<decltype(JN_MAX_UNREAD_ANSWERS), std::uint64_t> &&
              JN_MAX_UNREAD_ANSWERS == 1048576);
static_assert(JN_ROUTE_CONNECTING == 0 && JN_ROUTE_READY == 1 && JN_ROUTE_DOWN == 2);

#define ABI_STRUCT_ENTRY(type, size, alignment) {#type, sizeof(type), alignof(type)},
// NOLINTBEGIN(bugprone-sizeof-expression): as in ABI_ASSERT_FIELD
#define ABI_FIELD_ENTRY(type, field, offset, size) \
  {#type "." #field, sizeof(type::field), offsetof(type, field)},

constexpr abi_layout_entry abi_layout_cxx[] = {ABI_LAYOUT_STRUCTS(ABI_STRUCT_ENTRY)
                                                   ABI_LAYOUT_FIELDS(ABI_FIELD_ENTRY)};
// NOLINTEND(bugprone-sizeof-expression)

}  // namespace

int main() {
  constexpr unsigned long count = sizeof(abi_layout_cxx) / sizeof(abi_layout_cxx[0]);
  int failures = 0;
  if (abi_layout_c_count != count) {
    std::fprintf(stderr, "layout: C table has %lu entries, C++ table %lu\n", abi_layout_c_count,
                 count);
    return 1;
  }
  for (unsigned long i = 0; i < count; ++i) {
    const abi_layout_entry& c = abi_layout_c[i];
    const abi_layout_entry& cxx = abi_layout_cxx[i];
    if (std::strcmp(c.what, cxx.what) != 0 || c.size != cxx.size ||
        c.offset_or_alignment != cxx.offset_or_alignment) {
      std::fprintf(stderr, "layout: C sees %s size %lu offset/alignment %lu, C++ sees %s %lu %lu\n",
                   c.what, c.size, c.offset_or_alignment, cxx.what, cxx.size,
                   cxx.offset_or_alignment);
      ++failures;
    }
  }
  std::printf("layout: %lu structs and fields agree between C99 and C++: %s\n", count,
              failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}

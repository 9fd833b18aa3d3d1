/*
 * layout_c99.c - junction.h's frozen layout and constants, asserted at
 * compile time by a C99 compiler (-std=c99 -pedantic: no _Static_assert, so
 * a false condition declares an array of negative size), and published as
 * a table that layout_cxx.cc compares with the C++ compiler's view.
 */
#include <stddef.h>
#include <stdint.h>

#include "abi_layout.h"
#include "junction.h"

#define ABI_C99_ASSERT(name, condition) typedef char abi_assert_##name[(condition) ? 1 : -1]

#define ABI_FIELD_SIZE(type, field) sizeof(((type*)0)->field)

/* Alignment without C11's _Alignof: the offset of T after a char. */
#define ABI_ALIGN_PROBE(type, size, alignment) \
  struct abi_align_##type {                    \
    char pad;                                  \
    type value;                                \
  };
ABI_LAYOUT_STRUCTS(ABI_ALIGN_PROBE)
#define ABI_ALIGNOF(type) offsetof(struct abi_align_##type, value)

#define ABI_ASSERT_STRUCT(type, size, alignment)       \
  ABI_C99_ASSERT(type##_size, sizeof(type) == (size)); \
  ABI_C99_ASSERT(type##_alignment, ABI_ALIGNOF(type) == (alignment));
ABI_LAYOUT_STRUCTS(ABI_ASSERT_STRUCT)

#define ABI_ASSERT_FIELD(type, field, offset, size)                           \
  ABI_C99_ASSERT(type##_##field##_offset, offsetof(type, field) == (offset)); \
  ABI_C99_ASSERT(type##_##field##_size, ABI_FIELD_SIZE(type, field) == (size));
ABI_LAYOUT_FIELDS(ABI_ASSERT_FIELD)

/* Status codes are gRPC's numbers, 0..16, and fit the int32_t they travel in. */
#define ABI_ASSERT_CODE(constant, number) ABI_C99_ASSERT(constant, (constant) == (number));
ABI_LAYOUT_CODES(ABI_ASSERT_CODE)
ABI_C99_ASSERT(code_max_is_last,
               JN_STATUS_CODE_MAX == 16 && JN_STATUS_CODE_MAX == JN_UNAUTHENTICATED);
ABI_C99_ASSERT(code_fits_status, ABI_FIELD_SIZE(jn_status, code) == sizeof(int32_t));

/* The version macros agree with each other. */
#if !defined(JN_ABI_VERSION_MAJOR) || !defined(JN_ABI_VERSION_MINOR)
#error "junction.h must define JN_ABI_VERSION_MAJOR and JN_ABI_VERSION_MINOR"
#endif
#if JN_ABI_VERSION_MAJOR < 1 || JN_ABI_VERSION_MAJOR > 0xFFFF || JN_ABI_VERSION_MINOR < 0 || \
    JN_ABI_VERSION_MINOR > 0xFFFF
#error "JN_ABI_VERSION_MAJOR and JN_ABI_VERSION_MINOR must be usable in #if and fit 16 bits"
#endif
ABI_C99_ASSERT(version_is_32_bits, sizeof(JN_ABI_VERSION) == sizeof(uint32_t));
ABI_C99_ASSERT(version_packs_major_minor,
               JN_ABI_VERSION == (((uint32_t)JN_ABI_VERSION_MAJOR << 16) | JN_ABI_VERSION_MINOR));
ABI_C99_ASSERT(version_major_of, JN_ABI_VERSION_MAJOR_OF(JN_ABI_VERSION) == JN_ABI_VERSION_MAJOR);
ABI_C99_ASSERT(version_minor_of, JN_ABI_VERSION_MINOR_OF(JN_ABI_VERSION) == JN_ABI_VERSION_MINOR);
ABI_C99_ASSERT(version_major_of_other, JN_ABI_VERSION_MAJOR_OF(0x00020003u) == 2);
ABI_C99_ASSERT(version_minor_of_other, JN_ABI_VERSION_MINOR_OF(0x00020003u) == 3);
ABI_C99_ASSERT(no_deadline_is_int64_max, JN_NO_DEADLINE == INT64_MAX);

/* Proves ABI_C99_ASSERT fires: the build of this file with this macro
 * defined must fail (ctest abi.c99_layout_assert_fires). */
#ifdef ABI_TEST_BROKEN_ASSERTION
ABI_C99_ASSERT(deliberately_false, sizeof(jn_buffer) == 31);
#endif

#define ABI_STRUCT_ENTRY(type, size, alignment) {#type, sizeof(type), ABI_ALIGNOF(type)},
#define ABI_FIELD_ENTRY(type, field, offset, size) \
  {#type "." #field, ABI_FIELD_SIZE(type, field), offsetof(type, field)},

const struct abi_layout_entry abi_layout_c[] = {ABI_LAYOUT_STRUCTS(ABI_STRUCT_ENTRY)
                                                    ABI_LAYOUT_FIELDS(ABI_FIELD_ENTRY)};
const unsigned long abi_layout_c_count = sizeof(abi_layout_c) / sizeof(abi_layout_c[0]);

/*
 * non_c99_alignof.c - valid C11 but not C99 (_Alignof): the strict C99
 * flags the ABI checks use must reject it (ctest abi.c99_flags_reject_alignof,
 * WILL_FAIL); abi.c11_accepts_non_c99_fixtures shows that C11 is the only
 * thing wrong with it. _Static_assert would not do here: glibc's
 * <sys/cdefs.h>, reached through <stdint.h>, defines a C99 fallback macro
 * of that name, so -std=c99 -pedantic accepts it silently.
 */
#include "junction.h"

typedef char non_c99_alignof_check[_Alignof(jn_buffer) == 8 ? 1 : -1];

int non_c99_fixture(void);
int non_c99_fixture(void) { return JN_OK; }

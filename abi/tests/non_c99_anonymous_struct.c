/*
 * non_c99_anonymous_struct.c - valid C11 but not C99 (an anonymous struct
 * member): the strict C99 flags the ABI checks use must reject it (ctest
 * abi.c99_flags_reject_anonymous_struct, WILL_FAIL);
 * abi.c11_accepts_non_c99_fixtures shows that C11 is the only thing wrong
 * with it.
 */
#include "junction.h"

struct non_c99_fixture {
  struct {
    jn_buffer first;
    jn_buffer second;
  };
};

int non_c99_fixture(void);
int non_c99_fixture(void) {
  struct non_c99_fixture fixture;
  fixture.first.release = 0;
  return fixture.first.release == 0 ? JN_OK : JN_INTERNAL;
}

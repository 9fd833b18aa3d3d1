/* Links an installed libjunction and checks the version it reports. */
#include <junction.h>
#include <stdio.h>

int main(void) {
  jn_host* host = NULL;
  if (jn_abi_version() != JN_ABI_VERSION || jn_host_new(NULL, &host, NULL) != JN_OK) {
    fprintf(stderr, "consumer: installed libjunction is unusable\n");
    return 1;
  }
  jn_host_free(host);
  printf("consumer: junction ABI %u.%u\n", (unsigned)JN_ABI_VERSION_MAJOR_OF(jn_abi_version()),
         (unsigned)JN_ABI_VERSION_MINOR_OF(jn_abi_version()));
  return 0;
}

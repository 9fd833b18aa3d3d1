#include "noted.h"

#include <stddef.h>

static void noted_echo(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  (void)ctx;
  (void)deadline_ns;
  if (jn_buffer_copy(request.data, request.len, &result->response) != JN_OK) {
    result->status.code = JN_RESOURCE_EXHAUSTED;
    return;
  }
  jn_status_set(&result->status, JN_OK, "noted");
}

int32_t cgotest_register_noted_echo(jn_host* host, const char* name) {
  jn_method_desc method = {"echo", noted_echo, NULL, NULL};
  jn_service_desc desc = {JN_ABI_VERSION, 1, name, &method, NULL, NULL};
  return jn_host_register(host, &desc, NULL);
}

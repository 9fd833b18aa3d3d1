/* A junction module written in C: one service, "greeter", whose "hello"
 * method answers "hello, " followed by the request. Built with
 * GREETER_ABI_VERSION set to another version it is the mismatched fixture;
 * with GREETER_INIT_FAILS its init registers the service, then refuses to
 * start, and with
 * GREETER_INIT_FAILS_SILENTLY it does so without saying why. */
#include <junction.h>
#include <string.h>

#ifndef GREETER_ABI_VERSION
#define GREETER_ABI_VERSION JN_ABI_VERSION
#endif

static void greeter_hello(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  static const char prefix[] = "hello, ";
  uint8_t* out = NULL;
  (void)ctx;
  (void)deadline_ns;
  if (jn_buffer_new(sizeof prefix - 1 + request.len, &out, &result->response) != JN_OK) {
    jn_status_set(&result->status, JN_RESOURCE_EXHAUSTED, "greeter: out of memory");
    return;
  }
  memcpy(out, prefix, sizeof prefix - 1);
  if (request.len != 0) {
    memcpy(out + sizeof prefix - 1, request.data, (size_t)request.len);
  }
}

uint32_t jn_module_abi_version(void) { return GREETER_ABI_VERSION; }

int32_t jn_module_init(jn_host* host, jn_status* status) {
  static const jn_method_desc methods[] = {{"hello", greeter_hello, NULL, NULL}};
  const jn_service_desc service = {
      .abi_version = GREETER_ABI_VERSION, .method_count = 1, .name = "greeter", .methods = methods};
#if defined(GREETER_INIT_FAILS_SILENTLY)
  (void)host;
  (void)status;
  return JN_INTERNAL;
#elif defined(GREETER_INIT_FAILS)
  if (jn_host_register(host, &service, status) != JN_OK) {
    return JN_INTERNAL;
  }
  return jn_status_set(status, JN_UNAVAILABLE, "greeter: configuration missing") == JN_OK
             ? JN_UNAVAILABLE
             : JN_INTERNAL;
#else
  return jn_host_register(host, &service, status);
#endif
}

/*
 * c_module.c - a junction module written in C99, loaded by c_service_test.c
 * through jn_host_load_module. It registers module.Echo; built with
 *   MODULE_ABI_VERSION=v    it claims to be built against ABI v (another
 *                           major, a newer minor) and must be refused before
 *                           jn_module_init runs;
 *   MODULE_INIT_FAILS       jn_module_init fails with JN_UNAVAILABLE;
 *   MODULE_NOT_JUNCTION     it exports neither module function.
 * When jn_module_init runs it first registers the service MODULE_MARKER
 * (one name per variant), so the test can see whether the host called it.
 */
#include <string.h>

#include "junction.h"

#ifndef MODULE_ABI_VERSION
#define MODULE_ABI_VERSION JN_ABI_VERSION
#endif
#ifndef MODULE_MARKER
#define MODULE_MARKER "module.Marker"
#endif

#ifdef MODULE_NOT_JUNCTION

JN_API int32_t not_a_junction_module(void);
int32_t not_a_junction_module(void) { return JN_OK; }

#else

JN_API uint32_t jn_module_abi_version(void);
JN_API int32_t jn_module_init(jn_host* host, jn_status* status);

static void module_echo(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  (void)ctx;
  (void)deadline_ns;
  if (jn_buffer_copy(request.data, request.len, &result->response) != JN_OK) {
    jn_status_set(&result->status, JN_RESOURCE_EXHAUSTED, "module echo: no memory");
  }
}

static int32_t module_register(jn_host* host, const char* name, jn_status* status) {
  jn_method_desc method;
  jn_service_desc service;
  memset(&method, 0, sizeof method);
  method.name = "Echo";
  method.handler = module_echo;
  memset(&service, 0, sizeof service);
  service.abi_version = JN_ABI_VERSION;
  service.name = name;
  service.methods = &method;
  service.method_count = 1;
  return jn_host_register(host, &service, status);
}

uint32_t jn_module_abi_version(void) { return MODULE_ABI_VERSION; }

int32_t jn_module_init(jn_host* host, jn_status* status) {
  int32_t code = module_register(host, MODULE_MARKER, NULL);
  if (code != JN_OK && code != JN_ALREADY_EXISTS) return code;
#ifdef MODULE_INIT_FAILS
  if (status != NULL) jn_status_set(status, JN_UNAVAILABLE, "c_module: refusing on purpose");
  return JN_UNAVAILABLE;
#else
  return module_register(host, "module.Echo", status);
#endif
}

#endif

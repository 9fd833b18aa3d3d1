/* The junction-host tests' module, in C so that it builds in every build,
 * sanitizers included. It registers the service "fixture":
 *
 *   method  request                                 response
 *   echo    any bytes                               the same bytes
 *   sleep   a delay in ms, 8 bytes little-endian    the request, after the delay
 *                                                   (DEADLINE_EXCEEDED if the
 *                                                   caller's deadline comes first)
 *   fail    one byte: a status code                 that code, with the message
 *                                                   "fixture/fail was asked to fail"
 *
 * sleep writes "fixture: sleep N ms" to stderr when it starts, so that a test
 * reading the daemon's stderr knows its call is in flight. With
 * JUNCTION_FIXTURE_INIT_WAIT_MS set to N in its environment, the module's
 * init writes "fixture: init waits N ms" and takes that long, as a module
 * making slow connections at start does. */
#define _POSIX_C_SOURCE 200809L

#include <junction.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void fixture_echo(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  (void)ctx;
  (void)deadline_ns;
  if (jn_respond(result, request.data, request.len) != JN_OK) {
    jn_status_set(&result->status, JN_RESOURCE_EXHAUSTED, "fixture/echo: out of memory");
  }
}

static void fixture_sleep(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  uint64_t ms = 0;
  int64_t now = jn_now_ns();
  int64_t wake;
  int64_t until;
  int i;
  (void)ctx;
  if (request.len != 8) {
    jn_status_set(&result->status, JN_INVALID_ARGUMENT,
                  "fixture/sleep wants an 8-byte little-endian delay in milliseconds");
    return;
  }
  for (i = 0; i < 8; ++i) {
    ms |= (uint64_t)request.data[i] << (8 * i);
  }
  fprintf(stderr, "fixture: sleep %llu ms\n", (unsigned long long)ms);
  fflush(stderr);
  wake = ms >= (uint64_t)(INT64_MAX - now) / 1000000u ? INT64_MAX : now + (int64_t)ms * 1000000;
  until = wake < deadline_ns ? wake : deadline_ns;
  while (now < until) {
    struct timespec pause;
    const int64_t left = until - now;
    pause.tv_sec = (time_t)(left / 1000000000);
    pause.tv_nsec = (long)(left % 1000000000);
    nanosleep(&pause, NULL); /* an interruption only shortens one round */
    now = jn_now_ns();
  }
  if (until < wake) {
    jn_status_set(&result->status, JN_DEADLINE_EXCEEDED, "fixture/sleep: the deadline came first");
    return;
  }
  fixture_echo(NULL, request, deadline_ns, result);
}

static void fixture_fail(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  (void)ctx;
  (void)deadline_ns;
  jn_status_set(&result->status, request.len == 1 ? (int32_t)request.data[0] : JN_INVALID_ARGUMENT,
                request.len == 1 ? "fixture/fail was asked to fail"
                                 : "fixture/fail wants one byte: a status code");
}

uint32_t jn_module_abi_version(void) { return JN_ABI_VERSION; }

int32_t jn_module_init(jn_host* host, jn_status* status) {
  const char* wait_ms = getenv("JUNCTION_FIXTURE_INIT_WAIT_MS");
  if (wait_ms != NULL) {
    const long ms = strtol(wait_ms, NULL, 10);
    fprintf(stderr, "fixture: init waits %ld ms\n", ms);
    const struct timespec wait = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&wait, NULL);
  }
  static const jn_method_desc methods[] = {{"echo", fixture_echo, NULL, NULL},
                                           {"sleep", fixture_sleep, NULL, NULL},
                                           {"fail", fixture_fail, NULL, NULL}};
  jn_service_desc service;
  service.abi_version = JN_ABI_VERSION;
  service.method_count = 3;
  service.name = "fixture";
  service.methods = methods;
  service.ctx = NULL;
  service.destroy = NULL;
  return jn_host_register(host, &service, status);
}

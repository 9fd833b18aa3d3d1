/*
 * header_c99.c - junction.h compiles as strict C99 (-std=c99 -pedantic
 * -Wall -Wextra -Werror) and every type, macro and function is usable from
 * C with the signature abi_functions.h freezes: initialising a pointer of
 * the frozen type with the header's function is an incompatible-pointer
 * error under -Werror if the two ever differ. Compiled, never run.
 */
#include "abi_functions.h"
#include "junction.h"

#define ABI_FUNCTION_POINTER(ret, name, params) ret(*const abi_c99_##name) params = name;
ABI_FUNCTIONS(ABI_FUNCTION_POINTER)

#define ABI_CALLBACK_TYPE(name, type) name abi_c99_##name = (type)0;
ABI_CALLBACKS(ABI_CALLBACK_TYPE)

static void abi_c99_handler(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  (void)ctx;
  (void)deadline_ns;
  if (jn_buffer_copy(request.data, request.len, &result->response) != JN_OK) {
    jn_status_set(&result->status, JN_RESOURCE_EXHAUSTED, "no memory");
  }
}

static void abi_c99_async_handler(void* ctx, jn_bytes request, int64_t deadline_ns,
                                  jn_completion completion) {
  jn_result result = {{JN_OK, 0, {0, 0, 0, 0}}, {0, 0, 0, 0}};
  abi_c99_handler(ctx, request, deadline_ns, &result);
  (void)jn_complete(completion, &result);
}

static void abi_c99_destroy(void* ctx) { (void)ctx; }

static void abi_c99_release(jn_buffer* buffer) { buffer->release = 0; }

static void abi_c99_visit(void* user_data, const jn_service_info* service) {
  (void)user_data;
  (void)service->name;
  (void)service->methods;
  (void)service->route_url;
}

static void abi_c99_wake(void* user_data) { (void)user_data; }

static void abi_c99_done(void* user_data, jn_result* result) {
  (void)user_data;
  jn_result_release(result);
}

/* The two functions of a module, under other names (a module exports them
 * as jn_module_abi_version and jn_module_init). */
static uint32_t abi_c99_module_abi_version(void) { return JN_ABI_VERSION; }

static int32_t abi_c99_module_init(jn_host* host, jn_status* status) {
  (void)status;
  return host == 0 ? JN_INVALID_ARGUMENT : JN_OK;
}

/* Uses every type and macro of the header the way a C module would. */
int32_t abi_c99_use_everything(void);
int32_t abi_c99_use_everything(void) {
  static const uint8_t bytes[3] = {1, 2, 3};
  jn_bytes view = {bytes, sizeof bytes};
  jn_buffer owned = {bytes, sizeof bytes, abi_c99_release, 0};
  jn_status status = {JN_OK, 0, {0, 0, 0, 0}};
  jn_result result;
  jn_completion completion = {0, 0};
  jn_method_desc methods[2];
  jn_service_desc service;
  jn_host_options options;
  jn_listen_options listen_options;
  jn_live_counts counts;
  jn_route_stats route_stats;
  jn_method_stats stats;
  char public_key[JN_CURVE_KEY_LENGTH + 1];
  char secret_key[JN_CURVE_KEY_LENGTH + 1];
  const char* const client_keys[1] = {"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"};
  jn_host* host = 0;
  jn_method* method = 0;
  jn_listener* listener = 0;
  jn_cancel* cancel = 0;
  jn_cancel_watch* watch = 0;
  uint8_t* writable = 0;
  int32_t code;
  uint32_t version = JN_ABI_VERSION;
  int64_t deadline = JN_NO_DEADLINE;
  jn_module_abi_version_fn module_version = abi_c99_module_abi_version;
  jn_module_init_fn module_init = abi_c99_module_init;
  jn_service_visit_fn visit = abi_c99_visit;

  methods[0].name = "Echo";
  methods[0].handler = abi_c99_handler;
  methods[0].async_handler = 0;
  methods[0].ctx = 0;
  methods[1].name = "EchoAsync";
  methods[1].handler = 0;
  methods[1].async_handler = abi_c99_async_handler;
  methods[1].ctx = 0;
  service.abi_version = JN_ABI_VERSION;
  service.method_count = 2;
  service.name = "c99.Echo";
  service.methods = methods;
  service.ctx = 0;
  service.destroy = abi_c99_destroy;
  options.struct_size = sizeof options;
  options.worker_threads = 0;
  options.thread_slice_ns = JN_THREAD_SLICE_INHERITED;
  listen_options.struct_size = sizeof listen_options;
  listen_options.threads = 0;
  listen_options.services = 0;
  listen_options.service_count = 0;
  listen_options.max_in_flight = 0;
  listen_options.max_payload_bytes = 0;
  listen_options.max_unread_answers = JN_MAX_UNREAD_ANSWERS;
  listen_options.max_unread_answer_bytes = 0;
  listen_options.curve_secret_key = 0;
  listen_options.curve_client_keys = 0;
  listen_options.curve_client_key_count = 0;
  listen_options.reserved = 0;

  if (JN_ABI_VERSION_MAJOR_OF(jn_abi_version()) != JN_ABI_VERSION_MAJOR ||
      JN_ABI_VERSION_MINOR_OF(version) != JN_ABI_VERSION_MINOR) {
    return JN_FAILED_PRECONDITION;
  }
  code = jn_host_new(&options, &host, &status);
  if (code == JN_OK && module_version() == JN_ABI_VERSION) code = module_init(host, &status);
  if (code == JN_OK) code = jn_host_load_module(host, "libc99_module.so", &status);
  if (code == JN_OK) code = jn_host_register(host, &service, &status);
  if (code == JN_OK) code = jn_host_list_services(host, visit, 0);
  if (code == JN_OK) code = jn_host_resolve(host, "c99.Echo", "Echo", &method, &status);
  if (code == JN_OK) {
    deadline = jn_now_ns() + 1000000000;
    code = jn_call(method, view, deadline, &result);
    jn_result_release(&result);
    (void)jn_call_async(method, &owned, JN_NO_DEADLINE, abi_c99_done, 0, &status);
    (void)jn_method_stats_get(method, &stats);
  }
  /* A local synchronous handler does not wait: a cancel cannot stop it. */
  if (code == JN_OK && jn_method_waits(method) != 0) code = JN_INTERNAL;
  if (code == JN_OK) code = jn_cancel_new(&cancel);
  if (code == JN_OK) {
    code = jn_call_cancellable(method, view, deadline, cancel, writable, 0, &result);
    jn_result_release(&result);
    jn_cancel_signal(cancel);
    if (code == JN_OK &&
        jn_call_cancellable(method, view, deadline, cancel, 0, 0, &result) != JN_CANCELLED)
      code = JN_INTERNAL;
    jn_result_release(&result);
    if (code == JN_OK && (jn_cancel_signalled(cancel) != 1 || jn_call_cancel() != 0))
      code = JN_INTERNAL;
    if (code == JN_OK) code = jn_cancel_watch_new(cancel, abi_c99_wake, 0, &watch);
    jn_cancel_unwatch(watch);
    if (code == JN_OK)
      code = jn_call_async_cancellable(method, 0, deadline, cancel, abi_c99_done, 0, &status);
    if (code == JN_OK && jn_live_cancels() == 0) code = JN_INTERNAL;
  }
  jn_cancel_free(cancel);
  if (code == JN_OK)
    code = jn_host_listen(host, "zmq+inproc://c99", &listen_options, &listener, &status);
  route_stats.struct_size = sizeof route_stats;
  if (code == JN_OK) code = jn_host_route(host, "c99.routed", "zmq+inproc://c99", 0, &status);
  if (code == JN_OK) code = jn_host_route_stats(host, "c99.routed", &route_stats);
  if (code == JN_OK && route_stats.state != JN_ROUTE_READY && route_stats.state != JN_ROUTE_DOWN &&
      route_stats.state != JN_ROUTE_CONNECTING)
    code = JN_INTERNAL;
  /* An inproc listener has no CURVE to take client keys for. */
  if (code == JN_OK && jn_listener_set_curve_client_keys(listener, client_keys, 1, &status) !=
                           JN_FAILED_PRECONDITION)
    code = JN_INTERNAL;
  if (code == JN_OK) code = jn_listener_close(listener, JN_NO_DEADLINE);
  (void)jn_complete(completion, &result);
  (void)jn_buffer_new(4, &writable, &owned);
  jn_buffer_release(&owned);
  (void)jn_live_objects(&counts);
  if (jn_curve_keypair(public_key, secret_key, 0) == JN_OK)
    (void)jn_curve_public_key(secret_key, public_key, 0);
  (void)jn_host_unregister(host, "c99.Echo", &status);
  jn_method_free(method);
  (void)jn_host_free(host);
  (void)jn_status_name(code);
  jn_status_release(&status);
  return code == JN_STATUS_CODE_MAX ? JN_UNAUTHENTICATED : code;
}

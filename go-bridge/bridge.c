#include "bridge.h"

#include <stdlib.h>
#include <string.h>

#include "_cgo_export.h"

uint32_t junction_go_header_version(void) { return JN_ABI_VERSION; }

/* Moves a buffer into its Go form; the source is left released. An empty
 * buffer is released here: its data may be any value, which Go must not
 * hold, and its producer's release may need that value back. */
static junction_go_owned owned_from(jn_buffer* buffer) {
  junction_go_owned owned = {NULL, 0, 0, 0};
  if (buffer->release == NULL) {
    return owned;
  }
  if (buffer->len == 0) {
    jn_buffer_release(buffer);
    return owned;
  }
  owned.data = buffer->data;
  owned.len = buffer->len;
  owned.release = (uintptr_t)buffer->release;
  owned.private_data = (uintptr_t)buffer->private_data;
  buffer->release = NULL;
  return owned;
}

void junction_go_owned_release(junction_go_owned owned) {
  if (owned.release == 0) {
    return;
  }
  jn_buffer buffer;
  buffer.data = owned.data;
  buffer.len = owned.len;
  buffer.release = (void (*)(jn_buffer*))owned.release;
  buffer.private_data = (void*)owned.private_data;
  buffer.release(&buffer);
}

static junction_go_status status_from(int32_t code, jn_status* status) {
  junction_go_status out;
  out.code = code;
  out.message = owned_from(&status->message);
  return out;
}

static int64_t deadline_after(int64_t timeout_ns) {
  if (timeout_ns == JUNCTION_GO_NO_TIMEOUT) {
    return JN_NO_DEADLINE;
  }
  const int64_t now = jn_now_ns();
  return timeout_ns < JN_NO_DEADLINE - now ? now + timeout_ns : JN_NO_DEADLINE;
}

/* junction_go_call's answer from a call's code and result (see bridge.h). */
static inline int64_t answer_into(int32_t code, jn_result* result, uint8_t* dst, uint64_t dst_cap) {
  if (code == JN_OK && result->response.len <= dst_cap) {
    /* Answered into dst already (jn_respond), or copied there now. */
    const uint64_t len = result->response.len;
    /* A response in dst needs no release (jn_call_into: its release frees
     * nothing); skipping it saves two calls on the usual path. */
    if (result->response.data != dst || dst_cap == 0) {
      if (len > 0) {
        memcpy(dst, result->response.data, len);
      }
      jn_buffer_release(&result->response);
    }
    if (result->status.message.release != NULL) {
      jn_buffer_release(&result->status.message);
    }
    return (int64_t)len;
  }
  junction_go_outcome* held = malloc(sizeof *held);
  if (held == NULL) {
    jn_buffer_release(&result->response);
    jn_buffer_release(&result->status.message);
    return JUNCTION_GO_OUTCOME_LOST;
  }
  held->status = status_from(code, &result->status);
  held->response = owned_from(&result->response);
  return -(int64_t)(intptr_t)held;
}

int64_t junction_go_call(uintptr_t method, const uint8_t* request, uint64_t request_len,
                         int64_t timeout_ns, uint8_t* dst, uint64_t dst_cap) {
  const jn_bytes view = {request, request_len};
  jn_result result;
  const int32_t code = jn_call_into((const jn_method*)method, view, deadline_after(timeout_ns), dst,
                                    dst_cap, &result);
  return answer_into(code, &result, dst, dst_cap);
}

int64_t junction_go_call_cancellable(uintptr_t method, const uint8_t* request, uint64_t request_len,
                                     int64_t timeout_ns, jn_cancel* cancel, uint8_t* dst,
                                     uint64_t dst_cap) {
  const jn_bytes view = {request, request_len};
  jn_result result;
  const int32_t code = jn_call_cancellable(
      (const jn_method*)method, view, deadline_after(timeout_ns), cancel, dst, dst_cap, &result);
  return answer_into(code, &result, dst, dst_cap);
}

junction_go_outcome junction_go_outcome_take(int64_t held) {
  junction_go_outcome outcome;
  if (held == JUNCTION_GO_OUTCOME_LOST) {
    jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
    jn_status_set(&status, JN_RESOURCE_EXHAUSTED, "cannot hold the call's outcome");
    const junction_go_owned none = {NULL, 0, 0, 0};
    outcome.status = status_from(JN_RESOURCE_EXHAUSTED, &status);
    outcome.response = none;
    return outcome;
  }
  junction_go_outcome* holder = (junction_go_outcome*)(intptr_t)(-held);
  outcome = *holder;
  free(holder);
  return outcome;
}

junction_go_outcome junction_go_call_borrowed(uintptr_t method, const uint8_t* request,
                                              uint64_t request_len, int64_t timeout_ns,
                                              jn_cancel* cancel) {
  const jn_bytes view = {request, request_len};
  jn_result result;
  const int32_t code = jn_call_cancellable((const jn_method*)method, view,
                                           deadline_after(timeout_ns), cancel, NULL, 0, &result);
  junction_go_outcome outcome;
  outcome.status = status_from(code, &result.status);
  outcome.response = owned_from(&result.response);
  return outcome;
}

static void junction_go_async_done(void* user_data, jn_result* result) {
  junction_go_outcome outcome;
  outcome.status = status_from(result->status.code, &result->status);
  outcome.response = owned_from(&result->response);
  junctionGoAsyncDone((uintptr_t)user_data, outcome);
}

junction_go_status junction_go_call_async(const jn_method* method, const uint8_t* request,
                                          uint64_t request_len, int64_t timeout_ns,
                                          jn_cancel* cancel, uintptr_t call_handle) {
  jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
  jn_buffer owned;
  int32_t code = jn_buffer_copy(request, request_len, &owned);
  if (code != JN_OK) {
    jn_status_set(&status, code, "cannot copy the request");
    return status_from(code, &status);
  }
  code = jn_call_async_cancellable(method, &owned, deadline_after(timeout_ns), cancel,
                                   junction_go_async_done, (void*)call_handle, &status);
  jn_buffer_release(&owned); /* a no-op once the host has taken it */
  return status_from(code, &status);
}

junction_go_status junction_go_host_new(const jn_host_options* options, jn_host** host) {
  jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
  const int32_t code = jn_host_new(options, host, &status);
  return status_from(code, &status);
}

junction_go_status junction_go_resolve(jn_host* host, const char* service, const char* method,
                                       jn_method** method_out) {
  jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
  const int32_t code = jn_host_resolve(host, service, method, method_out, &status);
  return status_from(code, &status);
}

junction_go_status junction_go_unregister(jn_host* host, const char* service) {
  jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
  const int32_t code = jn_host_unregister(host, service, &status);
  return status_from(code, &status);
}

junction_go_status junction_go_load_module(jn_host* host, const char* path) {
  jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
  const int32_t code = jn_host_load_module(host, path, &status);
  return status_from(code, &status);
}

static void junction_go_visit_service(void* listing, const jn_service_info* service) {
  junctionGoVisitService((uintptr_t)listing, (jn_service_info*)service);
}

int32_t junction_go_list_services(jn_host* host, uintptr_t listing) {
  return jn_host_list_services(host, junction_go_visit_service, (void*)listing);
}

/* The count NUL-terminated strings laid end to end in names, as an array
 * (freed with free), or NULL when names is NULL or the array cannot be
 * allocated. */
static const char** split_names(const char* names, uint32_t count) {
  if (names == NULL) {
    return NULL;
  }
  const char** split = calloc(count > 0 ? count : 1, sizeof *split);
  if (split == NULL) {
    return NULL;
  }
  for (uint32_t i = 0; i < count; ++i) {
    split[i] = names;
    names += strlen(names) + 1;
  }
  return split;
}

junction_go_status junction_go_listen(jn_host* host, const char* url, const char* service_names,
                                      uint32_t service_count, uint32_t threads,
                                      uint32_t max_in_flight, uint64_t max_payload_bytes,
                                      uint64_t max_unread_answers, uint64_t max_unread_answer_bytes,
                                      const char* curve_secret_key, const char* curve_client_keys,
                                      uint32_t curve_client_key_count, jn_listener** listener) {
  jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
  const char** services = split_names(service_names, service_count);
  const char** client_keys = split_names(curve_client_keys, curve_client_key_count);
  if ((service_names != NULL && services == NULL) ||
      (curve_client_keys != NULL && client_keys == NULL)) {
    free((void*)services);
    free((void*)client_keys);
    jn_status_set(&status, JN_RESOURCE_EXHAUSTED, "cannot allocate the listen options' lists");
    return status_from(JN_RESOURCE_EXHAUSTED, &status);
  }
  jn_listen_options options;
  memset(&options, 0, sizeof options);
  options.struct_size = (uint32_t)sizeof options;
  options.threads = threads;
  options.services = services;
  options.service_count = service_names != NULL ? service_count : 0;
  options.max_in_flight = max_in_flight;
  options.max_payload_bytes = max_payload_bytes;
  options.max_unread_answers = max_unread_answers;
  options.max_unread_answer_bytes = max_unread_answer_bytes;
  options.curve_secret_key = curve_secret_key;
  options.curve_client_keys = client_keys;
  options.curve_client_key_count = curve_client_keys != NULL ? curve_client_key_count : 0;
  const int32_t code = jn_host_listen(host, url, &options, listener, &status);
  free((void*)services);
  free((void*)client_keys);
  return status_from(code, &status);
}

junction_go_status junction_go_listener_set_curve_client_keys(jn_listener* listener,
                                                              const char* client_keys,
                                                              uint32_t key_count) {
  jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
  const char** keys = split_names(client_keys, key_count);
  if (client_keys != NULL && keys == NULL) {
    jn_status_set(&status, JN_RESOURCE_EXHAUSTED, "cannot allocate the client key list");
    return status_from(JN_RESOURCE_EXHAUSTED, &status);
  }
  const int32_t code = jn_listener_set_curve_client_keys(
      listener, keys, client_keys != NULL ? key_count : 0, &status);
  free((void*)keys);
  return status_from(code, &status);
}

int32_t junction_go_listener_drain(jn_listener* listener, int64_t timeout_ns) {
  return jn_listener_drain(listener, timeout_ns == 0 ? 0 : deadline_after(timeout_ns));
}

int32_t junction_go_listener_close(jn_listener* listener, int64_t timeout_ns) {
  return jn_listener_close(listener, timeout_ns == 0 ? 0 : deadline_after(timeout_ns));
}

junction_go_status junction_go_curve_keypair(char* public_key, char* secret_key) {
  jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
  const int32_t code = jn_curve_keypair(public_key, secret_key, &status);
  return status_from(code, &status);
}

junction_go_status junction_go_curve_public_key(const char* secret_key, char* public_key) {
  jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
  const int32_t code = jn_curve_public_key(secret_key, public_key, &status);
  return status_from(code, &status);
}

junction_go_status junction_go_route(jn_host* host, const char* service, const char* url,
                                     int64_t connect_timeout_ns, uint64_t max_payload_bytes,
                                     const char* curve_server_key, const char* curve_public_key,
                                     const char* curve_secret_key) {
  jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
  jn_route_options options;
  memset(&options, 0, sizeof options);
  options.struct_size = (uint32_t)sizeof options;
  options.connect_timeout_ns = connect_timeout_ns;
  options.max_payload_bytes = max_payload_bytes;
  options.curve_server_key = curve_server_key;
  options.curve_public_key = curve_public_key;
  options.curve_secret_key = curve_secret_key;
  const int32_t code = jn_host_route(host, service, url, &options, &status);
  return status_from(code, &status);
}

/* The handler trampoline: the method ctx is the handler's id in the Go
 * bridge's table. A response that fits in scratch is written there by Go
 * and answered here with jn_respond (into the caller's lent room when it
 * lent one, else a host buffer), which saves the handler a second cgo
 * crossing. */
static void junction_go_handler(void* ctx, jn_bytes request, int64_t deadline_ns,
                                jn_result* result) {
  int64_t timeout_ns = JUNCTION_GO_NO_TIMEOUT;
  if (deadline_ns != JN_NO_DEADLINE) {
    timeout_ns = deadline_ns - jn_now_ns();
    if (timeout_ns < 0) {
      timeout_ns = 0;
    }
  }
  uint8_t scratch[JUNCTION_GO_SCRATCH_BYTES];
  junction_go_serve_call call = {
      .handler_id = (uintptr_t)ctx,
      .request = request.data,
      .request_len = request.len,
      .timeout_ns = timeout_ns,
      .cancel = jn_call_cancel(),
      .result = result,
      .scratch = scratch,
  };
  const int64_t written = junctionGoServe(&call);
  if (written >= 0) {
    const int32_t code = jn_respond(result, scratch, (uint64_t)written);
    if (code != JN_OK) {
      jn_status_set(&result->status, code, "cannot allocate the response");
    }
  }
}

static void junction_go_destroy(void* ctx) { junctionGoDestroy((uintptr_t)ctx); }

static void junction_go_cancel_wake(void* context_handle) {
  junctionGoCancelled((uintptr_t)context_handle);
}

int32_t junction_go_watch_cancel(jn_cancel* cancel, uintptr_t context_handle,
                                 jn_cancel_watch** watch) {
  return jn_cancel_watch_new(cancel, junction_go_cancel_wake, (void*)context_handle, watch);
}

junction_go_status junction_go_register(jn_host* host, const char* service_name,
                                        const char* method_names, const uintptr_t* method_handles,
                                        uint32_t count, uintptr_t service_handle) {
  jn_status status = {0, 0, {NULL, 0, NULL, NULL}};
  jn_method_desc* methods = calloc(count > 0 ? count : 1, sizeof *methods);
  if (methods == NULL) {
    jn_status_set(&status, JN_RESOURCE_EXHAUSTED, "cannot allocate the method table");
    return status_from(JN_RESOURCE_EXHAUSTED, &status);
  }
  const char* name = method_names;
  for (uint32_t i = 0; i < count; ++i) {
    methods[i].name = name;
    methods[i].handler = junction_go_handler;
    methods[i].async_handler = NULL;
    methods[i].ctx = (void*)method_handles[i];
    name += strlen(name) + 1;
  }
  const jn_service_desc service = {
      JN_ABI_VERSION, count, service_name, methods, (void*)service_handle, junction_go_destroy};
  const int32_t code = jn_host_register(host, &service, &status);
  free(methods);
  return status_from(code, &status);
}

int32_t junction_go_respond(jn_result* result, const uint8_t* data, uint64_t len) {
  return jn_buffer_copy(data, len, &result->response);
}

void junction_go_fail(jn_result* result, int32_t code, const uint8_t* message, uint64_t len) {
  result->status.code = code;
  jn_buffer_release(&result->status.message);
  if (len > 0 && jn_buffer_copy(message, len, &result->status.message) != JN_OK) {
    result->status.message.release = NULL; /* out of memory: the code alone */
  }
}

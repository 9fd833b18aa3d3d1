/*
 * export_fixture.c - a stand-in for libjunction that defines every JN_API
 * function of junction.h as a stub, so check_exports.sh can be shown to
 * pass on a correct library and to fail on each kind of broken one. Each
 * variant differs from the correct one in exactly one respect:
 *   FIXTURE_OMIT_FUNCTION  - jn_method_stats_get is not defined;
 *   FIXTURE_EXTRA_JN       - an undeclared jn_ symbol is exported;
 *   FIXTURE_FOREIGN        - a non-jn_ symbol is exported (with a version
 *                            script that lets it through).
 * Linked, never called. A function added to junction.h is added here.
 */
#include "junction.h"

uint32_t jn_abi_version(void) { return JN_ABI_VERSION; }
const char* jn_status_name(int32_t code) { return code == JN_OK ? "OK" : "INVALID_CODE"; }
int64_t jn_now_ns(void) { return 0; }
int32_t jn_buffer_new(uint64_t len, uint8_t** data_out, jn_buffer* buffer) {
  (void)len, (void)data_out, (void)buffer;
  return JN_UNIMPLEMENTED;
}
int32_t jn_buffer_copy(const uint8_t* data, uint64_t len, jn_buffer* buffer) {
  (void)data, (void)len, (void)buffer;
  return JN_UNIMPLEMENTED;
}
void jn_buffer_release(jn_buffer* buffer) { (void)buffer; }
int32_t jn_status_set(jn_status* status, int32_t code, const char* message) {
  (void)status, (void)code, (void)message;
  return JN_UNIMPLEMENTED;
}
void jn_status_release(jn_status* status) { (void)status; }
void jn_result_release(jn_result* result) { (void)result; }
int32_t jn_live_objects(jn_live_counts* counts) {
  (void)counts;
  return JN_UNIMPLEMENTED;
}
int32_t jn_host_new(const jn_host_options* options, jn_host** host, jn_status* status) {
  (void)options, (void)host, (void)status;
  return JN_UNIMPLEMENTED;
}
int32_t jn_host_free(jn_host* host) {
  (void)host;
  return JN_UNIMPLEMENTED;
}
int32_t jn_host_register(jn_host* host, const jn_service_desc* service, jn_status* status) {
  (void)host, (void)service, (void)status;
  return JN_UNIMPLEMENTED;
}
int32_t jn_host_unregister(jn_host* host, const char* service, jn_status* status) {
  (void)host, (void)service, (void)status;
  return JN_UNIMPLEMENTED;
}
int32_t jn_host_list_services(jn_host* host, jn_service_visit_fn visit, void* user_data) {
  (void)host, (void)visit, (void)user_data;
  return JN_UNIMPLEMENTED;
}
int32_t jn_host_resolve(jn_host* host, const char* service, const char* method,
                        jn_method** method_out, jn_status* status) {
  (void)host, (void)service, (void)method, (void)method_out, (void)status;
  return JN_UNIMPLEMENTED;
}
void jn_method_free(jn_method* method) { (void)method; }
int32_t jn_call(const jn_method* method, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  (void)method, (void)request, (void)deadline_ns, (void)result;
  return JN_UNIMPLEMENTED;
}
int32_t jn_call_async(const jn_method* method, jn_buffer* request, int64_t deadline_ns,
                      jn_done_fn done, void* user_data, jn_status* status) {
  (void)method, (void)request, (void)deadline_ns, (void)done, (void)user_data, (void)status;
  return JN_UNIMPLEMENTED;
}
int32_t jn_complete(jn_completion completion, jn_result* result) {
  (void)completion, (void)result;
  return JN_UNIMPLEMENTED;
}
int32_t jn_host_load_module(jn_host* host, const char* path, jn_status* status) {
  (void)host, (void)path, (void)status;
  return JN_UNIMPLEMENTED;
}
int32_t jn_call_into(const jn_method* method, jn_bytes request, int64_t deadline_ns, uint8_t* dst,
                     uint64_t dst_cap, jn_result* result) {
  (void)method, (void)request, (void)deadline_ns, (void)dst, (void)dst_cap, (void)result;
  return JN_UNIMPLEMENTED;
}
int32_t jn_respond(jn_result* result, const uint8_t* data, uint64_t len) {
  (void)result, (void)data, (void)len;
  return JN_UNIMPLEMENTED;
}
int32_t jn_host_listen(jn_host* host, const char* url, const jn_listen_options* options,
                       jn_listener** listener, jn_status* status) {
  (void)host, (void)url, (void)options, (void)listener, (void)status;
  return JN_UNIMPLEMENTED;
}
const char* jn_listener_url(const jn_listener* listener) {
  (void)listener;
  return 0;
}
int32_t jn_listener_stats_get(const jn_listener* listener, jn_listener_stats* stats) {
  (void)listener, (void)stats;
  return JN_UNIMPLEMENTED;
}
int32_t jn_listener_drain(jn_listener* listener, int64_t drain_deadline_ns) {
  (void)listener, (void)drain_deadline_ns;
  return JN_UNIMPLEMENTED;
}
int32_t jn_listener_set_curve_client_keys(jn_listener* listener, const char* const* client_keys,
                                          uint32_t key_count, jn_status* status) {
  (void)listener, (void)client_keys, (void)key_count, (void)status;
  return JN_UNIMPLEMENTED;
}
int32_t jn_listener_close(jn_listener* listener, int64_t drain_deadline_ns) {
  (void)listener, (void)drain_deadline_ns;
  return JN_UNIMPLEMENTED;
}
int32_t jn_host_route(jn_host* host, const char* service, const char* url,
                      const jn_route_options* options, jn_status* status) {
  (void)host, (void)service, (void)url, (void)options, (void)status;
  return JN_UNIMPLEMENTED;
}
int32_t jn_host_route_stats(jn_host* host, const char* service, jn_route_stats* stats) {
  (void)host, (void)service, (void)stats;
  return JN_UNIMPLEMENTED;
}
int32_t jn_curve_keypair(char* public_key, char* secret_key, jn_status* status) {
  (void)public_key, (void)secret_key, (void)status;
  return JN_UNIMPLEMENTED;
}
int32_t jn_curve_public_key(const char* secret_key, char* public_key, jn_status* status) {
  (void)secret_key, (void)public_key, (void)status;
  return JN_UNIMPLEMENTED;
}
int32_t jn_cancel_new(jn_cancel** cancel) {
  (void)cancel;
  return JN_UNIMPLEMENTED;
}
void jn_cancel_signal(jn_cancel* cancel) { (void)cancel; }
void jn_cancel_free(jn_cancel* cancel) { (void)cancel; }
int32_t jn_call_cancellable(const jn_method* method, jn_bytes request, int64_t deadline_ns,
                            jn_cancel* cancel, uint8_t* dst, uint64_t dst_cap, jn_result* result) {
  (void)method, (void)request, (void)deadline_ns, (void)cancel, (void)dst, (void)dst_cap,
      (void)result;
  return JN_UNIMPLEMENTED;
}
int32_t jn_method_waits(const jn_method* method) {
  (void)method;
  return 0;
}
uint64_t jn_live_cancels(void) { return 0; }
int32_t jn_host_free_check(const jn_host* host) {
  (void)host;
  return 0;
}
int32_t jn_call_async_cancellable(const jn_method* method, jn_buffer* request, int64_t deadline_ns,
                                  jn_cancel* cancel, jn_done_fn done, void* user_data,
                                  jn_status* status) {
  (void)method, (void)request, (void)deadline_ns, (void)cancel, (void)done, (void)user_data,
      (void)status;
  return JN_UNIMPLEMENTED;
}
jn_cancel* jn_call_cancel(void) { return 0; }
int32_t jn_cancel_signalled(const jn_cancel* cancel) {
  (void)cancel;
  return 0;
}
int32_t jn_cancel_watch_new(jn_cancel* cancel, void (*wake)(void*), void* user_data,
                            jn_cancel_watch** watch) {
  (void)cancel, (void)wake, (void)user_data, (void)watch;
  return JN_UNIMPLEMENTED;
}
void jn_cancel_unwatch(jn_cancel_watch* watch) { (void)watch; }
#ifndef FIXTURE_OMIT_FUNCTION
int32_t jn_method_stats_get(const jn_method* method, jn_method_stats* stats) {
  (void)method, (void)stats;
  return JN_UNIMPLEMENTED;
}
#endif

#ifdef FIXTURE_EXTRA_JN
JN_API int32_t jn_fixture_undeclared(void);
int32_t jn_fixture_undeclared(void) { return JN_OK; }
#endif

#ifdef FIXTURE_FOREIGN
JN_API int32_t fixture_foreign(void);
int32_t fixture_foreign(void) { return JN_OK; }
#endif

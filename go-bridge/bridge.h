/* The C side of the Go bridge: trampolines that libjunction calls (they
 * enter Go through the functions exported in serve.go) and wrappers that let
 * Go make each call in one cgo crossing. Go pointers passed to these
 * functions are borrowed for the call only, as cgo requires.
 *
 * Buffers reach Go as junction_go_owned, never as jn_buffer: a producer's
 * private_data is free-form (the Rust bridge keeps a capacity there) and an
 * empty buffer's data may be any value, and Go must not find such values in
 * pointer-typed fields of its stacks or heap. */
#ifndef JUNCTION_GO_BRIDGE_H
#define JUNCTION_GO_BRIDGE_H

#include <junction.h>
#include <stdint.h>

/* JN_ABI_VERSION as this package was compiled against it. */
uint32_t junction_go_header_version(void);

/* An owned jn_buffer as Go holds it: release and private_data are opaque.
 * released <=> release == 0; an empty buffer never reaches Go unreleased
 * (so data is never an arbitrary pointer). */
typedef struct junction_go_owned {
  const uint8_t* data;
  uint64_t len;
  uintptr_t release;
  uintptr_t private_data;
} junction_go_owned;

/* Releases an owned buffer through its producer's callback (no-op when
 * released). */
void junction_go_owned_release(junction_go_owned owned);

/* A status as Go holds it: the code and its owned message. */
typedef struct junction_go_status {
  int32_t code;
  junction_go_owned message;
} junction_go_status;

/* No deadline, as a relative timeout. */
#define JUNCTION_GO_NO_TIMEOUT (-1)

/* A call's whole outcome: on OK the response, on failure the code and
 * message in status. The caller releases what is not released. */
typedef struct junction_go_outcome {
  junction_go_status status;
  junction_go_owned response;
} junction_go_outcome;

/* junction_go_call's answer when its outcome could not be held. */
#define JUNCTION_GO_OUTCOME_LOST INT64_MIN

/* jn_call_into with a deadline timeout_ns from now (JUNCTION_GO_NO_TIMEOUT:
 * none), lending dst. method: a jn_method*, as an integer so that cgo has
 * no pointer to check. request: borrowed. dst: borrowed, dst_cap writable
 * bytes (NULL if 0).
 *
 * The usual call (OK, the response fits dst) returns the response's length
 * n >= 0, the response being in dst: one crossing, nothing allocated.
 * Otherwise (a failure, or a larger response) the outcome is held in C
 * memory and the return value is negative: junction_go_outcome_take gives
 * the outcome and frees its holder. JUNCTION_GO_OUTCOME_LOST: the holder
 * could not be allocated (the response and message are released). */
int64_t junction_go_call(uintptr_t method, const uint8_t* request, uint64_t request_len,
                         int64_t timeout_ns, uint8_t* dst, uint64_t dst_cap);

/* junction_go_call made with jn_call_cancellable: cancel (borrowed; NULL:
 * none) ends the call's wait. */
int64_t junction_go_call_cancellable(uintptr_t method, const uint8_t* request, uint64_t request_len,
                                     int64_t timeout_ns, jn_cancel* cancel, uint8_t* dst,
                                     uint64_t dst_cap);

/* Watches a Go handler's cancel (jn_cancel_watch_new): its signal calls
 * junctionGoCancelled(context_handle), the cgo.Handle of the handler's
 * context. */
int32_t junction_go_watch_cancel(jn_cancel* cancel, uintptr_t context_handle,
                                 jn_cancel_watch** watch);

/* The outcome held by a negative junction_go_call return (exactly once). */
junction_go_outcome junction_go_outcome_take(int64_t held);

/* jn_call_cancellable without room, with a deadline as in junction_go_call:
 * the whole outcome, the response left in its producer's buffer. request:
 * borrowed. cancel: borrowed, NULL for none. */
junction_go_outcome junction_go_call_borrowed(uintptr_t method, const uint8_t* request,
                                              uint64_t request_len, int64_t timeout_ns,
                                              jn_cancel* cancel);

/* jn_call_async_cancellable with a copy of request (borrowed) and a
 * deadline as in junction_go_call. cancel: NULL for none; the call holds
 * its own. On OK, junctionGoAsyncDone(call_handle, outcome) runs exactly
 * once, on whichever thread answers; otherwise nothing started. */
junction_go_status junction_go_call_async(const jn_method* method, const uint8_t* request,
                                          uint64_t request_len, int64_t timeout_ns,
                                          jn_cancel* cancel, uintptr_t call_handle);

/* The host functions Go calls, with their status returned by value. */
junction_go_status junction_go_host_new(const jn_host_options* options, jn_host** host);
junction_go_status junction_go_resolve(jn_host* host, const char* service, const char* method,
                                       jn_method** method_out);
junction_go_status junction_go_unregister(jn_host* host, const char* service);
junction_go_status junction_go_load_module(jn_host* host, const char* path);

/* jn_host_list_services, each service given to
 * junctionGoVisitService(listing, service) on this thread. listing: a
 * cgo.Handle, passed back as is. */
int32_t junction_go_list_services(jn_host* host, uintptr_t listing);

/* jn_host_listen. url: borrowed. service_names: service_count
 * NUL-terminated names laid end to end (borrowed), or NULL to serve every
 * service. The limits as in jn_listen_options (0: the defaults).
 * curve_secret_key: borrowed, NULL for no CURVE. curve_client_keys:
 * curve_client_key_count keys laid end to end like the names (borrowed), or
 * NULL to let in any client. listener: out, closed with jn_listener_close. */
junction_go_status junction_go_listen(jn_host* host, const char* url, const char* service_names,
                                      uint32_t service_count, uint32_t threads,
                                      uint32_t max_in_flight, uint64_t max_payload_bytes,
                                      uint64_t max_unread_answers, uint64_t max_unread_answer_bytes,
                                      const char* curve_secret_key, const char* curve_client_keys,
                                      uint32_t curve_client_key_count, jn_listener** listener);

/* jn_listener_set_curve_client_keys. client_keys: key_count keys laid end
 * to end like junction_go_listen's (borrowed), or NULL for none. */
junction_go_status junction_go_listener_set_curve_client_keys(jn_listener* listener,
                                                              const char* client_keys,
                                                              uint32_t key_count);

/* jn_listener_drain with a drain deadline timeout_ns from now
 * (JUNCTION_GO_NO_TIMEOUT: wait for every call in flight; 0: do not wait). */
int32_t junction_go_listener_drain(jn_listener* listener, int64_t timeout_ns);

/* jn_listener_close with a drain deadline timeout_ns from now
 * (JUNCTION_GO_NO_TIMEOUT: wait for every call in flight; 0: do not wait). */
int32_t junction_go_listener_close(jn_listener* listener, int64_t timeout_ns);

/* jn_curve_keypair and jn_curve_public_key, with their statuses as the
 * bridge's. The keys are buffers of JN_CURVE_KEY_LENGTH + 1 bytes (out), or
 * borrowed (secret_key of the second). */
junction_go_status junction_go_curve_keypair(char* public_key, char* secret_key);
junction_go_status junction_go_curve_public_key(const char* secret_key, char* public_key);

/* jn_host_route. service, url: borrowed. connect_timeout_ns,
 * max_payload_bytes and the CURVE keys (borrowed, NULL for none) as in
 * jn_route_options (0: the defaults). */
junction_go_status junction_go_route(jn_host* host, const char* service, const char* url,
                                     int64_t connect_timeout_ns, uint64_t max_payload_bytes,
                                     const char* curve_server_key, const char* curve_public_key,
                                     const char* curve_secret_key);

/* Registers a service whose methods are Go handlers. method_names: count
 * NUL-terminated names laid end to end (borrowed). method_handles: count
 * cgo.Handle values, each passed back to the handler trampoline as its
 * method ctx (borrowed array; the handles are transferred on success).
 * service_handle: passed to the destroy trampoline once the service is gone. */
junction_go_status junction_go_register(jn_host* host, const char* service_name,
                                        const char* method_names, const uintptr_t* method_handles,
                                        uint32_t count, uintptr_t service_handle);

/* How large a response the handler trampoline takes from Go on its stack. */
#define JUNCTION_GO_SCRATCH_BYTES 512

/* One Go handler call as the trampoline passes it to Go: one pointer
 * crosses instead of eight arguments, which the export's wrappers would
 * each copy twice. Lives on the trampoline's stack for the call. */
typedef struct junction_go_serve_call {
  uintptr_t handler_id;   /* the handler's id in the Go bridge's table */
  const uint8_t* request; /* borrowed for the call */
  uint64_t request_len;
  int64_t timeout_ns; /* or JUNCTION_GO_NO_TIMEOUT */
  jn_cancel* cancel;  /* the call's cancel (NULL: none) */
  jn_result* result;  /* the host's, for failures and large responses */
  uint8_t* scratch;   /* JUNCTION_GO_SCRATCH_BYTES lent for the response */
} junction_go_serve_call;

/* A Go handler's answers, written into the result the host passed it. */
int32_t junction_go_respond(jn_result* result, const uint8_t* data, uint64_t len);
void junction_go_fail(jn_result* result, int32_t code, const uint8_t* message, uint64_t len);

#endif

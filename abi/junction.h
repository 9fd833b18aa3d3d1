/*
 * junction.h - the stable C ABI of junction.
 *
 * This header is the single source of truth shared by the C++ host
 * (libjunction), the Go bridge (cgo) and the Rust bridge (junction-sys).
 * It is C99 with fixed-width types only and also compiles as C++.
 * abi/ABI.md states the contract in prose; the comments here are normative.
 *
 * Pointer conventions, used on every parameter below:
 *   borrowed    - the callee reads it during the call only; the caller keeps
 *                 ownership and may free it as soon as the call returns.
 *   transferred - ownership moves to the callee on success; on failure the
 *                 caller still owns it (nothing is lost).
 *   out         - written by the callee; what it then owns and how to free it
 *                 is stated per parameter. Out parameters are written on
 *                 success and, where stated, also on failure.
 * A NULL where a pointer is required returns JN_INVALID_ARGUMENT.
 */
#ifndef JUNCTION_H
#define JUNCTION_H

#include <stdint.h>

/* ABI version. A host accepts descriptors with the same major and a minor no
 * newer than its own. From 1.0 on, changes are additive only: new functions,
 * new status codes never, new fields only in reserved space or behind
 * struct_size. */
#define JN_ABI_VERSION_MAJOR 1
#define JN_ABI_VERSION_MINOR 13
#define JN_ABI_VERSION \
  ((uint32_t)(((uint32_t)JN_ABI_VERSION_MAJOR << 16) | (uint32_t)JN_ABI_VERSION_MINOR))
#define JN_ABI_VERSION_MAJOR_OF(v) ((uint32_t)(v) >> 16)
#define JN_ABI_VERSION_MINOR_OF(v) ((uint32_t)(v)&0xFFFFu)

#if defined(__GNUC__) || defined(__clang__)
#define JN_API __attribute__((visibility("default")))
#else
#define JN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Status codes: the same numbers as gRPC's, so mapping to gRPC is identity
 * and to HTTP is one table (abi/ABI.md). */
enum {
  JN_OK = 0,
  JN_CANCELLED = 1,
  JN_UNKNOWN = 2,
  JN_INVALID_ARGUMENT = 3,
  JN_DEADLINE_EXCEEDED = 4,
  JN_NOT_FOUND = 5,
  JN_ALREADY_EXISTS = 6,
  JN_PERMISSION_DENIED = 7,
  JN_RESOURCE_EXHAUSTED = 8,
  JN_FAILED_PRECONDITION = 9,
  JN_ABORTED = 10,
  JN_OUT_OF_RANGE = 11,
  JN_UNIMPLEMENTED = 12,
  JN_INTERNAL = 13,
  JN_UNAVAILABLE = 14,
  JN_DATA_LOSS = 15,
  JN_UNAUTHENTICATED = 16
};
#define JN_STATUS_CODE_MAX 16

/* Deadlines are absolute times in nanoseconds on jn_now_ns()'s monotonic
 * clock. JN_NO_DEADLINE means the call may take as long as it needs. */
#define JN_NO_DEADLINE INT64_MAX

/* ------------------------------------------------------------------------ */
/* Bytes. */

/* A borrowed view: valid for the duration of the call it is passed to.
 * data may be NULL only when len is 0. */
typedef struct jn_bytes {
  const uint8_t* data;
  uint64_t len;
} jn_bytes;

/* An owned buffer, released through its producer's callback.
 * - release(buffer) frees data and private_data with the allocator that made
 *   them and sets buffer->release to NULL.
 * - release == NULL means released (or empty): data and len must not be read.
 * - Release exactly once. Moving a buffer is a bitwise copy followed by
 *   setting the source's release to NULL.
 * - release may be called from any thread. */
typedef struct jn_buffer {
  const uint8_t* data;
  uint64_t len;
  void (*release)(struct jn_buffer* buffer);
  void* private_data;
} jn_buffer;

/* A status: a code and an owned UTF-8 message (not NUL-terminated; len is
 * its length; empty when message.release == NULL). */
typedef struct jn_status {
  int32_t code;
  uint32_t reserved; /* zero */
  jn_buffer message;
} jn_status;

/* The outcome of a call: status and owned response. The response is empty
 * (released) whenever status.code != JN_OK. Free with jn_result_release. */
typedef struct jn_result {
  jn_status status;
  jn_buffer response;
} jn_result;

/* ------------------------------------------------------------------------ */
/* Library-level functions. All are thread-safe. */

/* The version this library implements (JN_ABI_VERSION when built). */
JN_API uint32_t jn_abi_version(void);

/* The canonical name of a code ("OK", "NOT_FOUND", ...), a static string;
 * "INVALID_CODE" for a number outside 0..JN_STATUS_CODE_MAX. */
JN_API const char* jn_status_name(int32_t code);

/* Now, in nanoseconds, on the monotonic clock deadlines are measured on. */
JN_API int64_t jn_now_ns(void);

/* A host-allocated buffer of len bytes. out: *buffer, released with
 * jn_buffer_release; *data_out (out, may be NULL) receives the writable
 * bytes. len 0 yields an empty buffer whose release is still set. */
JN_API int32_t jn_buffer_new(uint64_t len, uint8_t** data_out, jn_buffer* buffer);

/* A host-allocated copy of data[0..len). data: borrowed (NULL only if len is
 * 0). buffer: out, released with jn_buffer_release. */
JN_API int32_t jn_buffer_copy(const uint8_t* data, uint64_t len, jn_buffer* buffer);

/* Releases buffer through its own callback; a NULL pointer or an already
 * released buffer is a no-op. */
JN_API void jn_buffer_release(jn_buffer* buffer);

/* Sets status to code with a copy of the NUL-terminated message (borrowed;
 * NULL means no message). A message already held by status is released
 * first. A code outside 0..JN_STATUS_CODE_MAX returns JN_INVALID_ARGUMENT
 * and leaves status holding JN_INVALID_ARGUMENT with the reason. */
JN_API int32_t jn_status_set(jn_status* status, int32_t code, const char* message);

/* Releases status->message and result->status.message/result->response.
 * NULL is a no-op. Codes are left as they are. */
JN_API void jn_status_release(jn_status* status);
JN_API void jn_result_release(jn_result* result);

/* Counts of live objects made by this library, for leak tests in every
 * language: each returns to its baseline once everything made is released. */
typedef struct jn_live_counts {
  uint64_t buffers;       /* buffers from jn_buffer_new/copy and messages */
  uint64_t buffer_bytes;  /* bytes held by those buffers */
  uint64_t hosts;         /* hosts not yet freed */
  uint64_t methods;       /* method handles not yet freed */
  uint64_t services;      /* registered services whose destroy has not run */
  uint64_t pending_calls; /* asynchronous calls not yet finished */
} jn_live_counts;
JN_API int32_t jn_live_objects(jn_live_counts* counts);

/* Cancels made (jn_cancel_new) and not yet freed, for the same leak tests
 * (since ABI 1.11; jn_live_counts has no room for them). One an
 * asynchronous call holds is freed once the call is done with it. */
JN_API uint64_t jn_live_cancels(void);

/* ------------------------------------------------------------------------ */
/* Services. */

/* A synchronous handler. ctx: the method's ctx. request: borrowed for the
 * call. deadline_ns: the caller's deadline (handlers may give up early with
 * JN_DEADLINE_EXCEEDED). result: out, zero-initialised by the host (code
 * JN_OK, message and response released); the handler sets the response
 * and/or the status. If the code is not JN_OK any response is released by
 * the host; a code outside 0..JN_STATUS_CODE_MAX becomes JN_INTERNAL.
 * Handlers run on the caller's thread (synchronous calls) or on a host
 * worker thread (asynchronous calls), possibly many at once. */
typedef void (*jn_handler_fn)(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result);

/* Identifies one in-flight asynchronous handler invocation. Passed by value;
 * finished with jn_complete exactly once. */
typedef struct jn_completion {
  uint64_t call_id;
  uint64_t reserved;
} jn_completion;

/* An asynchronous handler: returns at once and later (on any thread) calls
 * jn_complete(completion, ...). request stays valid until jn_complete. */
typedef void (*jn_async_handler_fn)(void* ctx, jn_bytes request, int64_t deadline_ns,
                                    jn_completion completion);

/* One method. name: NUL-terminated, 1..255 bytes, copied at registration.
 * Exactly one of handler and async_handler is non-NULL. ctx: passed to the
 * handler as is; owned by the service (see jn_service_desc.destroy). */
typedef struct jn_method_desc {
  const char* name;
  jn_handler_fn handler;
  jn_async_handler_fn async_handler;
  void* ctx;
} jn_method_desc;

/* A service. abi_version: JN_ABI_VERSION of the code that built the
 * descriptor. name: NUL-terminated, 1..255 bytes. methods: method_count
 * entries (at least one, names unique). Everything but ctx is copied at
 * registration. destroy (may be NULL) is called exactly once with ctx, on any
 * thread, after the service is unregistered (or its host freed) and every
 * call that had started has returned; until then the host may use ctx and
 * the methods' ctx. If registration fails, destroy is not called and ctx
 * stays the caller's. */
typedef struct jn_service_desc {
  uint32_t abi_version;
  uint32_t method_count;
  const char* name;
  const jn_method_desc* methods;
  void* ctx;
  void (*destroy)(void* ctx);
} jn_service_desc;

/* ------------------------------------------------------------------------ */
/* Hosts and calls. Every function may be called from any thread, and from
 * inside a handler (re-entrantly), except jn_host_free. Status out
 * parameters are written on success too (JN_OK, empty message). */

typedef struct jn_host jn_host;     /* opaque */
typedef struct jn_method jn_method; /* opaque resolved (service, method) */

/* Options for jn_host_new. struct_size = sizeof(jn_host_options) so fields
 * can be appended later (a struct_size of 8, from code built against 1.2 or
 * earlier, gives the later fields their defaults). worker_threads: threads
 * running asynchronous calls (0 = default: 2). thread_slice_ns (since 1.3):
 * the scheduler slice the host's own threads and its listeners' threads ask
 * the kernel for (abi/ABI.md, "The host's threads"): 0 = default, 0.5 ms;
 * JN_THREAD_SLICE_INHERITED = none asked for, the threads keep the slice of
 * the thread that created the host or listener; otherwise from
 * JN_THREAD_SLICE_MIN_NS to JN_THREAD_SLICE_MAX_NS (the kernel's bounds),
 * anything else JN_INVALID_ARGUMENT. */
typedef struct jn_host_options {
  uint32_t struct_size;
  uint32_t worker_threads;
  uint64_t thread_slice_ns;
} jn_host_options;

#define JN_THREAD_SLICE_INHERITED UINT64_MAX
#define JN_THREAD_SLICE_MIN_NS ((uint64_t)100000)
#define JN_THREAD_SLICE_MAX_NS ((uint64_t)100000000)

/* Creates a host. options: borrowed, NULL for defaults. host: out, freed
 * with jn_host_free. status: out, may be NULL; on failure it holds the
 * reason (release with jn_status_release). */
JN_API int32_t jn_host_new(const jn_host_options* options, jn_host** host, jn_status* status);

/* Frees a host: unregisters every service, answers pending asynchronous
 * calls with JN_CANCELLED, waits for synchronous calls and worker handlers in
 * flight on its services (calls on other hosts' services do not hold it up,
 * unless they called into yet another host: abi/ABI.md, jn_host_free),
 * joins the workers and runs destroy callbacks. An asynchronous
 * handler that has not called jn_complete keeps its request and its
 * service's ctx: that service's destroy runs when the last such handler
 * completes (jn_complete then returns JN_CANCELLED). Method handles stay
 * valid (calls on them return JN_NOT_FOUND) until jn_method_free. NULL is a
 * no-op returning JN_OK. Called from inside a handler, or from a callback
 * running on one of this host's own threads or run by this free (done,
 * destroy), or while one of its listeners is open (since 1.2), it refuses
 * with JN_FAILED_PRECONDITION and frees nothing; out of memory before it
 * begins, JN_RESOURCE_EXHAUSTED, freeing nothing. A handler the free waits for
 * may still call host: it finds no service (JN_NOT_FOUND), and what would
 * add to host (jn_host_register, jn_host_route, jn_host_load_module,
 * jn_host_listen) is refused with JN_FAILED_PRECONDITION. */
JN_API int32_t jn_host_free(jn_host* host);

/* Whether jn_host_free(host) would refuse for where it is called from
 * (since ABI 1.13): JN_FAILED_PRECONDITION inside a handler or in a
 * callback on one of host's own threads, JN_OK elsewhere and for NULL.
 * host's open listeners are not looked at: code that closes them before
 * freeing host asks first, so that a free that would be refused closes
 * nothing (a handler closing the listener that runs it would wait for
 * itself). */
JN_API int32_t jn_host_free_check(const jn_host* host);

/* Registers a service. service: borrowed (ctx transferred on success).
 * Fails with JN_FAILED_PRECONDITION on an ABI major mismatch or a newer
 * minor, JN_ALREADY_EXISTS for a registered name, JN_INVALID_ARGUMENT for a
 * malformed descriptor. status: out, may be NULL. */
JN_API int32_t jn_host_register(jn_host* host, const jn_service_desc* service, jn_status* status);

/* Unregisters a service: no call starts on it after this returns; calls in
 * flight finish and then destroy runs (on some thread, maybe later). Does
 * not wait, so it may be called from inside a handler. JN_NOT_FOUND if no
 * such service; JN_RESOURCE_EXHAUSTED, the service still registered, out of
 * memory. service: borrowed. status: out, may be NULL. */
JN_API int32_t jn_host_unregister(jn_host* host, const char* service, jn_status* status);

/* One of a host's services, as jn_host_list_services reports it (since
 * ABI 1.7). struct_size: sizeof(jn_service_info) of the library making the
 * report; code built against a later ABI reads only the fields within it.
 * name: the service's name. methods: method_count names of a registered
 * service's methods, in byte order; a routed service lists none (any name
 * resolves, and the far host judges it), and route_url is the URL its calls
 * go to, as jn_host_route was given it (NULL for a registered service).
 * Everything is borrowed for the visit only. */
typedef struct jn_service_info {
  uint32_t struct_size;
  uint32_t method_count;
  const char* name;
  const char* const* methods;
  const char* route_url;
} jn_service_info;

/* Receives one service of a listing. user_data: jn_host_list_services's. */
typedef void (*jn_service_visit_fn)(void* user_data, const jn_service_info* service);

/* Lists host's services, registered and routed, as they are when called:
 * visit runs once per service, in byte order of the names, on this thread,
 * after the host has let go of its registry, so visit may call any jn_
 * function (a service registered or unregistered meanwhile does not change
 * the listing under way). Returns JN_OK; JN_INVALID_ARGUMENT for a NULL host
 * or visit; JN_RESOURCE_EXHAUSTED if the listing cannot be made (nothing
 * visited). Since ABI 1.7. */
JN_API int32_t jn_host_list_services(jn_host* host, jn_service_visit_fn visit, void* user_data);

/* Resolves (service, method) once. service, method: borrowed. method_out:
 * out (NULL on failure), freed with jn_method_free; valid even after the
 * service goes away. JN_NOT_FOUND for an unknown service or method. status:
 * out, may be NULL. */
JN_API int32_t jn_host_resolve(jn_host* host, const char* service, const char* method,
                               jn_method** method_out, jn_status* status);

/* Frees a method handle; NULL is a no-op. The handle must not be in use. */
JN_API void jn_method_free(jn_method* method);

/* Calls a method synchronously on this thread. request: borrowed for the
 * call. result: out, always written (even on failure, unless NULL); the
 * caller releases it with jn_result_release. Returns result->status.code.
 * JN_NOT_FOUND if the service was unregistered since resolve;
 * JN_DEADLINE_EXCEEDED if the deadline has passed before the handler runs
 * (an asynchronous handler is also abandoned at the deadline). The hot path
 * takes no lock and allocates nothing. */
JN_API int32_t jn_call(const jn_method* method, jn_bytes request, int64_t deadline_ns,
                       jn_result* result);

/* Since ABI 1.1. jn_call, lending the handler room for its response:
 * dst[0..dst_cap) (borrowed: writable for the call only; NULL only if
 * dst_cap is 0). A synchronous handler that answers with jn_respond writes a
 * response that fits there directly, without an allocation; result->response
 * then points into dst (its release callback frees nothing, so a caller
 * that lent room, dst_cap > 0, and finds result->response.data == dst may
 * skip releasing it; without room an empty response of the handler's own
 * may carry any pointer, dst's included). Any other response (a handler
 * that sets result->response itself, one larger than dst_cap, an
 * asynchronous handler's) is an ordinary owned buffer. Either way the
 * caller reads result->response and releases the result as after jn_call.
 * Otherwise as jn_call. */
JN_API int32_t jn_call_into(const jn_method* method, jn_bytes request, int64_t deadline_ns,
                            uint8_t* dst, uint64_t dst_cap, jn_result* result);

/* Since ABI 1.1. Answers a synchronous handler's call with a copy of
 * data[0..len) (borrowed; NULL only if len is 0): into the room its caller
 * lent through jn_call_into when it fits, otherwise into a host buffer.
 * result: the result the host passed the handler, whose response must still
 * be released; it receives the response. JN_RESOURCE_EXHAUSTED if a host
 * buffer cannot be allocated (result is left unchanged). */
JN_API int32_t jn_respond(jn_result* result, const uint8_t* data, uint64_t len);

/* Receives the outcome of an asynchronous call, exactly once, on a host
 * thread (a worker; the timer thread for a deadline or a cancel; a routed
 * method's connection thread), on the thread that completed the call, or
 * on the thread in jn_host_free (a call still pending when its host is
 * freed: JN_CANCELLED). result: its contents are transferred to the
 * callback, which releases them (jn_result_release) now or later. */
typedef void (*jn_done_fn)(void* user_data, jn_result* result);

/* Calls a method asynchronously. request: transferred on JN_OK (the
 * caller's struct is marked released; NULL means an empty request); the host
 * releases it once the handler is done with it, a routed method's once the
 * call is sent (from 4 KiB, sent without a copy and released once written,
 * on the connection's I/O thread), not when its answer comes. Release may
 * run on any thread. A deadline that has already passed is accepted and
 * answered through done. A synchronous handler holds a host worker thread
 * until it returns. A routed method's call is sent on the calling thread
 * when its connection is up and has room, otherwise by a worker (waiting
 * for the connection); its connection's own thread receives the answer.
 * done: called exactly once if and only if this returns JN_OK, also on
 * deadline expiry (JN_DEADLINE_EXCEEDED) and host shutdown (JN_CANCELLED).
 * On any other return nothing was started and the request is still the
 * caller's. status: out, may be NULL. */
JN_API int32_t jn_call_async(const jn_method* method, jn_buffer* request, int64_t deadline_ns,
                             jn_done_fn done, void* user_data, jn_status* status);

/* Finishes an asynchronous handler invocation. result: contents transferred
 * (the source is marked released), also when the call fails. Returns JN_OK
 * when the result reached the caller; JN_DEADLINE_EXCEEDED or JN_CANCELLED
 * when the caller had already been answered (the result is released);
 * JN_FAILED_PRECONDITION for an unknown or already completed call. */
JN_API int32_t jn_complete(jn_completion completion, jn_result* result);

/* Per-method statistics, shared by every handle on the same method of the
 * same registration. calls and errors are exact; latency is sampled (every
 * 128th synchronous call of a thread on the method, and every asynchronous
 * call). */
typedef struct jn_method_stats {
  uint64_t calls;
  uint64_t errors;
  uint64_t latency_samples;
  uint64_t latency_mean_ns;
  uint64_t latency_p50_ns; /* upper bound of the log2 bucket holding p50 */
  uint64_t latency_p99_ns; /* upper bound of the log2 bucket holding p99 */
  uint64_t latency_max_ns;
} jn_method_stats;

/* method: borrowed. stats: out. */
JN_API int32_t jn_method_stats_get(const jn_method* method, jn_method_stats* stats);

/* ------------------------------------------------------------------------ */
/* Cancelling a call while it waits (since ABI 1.10). A call waits when it
 * goes to another host (a routed method: for its connection and its
 * answer) or to an asynchronous handler (for jn_complete); a synchronous
 * handler in this process runs on the caller's thread and is never
 * interrupted. */

typedef struct jn_cancel jn_cancel; /* opaque */

/* Makes a cancel, not yet signalled, for one call or many. cancel: out,
 * freed with jn_cancel_free. JN_INVALID_ARGUMENT for NULL;
 * JN_RESOURCE_EXHAUSTED when it cannot be allocated. */
JN_API int32_t jn_cancel_new(jn_cancel** cancel);

/* Signals cancel, from any thread, any number of times; it stays signalled.
 * A call waiting with it is answered JN_CANCELLED at once, and later calls
 * made with it are answered JN_CANCELLED before they start. What the call
 * waited for is not stopped: the other host's handler, or the asynchronous
 * handler, runs to its end, and its answer is dropped; a routed call that
 * was sent tells the other host, which ends the waits of the call there
 * (docs/wire.md, "Cancels"). A synchronous handler is not interrupted, but
 * may look (jn_call_cancel). NULL is a no-op. */
JN_API void jn_cancel_signal(jn_cancel* cancel);

/* Frees cancel; NULL is a no-op. No call made with it, and no
 * jn_cancel_signal of it, may still be running, except an asynchronous call
 * (jn_call_async_cancellable), which holds cancel itself until its handler
 * is done with it. */
JN_API void jn_cancel_free(jn_cancel* cancel);

/* jn_call_into that cancel (borrowed; NULL: none) can end while it waits.
 * JN_CANCELLED when cancel was signalled before the call or while it
 * waited. Calls made on this thread while it runs (a synchronous handler's
 * own calls) end their waits with cancel too, unless they bring their own;
 * an asynchronous call started there without one (jn_call_async) has none,
 * since it may outlive this call. */
JN_API int32_t jn_call_cancellable(const jn_method* method, jn_bytes request, int64_t deadline_ns,
                                   jn_cancel* cancel, uint8_t* dst, uint64_t dst_cap,
                                   jn_result* result);

/* jn_call_async that cancel (borrowed; NULL: none) can answer early (since
 * ABI 1.11). Signalled before the call or while it runs, cancel answers it
 * JN_CANCELLED through done at once, whatever the handler: as a deadline
 * does, it stops nothing that runs, and an answer that comes later is
 * released. The handler runs with cancel as its jn_call_cancel(), and a
 * routed method's call ends at once and tells the other host. The call holds
 * cancel until its handler is done: cancel may be freed as soon as this
 * returns, and a handler may pass its own jn_call_cancel() to a call that
 * outlives it. */
JN_API int32_t jn_call_async_cancellable(const jn_method* method, jn_buffer* request,
                                         int64_t deadline_ns, jn_cancel* cancel, jn_done_fn done,
                                         void* user_data, jn_status* status);

/* What a synchronous handler sees of its caller's cancel: the cancel of the
 * call whose handler runs on this thread (its caller's, given to
 * jn_call_cancellable or jn_call_async_cancellable, or, for a call from
 * another host, the listener's, which that host's cancel message signals:
 * docs/wire.md, "Cancels"), or NULL when it has none. Borrowed: usable
 * until the handler returns. */
JN_API jn_cancel* jn_call_cancel(void);

/* 1 once cancel has been signalled, 0 before and for NULL. */
JN_API int32_t jn_cancel_signalled(const jn_cancel* cancel);

/* A handler's watch of its call's cancel, for code that waits in ways of
 * its own (a Go context's Done channel, a condition variable). */
typedef struct jn_cancel_watch jn_cancel_watch; /* opaque */

/* Watches cancel (borrowed; it must outlive the watch): wake(user_data)
 * runs once, on the thread that signals cancel (at once on this thread
 * when it was signalled already), and never after jn_cancel_unwatch has
 * returned (which waits for a wake running on another thread). wake runs
 * with no lock of the cancel's held: it may answer calls (jn_complete,
 * also of the call cancel cancels) and end watches of cancel, its own
 * included, but must not free cancel. watch: out,
 * ended with jn_cancel_unwatch. JN_INVALID_ARGUMENT for a NULL argument;
 * JN_RESOURCE_EXHAUSTED when the watch cannot be allocated. */
JN_API int32_t jn_cancel_watch_new(jn_cancel* cancel, void (*wake)(void* user_data),
                                   void* user_data, jn_cancel_watch** watch);

/* Ends and frees watch (NULL is a no-op): once it returns, its wake is
 * not running and never runs. Not from inside the wake. */
JN_API void jn_cancel_unwatch(jn_cancel_watch* watch);

/* 1 when calls on method can wait (a routed method, an asynchronous
 * handler) and so be cancelled while they run, 0 otherwise and for NULL:
 * a binding makes a cancel only for the calls that can use it. */
JN_API int32_t jn_method_waits(const jn_method* method);

/* ------------------------------------------------------------------------ */
/* Transports (since ABI 1.2): serving a host's services to other processes
 * and calling services other hosts serve, over the wire protocol of
 * docs/wire.md. URLs name the transport:
 *   zmq+tcp://HOST:PORT  HOST an IPv4 address or [IPv6 address] (a route
 *                        may also name a host); PORT 0 lets a listener's
 *                        system choose (jn_listener_url)
 *   zmq+ipc:///PATH      a Unix domain socket at the absolute PATH
 *   zmq+inproc://NAME    within this process only
 * A listener binds exactly the address it is given: no names, interfaces
 * or wildcards; on zmq+ipc it refuses a path another process listens on. */

typedef struct jn_listener jn_listener; /* opaque */

/* The most answers jn_listen_options.max_unread_answers may let one
 * connection leave unread (since ABI 1.6). */
#define JN_MAX_UNREAD_ANSWERS UINT64_C(1048576)

/* Options for jn_host_listen. struct_size = sizeof(jn_listen_options).
 * services: borrowed for the call; the names of the services to serve
 * (service_count of them), or NULL to serve every service the host has,
 * now or later. A call for any other service is answered JN_NOT_FOUND.
 * threads: threads that take turns receiving calls and run their handlers
 * (0 = 4; at most max_in_flight). When the last free one takes a call, another is started, so a
 * slow call never holds up the next one; the extra threads end when idle.
 * max_in_flight: calls served at once, each on its own thread (0 = 1024).
 * Beyond them the listener reads on, up to as many calls again, queued
 * oldest first with their deadlines started, and the cancels of running
 * and queued calls; a queued call cancelled or past its deadline is
 * answered without its handler running (jn_listener_stats counts both
 * since ABI 1.12). With that queue full it stops reading until a call
 * ends. max_payload_bytes: larger request payloads are refused with
 * JN_RESOURCE_EXHAUSTED, and a ZeroMQ frame larger than it closes the
 * sender's connection (0 = 64 MiB).
 * Since ABI 1.6, the bounds on what one connection may leave unread
 * (docs/wire.md, "Unread answers"): once max_unread_answers answers (0 =
 * 1024; at most JN_MAX_UNREAD_ANSWERS) or max_unread_answer_bytes bytes
 * (0 = 256 MiB) of a connection wait to be written, its new calls are
 * answered JN_RESOURCE_EXHAUSTED; at four times max_unread_answers they are
 * dropped unanswered. A struct_size of ABI 1.5's struct (up to
 * max_payload_bytes) gets these defaults.
 * Since ABI 1.8, CURVE (ZeroMQ's encryption and authentication; tcp and ipc
 * only, JN_INVALID_ARGUMENT for inproc): curve_secret_key, borrowed for the
 * call, is the listener's secret key, JN_CURVE_KEY_LENGTH Z85 characters
 * (jn_curve_keypair makes a pair); every connection is then encrypted, and
 * a client must know the matching public key to connect. NULL: no CURVE,
 * and curve_client_keys must be NULL too. curve_client_keys: borrowed for
 * the call, the public keys (Z85) of the clients allowed to connect
 * (curve_client_key_count of them; a connection with another key is refused
 * in its handshake), or NULL to let any client that knows the listener's
 * public key connect. reserved: 0. A struct_size of ABI 1.7's struct (up
 * to max_unread_answer_bytes) gets no CURVE. */
typedef struct jn_listen_options {
  uint32_t struct_size;
  uint32_t threads;
  const char* const* services;
  uint32_t service_count;
  uint32_t max_in_flight;
  uint64_t max_payload_bytes;
  uint64_t max_unread_answers;          /* since ABI 1.6 */
  uint64_t max_unread_answer_bytes;     /* since ABI 1.6 */
  const char* curve_secret_key;         /* since ABI 1.8 */
  const char* const* curve_client_keys; /* since ABI 1.8 */
  uint32_t curve_client_key_count;      /* since ABI 1.8 */
  uint32_t reserved;                    /* since ABI 1.8; 0 */
} jn_listen_options;

/* Serves host's services on url (borrowed). options: borrowed, NULL for
 * defaults. listener: out, closed and freed with jn_listener_close, which
 * must happen before jn_host_free. JN_INVALID_ARGUMENT for a URL junction
 * cannot read, JN_UNAVAILABLE if the address cannot be bound (in use, no
 * permission, an ipc path where a file other than a stale socket is: it
 * is left as it is); status (out, may be NULL) says which and why. */
JN_API int32_t jn_host_listen(jn_host* host, const char* url, const jn_listen_options* options,
                              jn_listener** listener, jn_status* status);

/* The URL the listener is bound to, with the port the system chose when
 * the URL asked for port 0. Borrowed; valid until jn_listener_close. NULL
 * for a NULL listener. */
JN_API const char* jn_listener_url(const jn_listener* listener);

/* What a listener has done since it opened (since ABI 1.4); each count
 * only grows. struct_size = sizeof(jn_listener_stats), set by the caller:
 * the listener fills the fields within it (a later ABI may add more).
 * requests: messages taken from its clients, each a call or unreadable as
 * one (a client's cancel of a call, since ABI 1.10, is not one).
 * answers: answers sent, its refusals included. refused_unread: calls
 * answered JN_RESOURCE_EXHAUSTED because their connection had too many
 * answers unread, and dropped_unread: messages dropped unanswered because
 * it had even more (docs/wire.md, "Unread answers").
 * Since ABI 1.7: unreadable: messages that could not be read as a call (no
 * header frame, a header junction cannot read or of another protocol
 * version, a response where a request belongs, a wrong number of frames),
 * answered with an error where their call id could be read.
 * refused_too_large: requests whose payload is over max_payload_bytes,
 * answered JN_RESOURCE_EXHAUSTED (a frame far over it closes its
 * connection before it is read, and is not counted). in_flight and threads
 * are not counts but the state when read: the messages being handled, and
 * the listener's threads.
 * Since ABI 1.9, of a CURVE listener: refused_handshakes: connections
 * refused in their handshake because their client key was not let in (or
 * did not use CURVE's client authentication). refused_client_key: calls
 * answered JN_PERMISSION_DENIED because their connection's client key was
 * let in when it connected and has since been taken off the list
 * (jn_listener_set_curve_client_keys). Both 0 without CURVE.
 * Since ABI 1.12, of a listener at max_in_flight (which reads on into a
 * queue as deep): queued, the state when read: calls read and waiting for
 * a call in flight to end, not counted in in_flight. answered_unrun:
 * queued calls whose turn came after their caller cancelled them or their
 * deadline passed, answered JN_CANCELLED or JN_DEADLINE_EXCEEDED without
 * their handler running. */
typedef struct jn_listener_stats {
  uint32_t struct_size;
  uint32_t reserved; /* 0 */
  uint64_t requests;
  uint64_t answers;
  uint64_t refused_unread;
  uint64_t dropped_unread;
  uint64_t unreadable;         /* since ABI 1.7 */
  uint64_t refused_too_large;  /* since ABI 1.7 */
  uint64_t in_flight;          /* since ABI 1.7 */
  uint64_t threads;            /* since ABI 1.7 */
  uint64_t refused_handshakes; /* since ABI 1.9 */
  uint64_t refused_client_key; /* since ABI 1.9 */
  uint64_t queued;             /* since ABI 1.12 */
  uint64_t answered_unrun;     /* since ABI 1.12 */
} jn_listener_stats;

/* listener: borrowed. stats: in (struct_size) and out. JN_INVALID_ARGUMENT
 * for a NULL listener or stats, or a struct_size below that of ABI 1.4's
 * struct. */
JN_API int32_t jn_listener_stats_get(const jn_listener* listener, jn_listener_stats* stats);

/* Replaces the public keys (Z85, JN_CURVE_KEY_LENGTH characters) of the
 * clients a CURVE listener lets in (since ABI 1.9): from now on exactly
 * the key_count keys of client_keys (borrowed for the call) may connect,
 * whatever the listener started with (a list, or any client). A
 * connection let in before with a key no longer listed stays connected,
 * but its calls are answered JN_PERMISSION_DENIED from now on (ZeroMQ
 * authenticates a connection once, in its handshake; the listener checks
 * the key again at each call). Returns JN_OK, or, changing nothing:
 * JN_INVALID_ARGUMENT for a NULL listener, client_keys NULL or key_count
 * 0 (a list that lets nobody in), or a key that is not Z85 (status names
 * its index, never the key); JN_FAILED_PRECONDITION for a listener without
 * CURVE. status: out, may be NULL. Not concurrently with
 * jn_listener_close. */
JN_API int32_t jn_listener_set_curve_client_keys(jn_listener* listener,
                                                 const char* const* client_keys, uint32_t key_count,
                                                 jn_status* status);

/* Drains the listener without freeing it (since ABI 1.5): calls that
 * arrive from now on are answered JN_UNAVAILABLE, and this waits until no
 * call is in flight or drain_deadline_ns passes (absolute, jn_now_ns's
 * clock; 0 does not wait). The listener stays valid, so jn_listener_url
 * and jn_listener_stats_get report it with the calls the drain waited for;
 * jn_listener_close frees it, and may be given the same deadline. Returns
 * JN_OK when no call is in flight, JN_DEADLINE_EXCEEDED when the deadline
 * passed first (those calls run on; a later drain or close waits again),
 * JN_INVALID_ARGUMENT for a NULL listener. Not concurrently with
 * jn_listener_close. From a handler the listener is running (on the thread
 * running it: an asynchronous handler's start, not where it completes), it
 * waits for the other calls in flight, those of handlers draining or closing
 * the listener so excepted: that handler's call is answered when it
 * returns, and a call queued behind it makes the drain JN_DEADLINE_EXCEEDED
 * at once. */
JN_API int32_t jn_listener_drain(jn_listener* listener, int64_t drain_deadline_ns);

/* Stops serving and frees the listener. Calls it reads while it waits for
 * those in flight, and one taken as it stops, are answered JN_UNAVAILABLE;
 * later ones, and those a listener at max_in_flight with its queue full
 * does not read, find the connection closed. Calls in flight
 * run to their end and are answered, until drain_deadline_ns (absolute,
 * jn_now_ns's clock; 0 does not wait). Returns JN_OK when every call in flight was answered,
 * JN_DEADLINE_EXCEEDED when the deadline cut the drain short (those calls'
 * callers see the connection close). From a handler the listener is
 * running (as for jn_listener_drain), it waits for the other calls in
 * flight and returns JN_OK when they were answered; that handler's caller,
 * and those of calls queued behind it (then JN_DEADLINE_EXCEEDED), see the
 * connection close. NULL is a no-op returning JN_OK. */
JN_API int32_t jn_listener_close(jn_listener* listener, int64_t drain_deadline_ns);

/* Options for jn_host_route. struct_size = sizeof(jn_route_options).
 * connect_timeout_ns: how long a call waits for a connection that is still
 * being made before it is answered JN_UNAVAILABLE (0 = one second); a peer
 * known to be down answers at once. max_payload_bytes: larger requests are
 * refused with JN_RESOURCE_EXHAUSTED before they are sent, and larger
 * response frames close the connection (0 = 64 MiB).
 * Since ABI 1.8, CURVE (tcp and ipc only, JN_INVALID_ARGUMENT for inproc),
 * each key JN_CURVE_KEY_LENGTH Z85 characters, borrowed for the call:
 * curve_server_key is the listener's public key (NULL: no CURVE, and the
 * other two must be NULL too); curve_public_key and curve_secret_key are
 * the route's own pair, both or neither (neither: the connection makes a
 * pair of its own, which suits a listener that lets any client connect).
 * A listener whose key does not match, or that refuses the route's key,
 * fails the handshake: calls are answered JN_UNAVAILABLE, saying which. A
 * struct_size of ABI 1.7's struct (up to max_payload_bytes) gets no CURVE. */
typedef struct jn_route_options {
  uint32_t struct_size;
  uint32_t reserved; /* 0 */
  int64_t connect_timeout_ns;
  uint64_t max_payload_bytes;
  const char* curve_server_key; /* since ABI 1.8 */
  const char* curve_public_key; /* since ABI 1.8 */
  const char* curve_secret_key; /* since ABI 1.8 */
} jn_route_options;

/* Routes service (borrowed) to the host serving it at url (borrowed):
 * every method of service resolves (jn_host_resolve), and calls on those
 * handles go to that host; the calling code is the same as for a local
 * service. Routes to one URL with equal options share one connection,
 * which carries many calls at once and reconnects by itself. A call's deadline travels with
 * it; a peer that is down, or dies mid-call, answers JN_UNAVAILABLE (or
 * JN_DEADLINE_EXCEEDED at the deadline), never a hang. The route is
 * registered like a service: JN_ALREADY_EXISTS if the name is taken, and
 * jn_host_unregister removes it. It keeps at most 4096 methods: past
 * that, resolving a new name drops those no handle or call holds (and
 * their statistics), and is JN_RESOURCE_EXHAUSTED only while all 4096 are
 * held. options: borrowed, NULL for defaults.
 * status: out, may be NULL. */
JN_API int32_t jn_host_route(jn_host* host, const char* service, const char* url,
                             const jn_route_options* options, jn_status* status);

/* The state of a route's connection (jn_route_stats.state, since ABI 1.7). */
#define JN_ROUTE_CONNECTING 0u /* being made: at first, or again after a loss */
#define JN_ROUTE_READY 1u      /* up: calls go out at once */
/* the last attempt failed, the connection was lost, or the listener stopped
 * answering: calls are answered JN_UNAVAILABLE until it is up again (it is
 * made again by itself) */
#define JN_ROUTE_DOWN 2u

/* What a route's connection is doing (since ABI 1.7). struct_size =
 * sizeof(jn_route_stats), set by the caller: the host fills the fields
 * within it (a later ABI may add more). state: JN_ROUTE_*, when read.
 * connections_lost: connections lost (or listeners judged silent) since
 * the connection was first made; an attempt whose handshake failed (a
 * refused CURVE key, say) made no connection and is not one. in_flight: calls sent on it and not
 * yet answered, when read. Routes to one URL with equal options share one connection, so they
 * report the same. */
typedef struct jn_route_stats {
  uint32_t struct_size;
  uint32_t state;
  uint64_t connections_lost;
  uint64_t in_flight;
} jn_route_stats;

/* The length of a CURVE key in Z85 (since ABI 1.8): 40 characters, which
 * encode its 32 bytes; a buffer for one holds JN_CURVE_KEY_LENGTH + 1. */
#define JN_CURVE_KEY_LENGTH 40u

/* Makes a new CURVE key pair (since ABI 1.8): public_key and secret_key
 * (out, JN_CURVE_KEY_LENGTH + 1 bytes each) receive the Z85 keys,
 * NUL-terminated. JN_UNIMPLEMENTED when the libzmq junction runs on was
 * built without CURVE. status: out, may be NULL. */
JN_API int32_t jn_curve_keypair(char* public_key, char* secret_key, jn_status* status);

/* Derives the public key of secret_key (borrowed, Z85) into public_key
 * (out, JN_CURVE_KEY_LENGTH + 1 bytes), for a listener's operator to hand
 * its clients (since ABI 1.8). JN_INVALID_ARGUMENT for a key that is not
 * JN_CURVE_KEY_LENGTH Z85 characters; JN_UNIMPLEMENTED as jn_curve_keypair.
 * status: out, may be NULL. */
JN_API int32_t jn_curve_public_key(const char* secret_key, char* public_key, jn_status* status);

/* Reports the connection of the route service (borrowed) on host. stats: in
 * (struct_size) and out. JN_NOT_FOUND when service is not a route (a
 * registered service, or no service); JN_INVALID_ARGUMENT for a NULL
 * argument or a struct_size below this struct's. Since ABI 1.7. */
JN_API int32_t jn_host_route_stats(jn_host* host, const char* service, jn_route_stats* stats);

/* ------------------------------------------------------------------------ */
/* Modules: shared libraries that bring services to a host.
 *
 * A module exports two functions with C linkage:
 *   uint32_t jn_module_abi_version(void);
 *     returns the JN_ABI_VERSION the module was built against;
 *   int32_t jn_module_init(jn_host *host, jn_status *status);
 *     registers the module's services on host (jn_host_register) and returns
 *     JN_OK, or an error code with a reason in status (may be NULL).
 * The host checks the version before calling anything else. Modules are
 * never unloaded: a process may hold one Go runtime only and Go does not
 * support unloading it, so junction treats every module alike. */
typedef uint32_t (*jn_module_abi_version_fn)(void);
typedef int32_t (*jn_module_init_fn)(jn_host* host, jn_status* status);

/* Loads the module at path (borrowed; a file path as dlopen takes it) and
 * runs its jn_module_init on host. JN_NOT_FOUND if it cannot be loaded,
 * JN_FAILED_PRECONDITION if it is not a junction module or was built against
 * another ABI major (or a newer minor), or host is being freed (checked
 * before the library is opened), otherwise jn_module_init's code. An init
 * that fails leaves none of its services: those it registered on host
 * from its own thread are unregistered again (not what it did otherwise:
 * routes, listeners, modules it loaded). status: out, may be NULL;
 * names the module and the reason on failure. */
JN_API int32_t jn_host_load_module(jn_host* host, const char* path, jn_status* status);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* JUNCTION_H */

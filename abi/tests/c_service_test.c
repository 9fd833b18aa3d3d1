/*
 * c_service_test.c - the C ABI used from plain C99, as a C module would use
 * it: services with C handlers are registered, resolved and called
 * synchronously and asynchronously, handlers call back into the host,
 * modules built from c_module.c are loaded or refused, and every ownership
 * rule of junction.h is checked through jn_live_objects and through buffers
 * this program produces itself (their release callback must run exactly
 * once, never anyone else's free). Usage: the five module paths (see
 * main). Prints one summary line; exits non-zero on any failure. Every wait
 * is bounded.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "junction.h"

/* How long any wait may take before the test gives up on it. */
#define WAIT_SECONDS 10

/* Check counts, guarded by check_mutex: checks also run on other threads. */
static pthread_mutex_t check_mutex = PTHREAD_MUTEX_INITIALIZER;
static int checks;
static int failures;

static void count_check(int ok) {
  pthread_mutex_lock(&check_mutex);
  ++checks;
  if (!ok) ++failures;
  pthread_mutex_unlock(&check_mutex);
}

static void check_at(int ok, const char* what, int line) {
  count_check(ok);
  if (!ok) fprintf(stderr, "c_service_test.c:%d: check failed: %s\n", line, what);
}
#define CHECK(condition) check_at((condition) ? 1 : 0, #condition, __LINE__)

static void check_code_at(int32_t got, int32_t want, const char* what, int line) {
  count_check(got == want);
  if (got != want) {
    fprintf(stderr, "c_service_test.c:%d: %s returned %s (%d), expected %s (%d)\n", line, what,
            jn_status_name(got), (int)got, jn_status_name(want), (int)want);
  }
}

#define CHECK_CODE(expression, want) check_code_at((expression), (want), #expression, __LINE__)

/* Prints the summary line; the exit status of the test. */
static int summary(void) {
  int failed;
  pthread_mutex_lock(&check_mutex);
  printf("c_service_test: %d checks, %d failed\n", checks, failures);
  failed = failures;
  pthread_mutex_unlock(&check_mutex);
  return failed == 0 ? 0 : 1;
}

/* True if buffer holds exactly text. */
static int buffer_is(const jn_buffer* buffer, const char* text) {
  size_t len = strlen(text);
  return buffer->release != NULL && buffer->len == len &&
         (len == 0 || memcmp(buffer->data, text, len) == 0);
}

/* True if the status message contains text. */
static int message_contains(const jn_status* status, const char* text) {
  char copy[512];
  size_t len =
      status->message.len < sizeof copy - 1 ? (size_t)status->message.len : sizeof copy - 1;
  if (status->message.release == NULL) return text[0] == '\0';
  memcpy(copy, status->message.data, len);
  copy[len] = '\0';
  return strstr(copy, text) != NULL;
}

static jn_bytes bytes_of(const char* text) {
  jn_bytes bytes;
  bytes.data = (const uint8_t*)text;
  bytes.len = strlen(text);
  return bytes;
}

static jn_result empty_result(void) {
  jn_result result;
  memset(&result, 0, sizeof result);
  return result;
}

/* ------------------------------------------------------------------------ */
/* Shared state: every counter below is guarded by mu; changes signal cv. */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

/* Buffers this program produced and handed to junction. */
static int user_buffers_made;
static int user_buffers_released;

/* Waits until *counter >= target; false on timeout. */
static int wait_at_least(const int* counter, int target) {
  struct timespec until;
  int reached;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += WAIT_SECONDS;
  pthread_mutex_lock(&mu);
  while (*counter < target) {
    if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT) break;
  }
  reached = *counter >= target;
  pthread_mutex_unlock(&mu);
  return reached;
}

static int read_counter(const int* counter) {
  int value;
  pthread_mutex_lock(&mu);
  value = *counter;
  pthread_mutex_unlock(&mu);
  return value;
}

static void bump(int* counter) {
  pthread_mutex_lock(&mu);
  ++*counter;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static void sleep_ms(long ms) {
  struct timespec pause;
  pause.tv_sec = ms / 1000;
  pause.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

/* A buffer produced by this program: malloc'd, freed by its own release. */
static void user_buffer_release(jn_buffer* buffer) {
  free(buffer->private_data);
  buffer->release = NULL;
  bump(&user_buffers_released);
}

static jn_buffer user_buffer(const uint8_t* data, uint64_t len) {
  jn_buffer buffer;
  uint8_t* copy = (uint8_t*)malloc(len ? (size_t)len : 1);
  if (copy == NULL) abort();
  if (len) memcpy(copy, data, (size_t)len);
  buffer.data = copy;
  buffer.len = len;
  buffer.release = user_buffer_release;
  buffer.private_data = copy;
  bump(&user_buffers_made);
  return buffer;
}

/* ------------------------------------------------------------------------ */
/* The service under test. */

typedef struct test_service {
  jn_host* host;
  jn_method* echo; /* for the Nested handler */
  int destroyed;
  int echo_runs;
  int64_t echo_deadline;
  int held;                /* Hold invocations so far */
  jn_completion last_held; /* the latest one */
  jn_bytes last_request;   /* and its request, valid until jn_complete */
  int async_finished;      /* AsyncEcho's jn_complete calls that returned */
  int slow_started;        /* Slow invocations begun */
  int slow_finished;       /* and ended */
  int32_t async_complete_code;
} test_service;

static void on_destroy(void* ctx) { bump(&((test_service*)ctx)->destroyed); }

/* Echo: the response is a host-made copy of the request. */
static void echo_handler(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  test_service* service = (test_service*)ctx;
  pthread_mutex_lock(&mu);
  ++service->echo_runs;
  service->echo_deadline = deadline_ns;
  pthread_mutex_unlock(&mu);
  if (jn_buffer_copy(request.data, request.len, &result->response) != JN_OK) {
    jn_status_set(&result->status, JN_RESOURCE_EXHAUSTED, "echo: no memory");
  }
}

/* Fail: an error status with a message, plus a response (produced by this
 * program) that the host must release, since the code is not OK. */
static void fail_handler(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  char message[128];
  (void)ctx;
  (void)deadline_ns;
  result->response = user_buffer(request.data, request.len);
  snprintf(message, sizeof message, "denied: %.*s", (int)request.len, (const char*)request.data);
  jn_status_set(&result->status, JN_PERMISSION_DENIED, message);
}

/* BadCode: a code outside 0..JN_STATUS_CODE_MAX, which becomes INTERNAL. */
static void bad_code_handler(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  (void)ctx;
  (void)request;
  (void)deadline_ns;
  result->status.code = 42;
}

/* Nested: calls Echo from inside a handler (re-entrancy). */
static void nested_handler(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  test_service* service = (test_service*)ctx;
  jn_call(service->echo, request, deadline_ns, result);
}

/* FreeHost: jn_host_free from inside a handler must be refused, as
 * jn_host_free_check says beforehand. */
static void free_host_handler(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  test_service* service = (test_service*)ctx;
  const int32_t check = jn_host_free_check(service->host);
  int32_t code = jn_host_free(service->host);
  (void)request;
  (void)deadline_ns;
  if (check != JN_FAILED_PRECONDITION) {
    jn_status_set(&result->status, JN_INTERNAL, "jn_host_free_check inside a handler said JN_OK");
  } else if (code == JN_FAILED_PRECONDITION) {
    jn_buffer_copy((const uint8_t*)"refused", 7, &result->response);
  } else {
    jn_status_set(&result->status, JN_INTERNAL, "jn_host_free inside a handler was not refused");
  }
}

/* Hold: an asynchronous handler that never completes by itself; the test
 * completes (or abandons) the call, and reads the request it keeps. */
static void hold_handler(void* ctx, jn_bytes request, int64_t deadline_ns,
                         jn_completion completion) {
  test_service* service = (test_service*)ctx;
  (void)deadline_ns;
  pthread_mutex_lock(&mu);
  service->last_held = completion;
  service->last_request = request;
  ++service->held;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

/* True if the request Hold kept still holds text: it must stay valid until
 * jn_complete, whatever happened to the caller. */
static int held_request_is(test_service* service, const char* text) {
  size_t len = strlen(text);
  int same;
  pthread_mutex_lock(&mu);
  same = service->last_request.len == len &&
         (len == 0 || memcmp(service->last_request.data, text, len) == 0);
  pthread_mutex_unlock(&mu);
  return same;
}

/* Slow: a synchronous handler still running when its host is freed. */
static void slow_handler(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
  test_service* service = (test_service*)ctx;
  (void)request;
  (void)deadline_ns;
  (void)result;
  bump(&service->slow_started);
  sleep_ms(100);
  bump(&service->slow_finished);
}

static void* slow_caller_thread(void* arg) {
  jn_result result = empty_result();
  CHECK_CODE(jn_call((const jn_method*)arg, bytes_of(""), JN_NO_DEADLINE, &result), JN_OK);
  jn_result_release(&result);
  return NULL;
}

/* AsyncEcho: completes later on a thread of its own, with a response this
 * program produced. request stays valid until jn_complete. */
typedef struct async_job {
  test_service* service;
  jn_bytes request;
  jn_completion completion;
} async_job;

static void* async_echo_thread(void* arg) {
  async_job* job = (async_job*)arg;
  jn_result result = empty_result();
  int32_t code;
  sleep_ms(1);
  result.response = user_buffer(job->request.data, job->request.len);
  code = jn_complete(job->completion, &result);
  CHECK(result.response.release == NULL); /* transferred: source marked released */
  pthread_mutex_lock(&mu);
  job->service->async_complete_code = code;
  ++job->service->async_finished;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  free(job);
  return NULL;
}

/* Hands the call to body on a detached thread of its own (or runs it here
 * if no thread can be made); body frees the job. */
static void start_job(void* ctx, jn_bytes request, jn_completion completion, void* (*body)(void*)) {
  async_job* job = (async_job*)malloc(sizeof *job);
  pthread_t thread;
  if (job == NULL) abort();
  job->service = (test_service*)ctx;
  job->request = request;
  job->completion = completion;
  if (pthread_create(&thread, NULL, body, job) == 0) {
    pthread_detach(thread);
  } else {
    body(job);
  }
}

static void async_echo_handler(void* ctx, jn_bytes request, int64_t deadline_ns,
                               jn_completion completion) {
  (void)deadline_ns;
  start_job(ctx, request, completion, async_echo_thread);
}

/* Race: completes after about a millisecond on a thread of its own, racing
 * the caller's deadline. The request is the call's index in race_codes,
 * where the jn_complete code is recorded (-1: the handler never ran). */
#define RACE_CALLS 200
#define RACE_BATCH 10
static int32_t race_codes[RACE_CALLS];
static int race_started;
static int race_finished;

static void* race_thread(void* arg) {
  async_job* job = (async_job*)arg;
  jn_result result = empty_result();
  int32_t code;
  unsigned index = 0;
  sleep_ms(1);
  memcpy(&index, job->request.data, sizeof index);
  CHECK_CODE(jn_buffer_copy(job->request.data, job->request.len, &result.response), JN_OK);
  code = jn_complete(job->completion, &result);
  pthread_mutex_lock(&mu);
  if (index < RACE_CALLS) race_codes[index] = code;
  ++race_finished;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  free(job);
  return NULL;
}

static void race_handler(void* ctx, jn_bytes request, int64_t deadline_ns,
                         jn_completion completion) {
  (void)deadline_ns;
  bump(&race_started);
  start_job(ctx, request, completion, race_thread);
}

/* AsyncInline: completes inside the handler, on the calling thread. */
static void async_inline_handler(void* ctx, jn_bytes request, int64_t deadline_ns,
                                 jn_completion completion) {
  jn_result result = empty_result();
  (void)ctx;
  (void)deadline_ns;
  if (jn_buffer_copy(request.data, request.len, &result.response) != JN_OK) {
    jn_status_set(&result.status, JN_RESOURCE_EXHAUSTED, "inline: no memory");
  }
  CHECK_CODE(jn_complete(completion, &result), JN_OK);
  CHECK(result.response.release == NULL);
}

/* ------------------------------------------------------------------------ */
/* Completions of jn_call_async. */

typedef struct done_state {
  int calls;
  jn_result result; /* moved in from the first call */
} done_state;

static void on_done(void* user_data, jn_result* result) {
  done_state* state = (done_state*)user_data;
  pthread_mutex_lock(&mu);
  if (state->calls == 0) {
    state->result = *result; /* move: bitwise copy, then mark the source released */
    result->status.message.release = NULL;
    result->response.release = NULL;
  }
  ++state->calls;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  jn_result_release(result); /* no-op after the move; frees a second result */
}

/* The service a handler registers from inside a call, and the asynchronous
 * call a handler starts. */
static test_service inner;
static done_state* nested_done;

/* RegisterInner: registers test.Inner from inside a handler. */
static void register_inner_handler(void* ctx, jn_bytes request, int64_t deadline_ns,
                                   jn_result* result) {
  test_service* service = (test_service*)ctx;
  jn_method_desc method;
  jn_service_desc desc;
  (void)request;
  (void)deadline_ns;
  memset(&method, 0, sizeof method);
  method.name = "Echo";
  method.handler = echo_handler;
  method.ctx = &inner;
  memset(&desc, 0, sizeof desc);
  desc.abi_version = JN_ABI_VERSION;
  desc.name = "test.Inner";
  desc.methods = &method;
  desc.method_count = 1;
  desc.ctx = &inner;
  desc.destroy = on_destroy;
  jn_host_register(service->host, &desc, &result->status);
}

/* CallAsync: starts an asynchronous call from inside a handler. */
static void call_async_handler(void* ctx, jn_bytes request, int64_t deadline_ns,
                               jn_result* result) {
  test_service* service = (test_service*)ctx;
  (void)request;
  (void)deadline_ns;
  jn_call_async(service->echo, NULL, JN_NO_DEADLINE, on_done, nested_done, &result->status);
}

/* UnregisterSelf: unregisters its own service from inside a call; destroy
 * must wait for this call to return. */
static void unregister_self_handler(void* ctx, jn_bytes request, int64_t deadline_ns,
                                    jn_result* result) {
  test_service* service = (test_service*)ctx;
  (void)request;
  (void)deadline_ns;
  if (jn_host_unregister(service->host, "test.Reentrant", &result->status) == JN_OK) {
    sleep_ms(20);
    if (read_counter(&service->destroyed) != 0) {
      jn_status_set(&result->status, JN_INTERNAL, "destroy ran while a call was in flight");
    }
  }
}

static done_state* new_done(void) {
  done_state* state = (done_state*)calloc(1, sizeof *state);
  if (state == NULL) abort();
  return state;
}

/* ------------------------------------------------------------------------ */

static jn_live_counts live_counts(void) {
  jn_live_counts counts;
  memset(&counts, 0xff, sizeof counts);
  CHECK_CODE(jn_live_objects(&counts), JN_OK);
  return counts;
}

static int same_counts(const jn_live_counts* a, const jn_live_counts* b) {
  return a->buffers == b->buffers && a->buffer_bytes == b->buffer_bytes && a->hosts == b->hosts &&
         a->methods == b->methods && a->services == b->services &&
         a->pending_calls == b->pending_calls;
}

static void print_counts(const char* label, const jn_live_counts* c) {
  fprintf(stderr,
          "%s: buffers=%llu buffer_bytes=%llu hosts=%llu methods=%llu services=%llu "
          "pending_calls=%llu\n",
          label, (unsigned long long)c->buffers, (unsigned long long)c->buffer_bytes,
          (unsigned long long)c->hosts, (unsigned long long)c->methods,
          (unsigned long long)c->services, (unsigned long long)c->pending_calls);
}

static void test_version_and_names(void) {
  static const char* const names[] = {"OK",
                                      "CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ALREADY_EXISTS",
                                      "PERMISSION_DENIED",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "ABORTED",
                                      "OUT_OF_RANGE",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED"};
  int32_t code;
  int64_t before, after;

  CHECK(jn_abi_version() == JN_ABI_VERSION);
  CHECK(JN_ABI_VERSION_MAJOR_OF(jn_abi_version()) == JN_ABI_VERSION_MAJOR);
  for (code = 0; code <= JN_STATUS_CODE_MAX; ++code) {
    const char* name = jn_status_name(code);
    check_at(name != NULL && strcmp(name, names[code]) == 0, names[code], __LINE__);
  }
  CHECK(strcmp(jn_status_name(-1), "INVALID_CODE") == 0);
  CHECK(strcmp(jn_status_name(JN_STATUS_CODE_MAX + 1), "INVALID_CODE") == 0);
  CHECK(strcmp(jn_status_name(INT32_MIN), "INVALID_CODE") == 0);

  before = jn_now_ns();
  sleep_ms(2);
  after = jn_now_ns();
  CHECK(before > 0 && after - before >= 2000000);
}

static void test_buffers_and_statuses(const jn_live_counts* baseline) {
  static const uint8_t hello[5] = {'h', 'e', 'l', 'l', 'o'};
  jn_buffer buffer, moved, empty;
  jn_status status;
  jn_live_counts counts;
  uint8_t* data = NULL;

  CHECK_CODE(jn_buffer_new(5, &data, &buffer), JN_OK);
  CHECK(data != NULL && buffer.release != NULL && buffer.len == 5 && buffer.data == data);
  if (data != NULL) memcpy(data, hello, sizeof hello);
  CHECK(buffer_is(&buffer, "hello"));
  counts = live_counts();
  CHECK(counts.buffers == baseline->buffers + 1);
  CHECK(counts.buffer_bytes == baseline->buffer_bytes + 5);

  /* Move: bitwise copy, then mark the source released. */
  moved = buffer;
  buffer.release = NULL;
  jn_buffer_release(&buffer); /* released: a no-op */
  CHECK(buffer_is(&moved, "hello"));
  jn_buffer_release(&moved);
  CHECK(moved.release == NULL);
  jn_buffer_release(&moved); /* releasing twice through jn_buffer_release is a no-op */
  jn_buffer_release(NULL);

  CHECK_CODE(jn_buffer_new(0, NULL, &empty), JN_OK);
  CHECK(empty.release != NULL && empty.len == 0);
  jn_buffer_release(&empty);
  CHECK_CODE(jn_buffer_new(1, NULL, NULL), JN_INVALID_ARGUMENT);

  CHECK_CODE(jn_buffer_copy(hello, sizeof hello, &buffer), JN_OK);
  CHECK(buffer_is(&buffer, "hello") && buffer.data != hello);
  jn_buffer_release(&buffer);
  CHECK_CODE(jn_buffer_copy(NULL, 0, &buffer), JN_OK);
  CHECK(buffer.release != NULL && buffer.len == 0);
  jn_buffer_release(&buffer);
  CHECK_CODE(jn_buffer_copy(NULL, 3, &buffer), JN_INVALID_ARGUMENT);
  CHECK_CODE(jn_buffer_copy(hello, 3, NULL), JN_INVALID_ARGUMENT);

  memset(&status, 0, sizeof status);
  CHECK_CODE(jn_status_set(&status, JN_NOT_FOUND, "no such thing"), JN_OK);
  CHECK(status.code == JN_NOT_FOUND && message_contains(&status, "no such thing") &&
        status.message.len == strlen("no such thing"));
  CHECK_CODE(jn_status_set(&status, JN_ABORTED, "second"), JN_OK); /* releases the first */
  CHECK(status.code == JN_ABORTED && status.message.len == strlen("second"));
  counts = live_counts();
  CHECK(counts.buffers == baseline->buffers + 1); /* one message alive, the first released */
  CHECK_CODE(jn_status_set(&status, JN_UNAVAILABLE, NULL), JN_OK);
  CHECK(status.code == JN_UNAVAILABLE &&
        (status.message.release == NULL || status.message.len == 0));
  jn_status_release(&status);
  CHECK(status.message.release == NULL && status.code == JN_UNAVAILABLE);
  jn_status_release(NULL);
  jn_result_release(NULL);
  CHECK_CODE(jn_status_set(&status, JN_STATUS_CODE_MAX + 1, "out of range"), JN_INVALID_ARGUMENT);
  CHECK(status.code == JN_INVALID_ARGUMENT && status.message.release != NULL &&
        status.message.len > 0);
  CHECK_CODE(jn_status_set(&status, -1, NULL), JN_INVALID_ARGUMENT);
  CHECK(status.code == JN_INVALID_ARGUMENT && status.message.release != NULL);
  jn_status_release(&status);
  CHECK_CODE(jn_status_set(NULL, JN_OK, "x"), JN_INVALID_ARGUMENT);
  CHECK_CODE(jn_live_objects(NULL), JN_INVALID_ARGUMENT);

  counts = live_counts();
  CHECK(same_counts(&counts, baseline));
}

/* Registration must fail with want, leave ctx with the caller (destroy is
 * never called: checked at the end) and say why in status. */
static void expect_refused(jn_host* host, const jn_service_desc* service, int32_t want,
                           const char* label) {
  jn_status status;
  int32_t code;
  memset(&status, 0, sizeof status);
  code = jn_host_register(host, service, &status);
  check_code_at(code, want, label, __LINE__);
  check_at(status.code == want, label, __LINE__);
  jn_status_release(&status);
}

static void test_registration(jn_host* host, const jn_method_desc* methods, uint32_t count,
                              test_service* refused) {
  jn_service_desc service;
  jn_method_desc bad[2];
  jn_status status;
  char text[64];
  char long_name[257]; /* 256 bytes: one too many */
  int named;

  memset(long_name, 'n', 256);
  long_name[256] = '\0';

  memset(&service, 0, sizeof service);
  service.abi_version = JN_ABI_VERSION;
  service.name = "test.Refused";
  service.methods = methods;
  service.method_count = count;
  service.ctx = refused;
  service.destroy = on_destroy;

  /* ABI major mismatch: refused, naming both versions. */
  service.abi_version = ((uint32_t)(JN_ABI_VERSION_MAJOR + 1) << 16) | JN_ABI_VERSION_MINOR;
  memset(&status, 0, sizeof status);
  CHECK_CODE(jn_host_register(host, &service, &status), JN_FAILED_PRECONDITION);
  CHECK(status.code == JN_FAILED_PRECONDITION);
  snprintf(text, sizeof text, "%d.%d", JN_ABI_VERSION_MAJOR + 1, JN_ABI_VERSION_MINOR);
  named = message_contains(&status, text);
  check_at(named, "mismatch message names the descriptor's version (major.minor)", __LINE__);
  snprintf(text, sizeof text, "%d.%d", JN_ABI_VERSION_MAJOR, JN_ABI_VERSION_MINOR);
  named = message_contains(&status, text) && named;
  check_at(named, "mismatch message names the host's version (major.minor)", __LINE__);
  if (!named) {
    fprintf(stderr, "  message was \"%.*s\"\n", (int)status.message.len,
            status.message.release ? (const char*)status.message.data : "");
  }
  jn_status_release(&status);
  service.abi_version = (uint32_t)(JN_ABI_VERSION_MAJOR - 1) << 16;
  expect_refused(host, &service, JN_FAILED_PRECONDITION, "older ABI major");
  service.abi_version = JN_ABI_VERSION + 1u; /* a newer minor */
  expect_refused(host, &service, JN_FAILED_PRECONDITION, "newer ABI minor");
  service.abi_version = JN_ABI_VERSION;

  /* Malformed descriptors. */
  CHECK_CODE(jn_host_register(host, NULL, NULL), JN_INVALID_ARGUMENT);
  CHECK_CODE(jn_host_register(NULL, &service, NULL), JN_INVALID_ARGUMENT);
  service.name = NULL;
  expect_refused(host, &service, JN_INVALID_ARGUMENT, "NULL service name");
  service.name = "";
  expect_refused(host, &service, JN_INVALID_ARGUMENT, "empty service name");
  service.name = long_name;
  expect_refused(host, &service, JN_INVALID_ARGUMENT, "256-byte service name");
  /* 255 bytes is the longest name; registered without a ctx to own. */
  service.name = long_name + 1;
  service.ctx = NULL;
  service.destroy = NULL;
  CHECK_CODE(jn_host_register(host, &service, NULL), JN_OK);
  CHECK_CODE(jn_host_unregister(host, long_name + 1, NULL), JN_OK);
  service.ctx = refused;
  service.destroy = on_destroy;
  service.name = "test.Refused";
  service.method_count = 0;
  expect_refused(host, &service, JN_INVALID_ARGUMENT, "no methods");
  service.methods = NULL;
  service.method_count = 1;
  expect_refused(host, &service, JN_INVALID_ARGUMENT, "NULL methods");
  service.methods = bad;
  bad[0] = methods[0];
  bad[0].async_handler = hold_handler;
  expect_refused(host, &service, JN_INVALID_ARGUMENT, "both handlers");
  bad[0].handler = NULL;
  bad[0].async_handler = NULL;
  expect_refused(host, &service, JN_INVALID_ARGUMENT, "no handler");
  bad[0] = methods[0];
  bad[0].name = "";
  expect_refused(host, &service, JN_INVALID_ARGUMENT, "empty method name");
  bad[0].name = NULL;
  expect_refused(host, &service, JN_INVALID_ARGUMENT, "NULL method name");
  bad[0] = methods[0];
  bad[1] = methods[0];
  service.method_count = 2;
  expect_refused(host, &service, JN_INVALID_ARGUMENT, "duplicate method names");

  /* A name already registered. */
  service.name = "test.Echo";
  service.methods = methods;
  service.method_count = count;
  expect_refused(host, &service, JN_ALREADY_EXISTS, "duplicate service name");
}

static jn_method* resolve(jn_host* host, const char* service, const char* method) {
  jn_method* handle = NULL;
  jn_status status;
  memset(&status, 0, sizeof status);
  check_code_at(jn_host_resolve(host, service, method, &handle, &status), JN_OK, method, __LINE__);
  CHECK(handle != NULL);
  jn_status_release(&status);
  return handle;
}

static void test_resolve_errors(jn_host* host) {
  jn_method* handle = NULL;
  jn_status status;
  memset(&status, 0, sizeof status);
  CHECK_CODE(jn_host_resolve(host, "test.Echo", "NoSuchMethod", &handle, &status), JN_NOT_FOUND);
  CHECK(status.code == JN_NOT_FOUND);
  jn_status_release(&status);
  CHECK_CODE(jn_host_resolve(host, "test.NoSuchService", "Echo", &handle, NULL), JN_NOT_FOUND);
  CHECK_CODE(jn_host_resolve(NULL, "test.Echo", "Echo", &handle, NULL), JN_INVALID_ARGUMENT);
  CHECK_CODE(jn_host_resolve(host, NULL, "Echo", &handle, NULL), JN_INVALID_ARGUMENT);
  CHECK_CODE(jn_host_resolve(host, "test.Echo", NULL, &handle, NULL), JN_INVALID_ARGUMENT);
  CHECK_CODE(jn_host_resolve(host, "test.Echo", "Echo", NULL, NULL), JN_INVALID_ARGUMENT);
}

typedef struct caller_job {
  const jn_method* echo;
  int iterations;
  int wrong;
} caller_job;

static void* caller_thread(void* arg) {
  caller_job* job = (caller_job*)arg;
  int i;
  for (i = 0; i < job->iterations; ++i) {
    jn_result result = empty_result();
    if (jn_call(job->echo, bytes_of("concurrent"), JN_NO_DEADLINE, &result) != JN_OK ||
        !buffer_is(&result.response, "concurrent")) {
      ++job->wrong;
    }
    jn_result_release(&result);
  }
  return NULL;
}

static void test_sync_calls(test_service* service, jn_method* echo, jn_method* fail,
                            jn_method* bad_code, jn_method* nested, jn_method* free_host) {
  jn_result result = empty_result();
  jn_method_stats stats;
  int64_t deadline = jn_now_ns() + 60 * 1000000000LL;
  int runs, made, released;
  caller_job jobs[4];
  pthread_t threads[4];
  uint64_t calls_before, errors_before;
  int i;

  CHECK_CODE(jn_call(echo, bytes_of("hello"), deadline, &result), JN_OK);
  CHECK(result.status.code == JN_OK && result.status.message.release == NULL);
  CHECK(buffer_is(&result.response, "hello"));
  CHECK(read_counter(&service->echo_runs) == 1);
  pthread_mutex_lock(&mu);
  CHECK(service->echo_deadline == deadline);
  pthread_mutex_unlock(&mu);
  jn_result_release(&result);
  CHECK(result.response.release == NULL);

  CHECK_CODE(jn_call(echo, bytes_of(""), JN_NO_DEADLINE, &result), JN_OK);
  CHECK(result.response.release == NULL || result.response.len == 0);
  jn_result_release(&result);

  /* An error status with a message; the handler's response is dropped by
   * the host through this program's own release callback. */
  made = read_counter(&user_buffers_made);
  released = read_counter(&user_buffers_released);
  CHECK_CODE(jn_call(fail, bytes_of("x"), JN_NO_DEADLINE, &result), JN_PERMISSION_DENIED);
  CHECK(result.status.code == JN_PERMISSION_DENIED);
  CHECK(message_contains(&result.status, "denied: x"));
  CHECK(result.response.release == NULL);
  CHECK(read_counter(&user_buffers_made) == made + 1);
  CHECK(read_counter(&user_buffers_released) == released + 1);
  jn_result_release(&result);
  CHECK(result.status.message.release == NULL);

  CHECK_CODE(jn_call(bad_code, bytes_of("x"), JN_NO_DEADLINE, &result), JN_INTERNAL);
  CHECK(result.status.code == JN_INTERNAL && result.response.release == NULL);
  jn_result_release(&result);

  CHECK_CODE(jn_call(nested, bytes_of("nested"), JN_NO_DEADLINE, &result), JN_OK);
  CHECK(buffer_is(&result.response, "nested"));
  jn_result_release(&result);

  CHECK_CODE(jn_call(free_host, bytes_of(""), JN_NO_DEADLINE, &result), JN_OK);
  CHECK(buffer_is(&result.response, "refused"));
  jn_result_release(&result);

  /* A passed deadline: answered before the handler runs. */
  runs = read_counter(&service->echo_runs);
  CHECK_CODE(jn_call(echo, bytes_of("late"), jn_now_ns() - 1, &result), JN_DEADLINE_EXCEEDED);
  CHECK(result.status.code == JN_DEADLINE_EXCEEDED && result.response.release == NULL);
  CHECK(read_counter(&service->echo_runs) == runs);
  jn_result_release(&result);

  /* NULL arguments; result is written even on failure. */
  result.status.code = JN_OK;
  CHECK_CODE(jn_call(NULL, bytes_of("x"), JN_NO_DEADLINE, &result), JN_INVALID_ARGUMENT);
  CHECK(result.status.code == JN_INVALID_ARGUMENT && result.response.release == NULL);
  jn_result_release(&result);
  {
    jn_bytes broken;
    broken.data = NULL;
    broken.len = 3;
    CHECK_CODE(jn_call(echo, broken, JN_NO_DEADLINE, &result), JN_INVALID_ARGUMENT);
    jn_result_release(&result);
  }
  CHECK_CODE(jn_call(echo, bytes_of("x"), JN_NO_DEADLINE, NULL), JN_INVALID_ARGUMENT);

  /* Statistics: calls and errors are exact. */
  memset(&stats, 0, sizeof stats);
  CHECK_CODE(jn_method_stats_get(fail, &stats), JN_OK);
  CHECK(stats.calls == 1 && stats.errors == 1);
  CHECK_CODE(jn_method_stats_get(NULL, &stats), JN_INVALID_ARGUMENT);
  CHECK_CODE(jn_method_stats_get(fail, NULL), JN_INVALID_ARGUMENT);

  /* Concurrent callers on one handle. */
  CHECK_CODE(jn_method_stats_get(echo, &stats), JN_OK);
  calls_before = stats.calls;
  errors_before = stats.errors;
  for (i = 0; i < 4; ++i) {
    jobs[i].echo = echo;
    jobs[i].iterations = 2000;
    jobs[i].wrong = 0;
    CHECK(pthread_create(&threads[i], NULL, caller_thread, &jobs[i]) == 0);
  }
  for (i = 0; i < 4; ++i) {
    pthread_join(threads[i], NULL);
    CHECK(jobs[i].wrong == 0);
  }
  CHECK_CODE(jn_method_stats_get(echo, &stats), JN_OK);
  CHECK(stats.calls == calls_before + 4 * 2000);
  CHECK(stats.errors == errors_before);
}

/* Waits for done to have been called once; false on timeout. */
static int wait_done(done_state* done) { return wait_at_least(&done->calls, 1); }

static void test_async_calls(test_service* service, jn_method* echo, jn_method* fail,
                             jn_method* hold, jn_method* async_echo) {
  done_state* done;
  jn_buffer request;
  jn_result result = empty_result();
  jn_status status;
  jn_completion held, bogus;
  int made, async_finished;
  int32_t code;

  /* A synchronous handler run on a worker; the request is produced by this
   * program and must come back through its own release. */
  done = new_done();
  made = read_counter(&user_buffers_made);
  request = user_buffer((const uint8_t*)"async", 5);
  CHECK_CODE(jn_call_async(echo, &request, jn_now_ns() + 60 * 1000000000LL, on_done, done, NULL),
             JN_OK);
  CHECK(wait_done(done));
  CHECK(done->result.status.code == JN_OK && buffer_is(&done->result.response, "async"));
  jn_result_release(&done->result);
  CHECK(wait_at_least(&user_buffers_released, made + 1));
  free(done);

  /* An error status reaches done with its message. */
  CHECK_CODE(jn_buffer_copy((const uint8_t*)"y", 1, &request), JN_OK);
  {
    done_state* failed = new_done();
    CHECK_CODE(jn_call_async(fail, &request, JN_NO_DEADLINE, on_done, failed, NULL), JN_OK);
    CHECK(wait_done(failed));
    CHECK(failed->result.status.code == JN_PERMISSION_DENIED);
    CHECK(message_contains(&failed->result.status, "denied: y"));
    CHECK(failed->result.response.release == NULL);
    jn_result_release(&failed->result);
    sleep_ms(20);
    CHECK(read_counter(&failed->calls) == 1);
    free(failed);
  }

  /* A NULL request is an empty one. */
  {
    done_state* empty = new_done();
    CHECK_CODE(jn_call_async(echo, NULL, JN_NO_DEADLINE, on_done, empty, NULL), JN_OK);
    CHECK(wait_done(empty));
    CHECK(empty->result.status.code == JN_OK);
    CHECK(empty->result.response.release == NULL || empty->result.response.len == 0);
    jn_result_release(&empty->result);
    free(empty);
  }

  /* An asynchronous handler completing on a thread of its own. */
  {
    done_state* echoed = new_done();
    async_finished = read_counter(&service->async_finished);
    CHECK_CODE(jn_buffer_copy((const uint8_t*)"later", 5, &request), JN_OK);
    CHECK_CODE(jn_call_async(async_echo, &request, JN_NO_DEADLINE, on_done, echoed, NULL), JN_OK);
    CHECK(wait_done(echoed));
    CHECK(echoed->result.status.code == JN_OK && buffer_is(&echoed->result.response, "later"));
    jn_result_release(&echoed->result);
    CHECK(wait_at_least(&service->async_finished, async_finished + 1));
    CHECK_CODE(read_counter(&service->async_complete_code), JN_OK);
    free(echoed);
  }

  /* A synchronous call to an asynchronous handler waits for jn_complete. */
  async_finished = read_counter(&service->async_finished);
  CHECK_CODE(jn_call(async_echo, bytes_of("sync"), JN_NO_DEADLINE, &result), JN_OK);
  CHECK(buffer_is(&result.response, "sync"));
  jn_result_release(&result);
  CHECK(wait_at_least(&service->async_finished, async_finished + 1));

  /* Deadline expiry: done gets DEADLINE_EXCEEDED although the handler never
   * completes; completing afterwards says the caller was already answered
   * and releases the late result. */
  {
    done_state* late = new_done();
    int held_before = read_counter(&service->held);
    CHECK_CODE(jn_buffer_copy((const uint8_t*)"late request", 12, &request), JN_OK);
    CHECK_CODE(jn_call_async(hold, &request, jn_now_ns() + 50 * 1000000LL, on_done, late, NULL),
               JN_OK);
    CHECK(wait_done(late));
    CHECK(late->result.status.code == JN_DEADLINE_EXCEEDED);
    CHECK(late->result.response.release == NULL);
    jn_result_release(&late->result);
    CHECK(wait_at_least(&service->held, held_before + 1));
    pthread_mutex_lock(&mu);
    held = service->last_held;
    pthread_mutex_unlock(&mu);
    CHECK(held_request_is(service, "late request"));
    made = read_counter(&user_buffers_made);
    result.response = user_buffer((const uint8_t*)"too late", 8);
    CHECK_CODE(jn_complete(held, &result), JN_DEADLINE_EXCEEDED);
    CHECK(result.response.release == NULL);
    CHECK(wait_at_least(&user_buffers_released, made + 1));
    result = empty_result();
    CHECK_CODE(jn_complete(held, &result), JN_FAILED_PRECONDITION);
    sleep_ms(20);
    CHECK(read_counter(&late->calls) == 1);
    free(late);
  }

  /* A synchronous call to an asynchronous handler is abandoned at its
   * deadline. */
  {
    int held_before = read_counter(&service->held);
    CHECK_CODE(jn_call(hold, bytes_of("abandoned"), jn_now_ns() + 50 * 1000000LL, &result),
               JN_DEADLINE_EXCEEDED);
    jn_result_release(&result);
    CHECK(wait_at_least(&service->held, held_before + 1));
    pthread_mutex_lock(&mu);
    held = service->last_held;
    pthread_mutex_unlock(&mu);
    CHECK(held_request_is(service, "abandoned"));
    result = empty_result();
    CHECK_CODE(jn_complete(held, &result), JN_DEADLINE_EXCEEDED);
  }

  /* A deadline already passed: either refused at once (and the request is
   * still the caller's, done never called) or accepted and answered with
   * DEADLINE_EXCEEDED through done. */
  {
    done_state* expired = new_done();
    CHECK_CODE(jn_buffer_copy((const uint8_t*)"z", 1, &request), JN_OK);
    code = jn_call_async(echo, &request, jn_now_ns() - 1, on_done, expired, NULL);
    if (code == JN_OK) {
      CHECK(wait_done(expired));
      CHECK(expired->result.status.code == JN_DEADLINE_EXCEEDED);
      jn_result_release(&expired->result);
    } else {
      CHECK_CODE(code, JN_DEADLINE_EXCEEDED);
      CHECK(request.release != NULL);
      jn_buffer_release(&request);
      sleep_ms(20);
      CHECK(read_counter(&expired->calls) == 0);
    }
    free(expired);
  }

  /* Completing an unknown call: refused, and the result is still released. */
  bogus.call_id = UINT64_MAX;
  bogus.reserved = 0;
  CHECK_CODE(jn_buffer_copy((const uint8_t*)"orphan", 6, &result.response), JN_OK);
  CHECK_CODE(jn_complete(bogus, &result), JN_FAILED_PRECONDITION);
  CHECK(result.response.release == NULL);
  CHECK_CODE(jn_complete(bogus, NULL), JN_INVALID_ARGUMENT);

  /* Refused calls start nothing: done is not called and the request stays
   * the caller's. */
  done = new_done();
  CHECK_CODE(jn_buffer_copy((const uint8_t*)"kept", 4, &request), JN_OK);
  memset(&status, 0, sizeof status);
  CHECK_CODE(jn_call_async(NULL, &request, JN_NO_DEADLINE, on_done, done, &status),
             JN_INVALID_ARGUMENT);
  CHECK(status.code == JN_INVALID_ARGUMENT);
  jn_status_release(&status);
  CHECK_CODE(jn_call_async(echo, &request, JN_NO_DEADLINE, NULL, done, NULL), JN_INVALID_ARGUMENT);
  CHECK(buffer_is(&request, "kept"));
  jn_buffer_release(&request);
  sleep_ms(20);
  CHECK(read_counter(&done->calls) == 0);
  free(done);
}

/* Completion racing the deadline: whichever wins, done runs exactly once,
 * and jn_complete's code says which won. A handler whose deadline passed
 * before it started never runs. */
static void test_completion_races(jn_method* race) {
  done_state* dones[RACE_CALLS];
  jn_buffer request;
  int32_t complete_code, done_code;
  unsigned i;
  int started = 0, mismatched = 0, answered_twice = 0;

  pthread_mutex_lock(&mu);
  race_started = 0;
  race_finished = 0;
  for (i = 0; i < RACE_CALLS; ++i) race_codes[i] = -1;
  pthread_mutex_unlock(&mu);
  /* In batches of RACE_BATCH, with deadlines spread around the handler's
   * millisecond, so that both sides win often. */
  for (i = 0; i < RACE_CALLS; ++i) {
    dones[i] = new_done();
    CHECK_CODE(jn_buffer_copy((const uint8_t*)&i, sizeof i, &request), JN_OK);
    if (jn_call_async(race, &request, jn_now_ns() + 900000 + (int64_t)(i % 9) * 150000, on_done,
                      dones[i], NULL) == JN_OK) {
      ++started;
    } else {
      jn_buffer_release(&request);
    }
    if (i % RACE_BATCH == RACE_BATCH - 1) {
      unsigned j;
      for (j = i + 1 - RACE_BATCH; j <= i; ++j) CHECK(wait_done(dones[j]));
    }
  }
  CHECK(started == RACE_CALLS);
  sleep_ms(20);
  CHECK(wait_at_least(&race_finished, read_counter(&race_started)));
  for (i = 0; i < RACE_CALLS; ++i) {
    pthread_mutex_lock(&mu);
    complete_code = race_codes[i];
    done_code = dones[i]->result.status.code;
    if (dones[i]->calls != 1) ++answered_twice;
    pthread_mutex_unlock(&mu);
    if (!((done_code == JN_OK && complete_code == JN_OK &&
           dones[i]->result.response.release != NULL) ||
          (done_code == JN_DEADLINE_EXCEEDED &&
           (complete_code == JN_DEADLINE_EXCEEDED || complete_code == -1)))) {
      ++mismatched;
    }
    jn_result_release(&dones[i]->result);
    free(dones[i]);
  }
  check_at(answered_twice == 0, "done ran exactly once for every raced call", __LINE__);
  check_at(mismatched == 0, "done's code and jn_complete's code agree on who won", __LINE__);
  if (mismatched || answered_twice) {
    fprintf(stderr, "  %d of %d raced calls disagreed, %d answered twice\n", mismatched, RACE_CALLS,
            answered_twice);
  }
}

/* Handlers calling back into the host: register, call asynchronously,
 * unregister their own service; and asynchronous handlers completing
 * inline. */
static void test_reentrancy(jn_host* host, test_service* service, jn_method* echo,
                            jn_method* async_inline) {
  jn_method_desc methods[3];
  jn_service_desc desc;
  jn_method *register_inner, *call_async, *unregister_self, *inner_echo;
  jn_result result = empty_result();
  done_state* done;
  int i;

  memset(methods, 0, sizeof methods);
  methods[0].name = "RegisterInner";
  methods[0].handler = register_inner_handler;
  methods[1].name = "CallAsync";
  methods[1].handler = call_async_handler;
  methods[2].name = "UnregisterSelf";
  methods[2].handler = unregister_self_handler;
  for (i = 0; i < 3; ++i) methods[i].ctx = service;
  memset(&desc, 0, sizeof desc);
  desc.abi_version = JN_ABI_VERSION;
  desc.name = "test.Reentrant";
  desc.methods = methods;
  desc.method_count = 3;
  desc.ctx = service;
  desc.destroy = on_destroy;
  service->host = host;
  service->echo = echo;
  CHECK_CODE(jn_host_register(host, &desc, NULL), JN_OK);
  register_inner = resolve(host, "test.Reentrant", "RegisterInner");
  call_async = resolve(host, "test.Reentrant", "CallAsync");
  unregister_self = resolve(host, "test.Reentrant", "UnregisterSelf");

  CHECK_CODE(jn_call(register_inner, bytes_of(""), JN_NO_DEADLINE, &result), JN_OK);
  jn_result_release(&result);
  inner_echo = resolve(host, "test.Inner", "Echo");
  CHECK_CODE(jn_call(inner_echo, bytes_of("inner"), JN_NO_DEADLINE, &result), JN_OK);
  CHECK(buffer_is(&result.response, "inner"));
  jn_result_release(&result);

  nested_done = new_done();
  CHECK_CODE(jn_call(call_async, bytes_of(""), JN_NO_DEADLINE, &result), JN_OK);
  jn_result_release(&result);
  CHECK(wait_done(nested_done));
  CHECK(nested_done->result.status.code == JN_OK);
  jn_result_release(&nested_done->result);

  CHECK_CODE(jn_call(unregister_self, bytes_of(""), JN_NO_DEADLINE, &result), JN_OK);
  if (result.status.code != JN_OK) {
    fprintf(stderr, "  UnregisterSelf: %.*s\n", (int)result.status.message.len,
            result.status.message.release ? (const char*)result.status.message.data : "");
  }
  jn_result_release(&result);
  CHECK(wait_at_least(&service->destroyed, 1));
  CHECK_CODE(jn_call(register_inner, bytes_of(""), JN_NO_DEADLINE, &result), JN_NOT_FOUND);
  jn_result_release(&result);

  /* Inline completion, from a synchronous and an asynchronous call. */
  CHECK_CODE(jn_call(async_inline, bytes_of("inline"), JN_NO_DEADLINE, &result), JN_OK);
  CHECK(buffer_is(&result.response, "inline"));
  jn_result_release(&result);
  done = new_done();
  CHECK_CODE(jn_call_async(async_inline, NULL, JN_NO_DEADLINE, on_done, done, NULL), JN_OK);
  CHECK(wait_done(done));
  CHECK(done->result.status.code == JN_OK);
  jn_result_release(&done->result);

  jn_method_free(register_inner);
  jn_method_free(call_async);
  jn_method_free(unregister_self);
  jn_method_free(inner_echo);
  sleep_ms(20);
  CHECK(read_counter(&nested_done->calls) == 1 && read_counter(&done->calls) == 1);
  free(nested_done);
  free(done);
}

/* The modules c_module.c is built as, in the order ctest passes them. */
typedef struct module_paths {
  const char* good;
  const char* other_major;
  const char* newer_minor;
  const char* init_fails;
  const char* not_junction;
} module_paths;

static const char* base_name(const char* path) {
  const char* slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

/* Loading path must return want, with a status naming the module. */
static void expect_load(jn_host* host, const char* path, int32_t want, const char* reason) {
  jn_status status;
  memset(&status, 0, sizeof status);
  check_code_at(jn_host_load_module(host, path, &status), want, base_name(path), __LINE__);
  if (want != JN_OK) {
    check_at(status.code == want, "status holds the code", __LINE__);
    check_at(message_contains(&status, base_name(path)), "status names the module", __LINE__);
    if (reason != NULL) check_at(message_contains(&status, reason), reason, __LINE__);
    if (!message_contains(&status, base_name(path)) ||
        (reason != NULL && !message_contains(&status, reason))) {
      fprintf(stderr, "  message was \"%.*s\"\n", (int)status.message.len,
              status.message.release ? (const char*)status.message.data : "");
    }
  }
  jn_status_release(&status);
}

/* True if host has the service (resolving its Echo method). */
static int has_service(jn_host* host, const char* service) {
  jn_method* handle = NULL;
  int32_t code = jn_host_resolve(host, service, "Echo", &handle, NULL);
  jn_method_free(handle);
  return code == JN_OK;
}

/* Modules: loaded, refused for their version before their init runs, or
 * failing in their init. */
static void test_modules(jn_host* host, const module_paths* modules) {
  jn_method* echo;
  jn_result result = empty_result();

  CHECK_CODE(jn_host_load_module(NULL, modules->good, NULL), JN_INVALID_ARGUMENT);
  CHECK_CODE(jn_host_load_module(host, NULL, NULL), JN_INVALID_ARGUMENT);
  expect_load(host, "/nonexistent/libjunction_no_such_module.so", JN_NOT_FOUND, NULL);
  expect_load(host, modules->not_junction, JN_FAILED_PRECONDITION, NULL);
  expect_load(host, modules->other_major, JN_FAILED_PRECONDITION, NULL);
  CHECK(!has_service(host, "module.OtherMajor"));
  expect_load(host, modules->newer_minor, JN_FAILED_PRECONDITION, NULL);
  CHECK(!has_service(host, "module.NewerMinor"));
  /* Its init registered module.InitFails before refusing: the failed load
   * leaves nothing registered, so a second try fails for the same reason. */
  expect_load(host, modules->init_fails, JN_UNAVAILABLE, "refusing on purpose");
  CHECK(!has_service(host, "module.InitFails"));
  expect_load(host, modules->init_fails, JN_UNAVAILABLE, "refusing on purpose");
  CHECK(!has_service(host, "module.InitFails"));

  expect_load(host, modules->good, JN_OK, NULL);
  CHECK(has_service(host, "module.Good"));
  echo = resolve(host, "module.Echo", "Echo");
  CHECK_CODE(jn_call(echo, bytes_of("from a module"), JN_NO_DEADLINE, &result), JN_OK);
  CHECK(buffer_is(&result.response, "from a module"));
  jn_result_release(&result);
  jn_method_free(echo);
  /* Loaded again, its init registers module.Echo again. */
  expect_load(host, modules->good, JN_ALREADY_EXISTS, NULL);
}

int main(int argc, char** argv) {
  test_service service, refused, holding, reentrant;
  module_paths modules;
  jn_live_counts baseline, counts;
  jn_host_options options;
  jn_host* host = NULL;
  jn_status status;
  jn_result result = empty_result();
  jn_method_desc methods[9];
  jn_method_desc hold_methods[2];
  jn_method* slow;
  pthread_t slow_caller;
  jn_service_desc desc;
  jn_method *echo, *fail, *bad_code, *nested, *free_host, *hold, *async_echo, *async_inline;
  jn_method *held_call, *race;
  jn_method* unexpected = NULL;
  done_state* cancelled;
  jn_completion pending;
  jn_buffer pending_request;
  int32_t code;

  if (argc != 6) {
    fprintf(stderr,
            "usage: %s GOOD_MODULE OTHER_MAJOR_MODULE NEWER_MINOR_MODULE INIT_FAILS_MODULE "
            "NOT_JUNCTION_LIBRARY\n",
            argv[0]);
    return 2;
  }
  modules.good = argv[1];
  modules.other_major = argv[2];
  modules.newer_minor = argv[3];
  modules.init_fails = argv[4];
  modules.not_junction = argv[5];

  memset(&service, 0, sizeof service);
  memset(&refused, 0, sizeof refused);
  memset(&holding, 0, sizeof holding);
  memset(&reentrant, 0, sizeof reentrant);

  test_version_and_names();
  baseline = live_counts();
  test_buffers_and_statuses(&baseline);

  options.struct_size = sizeof options;
  options.worker_threads = 2;
  options.thread_slice_ns = 0;
  CHECK_CODE(jn_host_new(&options, NULL, NULL), JN_INVALID_ARGUMENT);
  memset(&status, 0, sizeof status);
  CHECK_CODE(jn_host_new(&options, &host, &status), JN_OK);
  jn_status_release(&status);
  if (host == NULL) {
    fprintf(stderr, "c_service_test: no host, stopping\n");
    summary();
    return 1;
  }
  counts = live_counts();
  CHECK(counts.hosts == baseline.hosts + 1);
  service.host = host;

  memset(methods, 0, sizeof methods);
  methods[0].name = "Echo";
  methods[0].handler = echo_handler;
  methods[1].name = "Fail";
  methods[1].handler = fail_handler;
  methods[2].name = "BadCode";
  methods[2].handler = bad_code_handler;
  methods[3].name = "Nested";
  methods[3].handler = nested_handler;
  methods[4].name = "FreeHost";
  methods[4].handler = free_host_handler;
  methods[5].name = "Hold";
  methods[5].async_handler = hold_handler;
  methods[6].name = "AsyncEcho";
  methods[6].async_handler = async_echo_handler;
  methods[7].name = "AsyncInline";
  methods[7].async_handler = async_inline_handler;
  methods[8].name = "Race";
  methods[8].async_handler = race_handler;
  {
    int i;
    for (i = 0; i < 9; ++i) methods[i].ctx = &service;
  }
  memset(&desc, 0, sizeof desc);
  desc.abi_version = JN_ABI_VERSION;
  desc.name = "test.Echo";
  desc.methods = methods;
  desc.method_count = 9;
  desc.ctx = &service;
  desc.destroy = on_destroy;
  memset(&status, 0, sizeof status);
  CHECK_CODE(jn_host_register(host, &desc, &status), JN_OK);
  jn_status_release(&status);
  counts = live_counts();
  CHECK(counts.services == baseline.services + 1);

  test_registration(host, methods, 9, &refused);

  echo = resolve(host, "test.Echo", "Echo");
  fail = resolve(host, "test.Echo", "Fail");
  bad_code = resolve(host, "test.Echo", "BadCode");
  nested = resolve(host, "test.Echo", "Nested");
  free_host = resolve(host, "test.Echo", "FreeHost");
  hold = resolve(host, "test.Echo", "Hold");
  async_echo = resolve(host, "test.Echo", "AsyncEcho");
  async_inline = resolve(host, "test.Echo", "AsyncInline");
  race = resolve(host, "test.Echo", "Race");
  service.echo = echo;
  counts = live_counts();
  CHECK(counts.methods == baseline.methods + 9);
  test_resolve_errors(host);

  test_sync_calls(&service, echo, fail, bad_code, nested, free_host);
  test_async_calls(&service, echo, fail, hold, async_echo);
  test_completion_races(race);
  test_reentrancy(host, &reentrant, echo, async_inline);
  test_modules(host, &modules);

  /* Unregistering: handles stay valid and answer NOT_FOUND; destroy runs
   * exactly once. */
  CHECK_CODE(jn_host_unregister(host, "test.Echo", NULL), JN_OK);
  CHECK(wait_at_least(&service.destroyed, 1));
  CHECK_CODE(jn_call(echo, bytes_of("gone"), JN_NO_DEADLINE, &result), JN_NOT_FOUND);
  CHECK(result.status.code == JN_NOT_FOUND && result.response.release == NULL);
  jn_result_release(&result);
  CHECK_CODE(jn_host_resolve(host, "test.Echo", "Echo", &unexpected, NULL), JN_NOT_FOUND);
  jn_method_free(unexpected);
  CHECK_CODE(jn_host_unregister(host, "test.Echo", NULL), JN_NOT_FOUND);
  CHECK_CODE(jn_host_unregister(host, NULL, NULL), JN_INVALID_ARGUMENT);
  CHECK_CODE(jn_host_unregister(NULL, "test.Echo", NULL), JN_INVALID_ARGUMENT);

  /* Host shutdown with a synchronous and an asynchronous call in flight:
   * jn_host_free waits for the first, done gets CANCELLED for the second,
   * the held request and ctx stay valid until the late jn_complete, which
   * answers CANCELLED and runs destroy. */
  memset(hold_methods, 0, sizeof hold_methods);
  hold_methods[0].name = "Hold";
  hold_methods[0].async_handler = hold_handler;
  hold_methods[0].ctx = &holding;
  hold_methods[1].name = "Slow";
  hold_methods[1].handler = slow_handler;
  hold_methods[1].ctx = &holding;
  desc.name = "test.Hold";
  desc.methods = hold_methods;
  desc.method_count = 2;
  desc.ctx = &holding;
  CHECK_CODE(jn_host_register(host, &desc, NULL), JN_OK);
  held_call = resolve(host, "test.Hold", "Hold");
  slow = resolve(host, "test.Hold", "Slow");
  cancelled = new_done();
  CHECK_CODE(jn_buffer_copy((const uint8_t*)"pending request", 15, &pending_request), JN_OK);
  CHECK_CODE(jn_call_async(held_call, &pending_request, JN_NO_DEADLINE, on_done, cancelled, NULL),
             JN_OK);
  CHECK(wait_at_least(&holding.held, 1));
  pthread_mutex_lock(&mu);
  pending = holding.last_held;
  pthread_mutex_unlock(&mu);
  counts = live_counts();
  CHECK(counts.pending_calls == baseline.pending_calls + 1);
  CHECK(pthread_create(&slow_caller, NULL, slow_caller_thread, slow) == 0);
  CHECK(wait_at_least(&holding.slow_started, 1));
  CHECK_CODE(jn_host_free_check(host), JN_OK); /* outside a handler, calls in flight or not */
  CHECK_CODE(jn_host_free(host), JN_OK);
  check_at(read_counter(&holding.slow_finished) == 1,
           "jn_host_free waited for the synchronous call in flight", __LINE__);
  check_at(read_counter(&holding.destroyed) == 0,
           "destroy waits for the asynchronous handler still holding its completion", __LINE__);
  pthread_join(slow_caller, NULL);
  CHECK(wait_done(cancelled));
  CHECK(cancelled->result.status.code == JN_CANCELLED);
  jn_result_release(&cancelled->result);
  check_at(held_request_is(&holding, "pending request"),
           "an asynchronous handler's request stays valid after jn_host_free until jn_complete",
           __LINE__);
  code = jn_complete(pending, &result);
  check_at(code == JN_CANCELLED, "late jn_complete after jn_host_free is CANCELLED", __LINE__);
  check_at(read_counter(&holding.destroyed) == 1, "the last completion runs destroy", __LINE__);
  CHECK_CODE(jn_call(held_call, bytes_of("after free"), JN_NO_DEADLINE, &result), JN_NOT_FOUND);
  jn_result_release(&result);
  CHECK_CODE(jn_host_free(NULL), JN_OK);
  CHECK_CODE(jn_host_free_check(NULL), JN_OK);

  jn_method_free(echo);
  jn_method_free(fail);
  jn_method_free(bad_code);
  jn_method_free(nested);
  jn_method_free(free_host);
  jn_method_free(hold);
  jn_method_free(async_echo);
  jn_method_free(async_inline);
  jn_method_free(race);
  jn_method_free(held_call);
  jn_method_free(slow);
  jn_method_free(NULL);

  /* Exactly once, never for a refused registration, and nothing leaked. */
  sleep_ms(20);
  CHECK(read_counter(&service.destroyed) == 1);
  CHECK(read_counter(&holding.destroyed) == 1);
  CHECK(read_counter(&refused.destroyed) == 0);
  CHECK(read_counter(&reentrant.destroyed) == 1);
  CHECK(read_counter(&inner.destroyed) == 1);
  CHECK(read_counter(&cancelled->calls) == 1);
  free(cancelled);
  CHECK(wait_at_least(&user_buffers_released, read_counter(&user_buffers_made)));
  CHECK(read_counter(&user_buffers_released) == read_counter(&user_buffers_made));
  counts = live_counts();
  CHECK(same_counts(&counts, &baseline));
  if (!same_counts(&counts, &baseline)) {
    print_counts("baseline", &baseline);
    print_counts("at end", &counts);
  }

  return summary();
}

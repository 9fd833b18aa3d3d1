#include "threads.h"

#include <pthread.h>
#include <string.h>

typedef struct job {
  const jn_method* method;
  jn_bytes request;
  jn_bytes expected;
  uint32_t calls;
  uint64_t matched;
} job;

static int response_matches(const jn_result* result, jn_bytes expected) {
  return result->status.code == JN_OK && result->response.len == expected.len &&
         (expected.len == 0 || memcmp(result->response.data, expected.data, expected.len) == 0);
}

static void* run_job(void* arg) {
  job* j = arg;
  for (uint32_t i = 0; i < j->calls; ++i) {
    jn_result result;
    jn_call(j->method, j->request, JN_NO_DEADLINE, &result);
    j->matched += (uint64_t)response_matches(&result, j->expected);
    jn_result_release(&result);
  }
  return NULL;
}

uint64_t cgotest_call_from_threads(const jn_method* method, const uint8_t* request,
                                   uint64_t request_len, const uint8_t* expected,
                                   uint64_t expected_len, uint32_t threads, uint32_t calls) {
  enum { max_threads = 64 };
  pthread_t ids[max_threads];
  job jobs[max_threads];
  if (threads > max_threads) {
    threads = max_threads;
  }
  uint32_t started = 0;
  for (; started < threads; ++started) {
    jobs[started] = (job){method, {request, request_len}, {expected, expected_len}, calls, 0};
    if (pthread_create(&ids[started], NULL, run_job, &jobs[started]) != 0) {
      break;
    }
  }
  uint64_t matched = 0;
  for (uint32_t i = 0; i < started; ++i) {
    pthread_join(ids[i], NULL);
    matched += jobs[i].matched;
  }
  return matched;
}

typedef struct waiter {
  pthread_mutex_t mutex;
  pthread_cond_t ready;
  int done;
  jn_result result;
} waiter;

static void async_done(void* user_data, jn_result* result) {
  waiter* w = user_data;
  pthread_mutex_lock(&w->mutex);
  w->result = *result;
  result->response.release = NULL;
  result->status.message.release = NULL;
  w->done = 1;
  pthread_cond_signal(&w->ready);
  pthread_mutex_unlock(&w->mutex);
}

int32_t cgotest_call_async_wait(const jn_method* method, const uint8_t* request,
                                uint64_t request_len, const uint8_t* expected,
                                uint64_t expected_len, int32_t* matches) {
  *matches = 0;
  jn_buffer owned;
  int32_t code = jn_buffer_copy(request, request_len, &owned);
  if (code != JN_OK) {
    return code;
  }
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0, 0, {0}}, {0}}};
  code = jn_call_async(method, &owned, JN_NO_DEADLINE, async_done, &w, NULL);
  if (code != JN_OK) {
    jn_buffer_release(&owned);
    return code;
  }
  pthread_mutex_lock(&w.mutex);
  while (!w.done) {
    pthread_cond_wait(&w.ready, &w.mutex);
  }
  pthread_mutex_unlock(&w.mutex);
  *matches = response_matches(&w.result, (jn_bytes){expected, expected_len});
  code = w.result.status.code;
  jn_result_release(&w.result);
  return code;
}

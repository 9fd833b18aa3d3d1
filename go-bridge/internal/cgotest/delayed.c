#include "delayed.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct pending {
  jn_completion completion;
  jn_bytes request;
  struct timespec due;
  struct pending* next;
} pending;

typedef struct delayed_service {
  pthread_mutex_t mutex;
  pthread_cond_t changed;
  pending* head; /* in arrival order, so in due order */
  pending* tail;
  int stopping;
  uint32_t delay_ms;
  pthread_t answerer;
} delayed_service;

static int due_now(const struct timespec* due) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > due->tv_sec || (now.tv_sec == due->tv_sec && now.tv_nsec >= due->tv_nsec);
}

static void* answer_loop(void* arg) {
  delayed_service* service = arg;
  pthread_mutex_lock(&service->mutex);
  for (;;) {
    while (service->head != NULL && (service->stopping || due_now(&service->head->due))) {
      pending* p = service->head;
      service->head = p->next;
      if (service->head == NULL) {
        service->tail = NULL;
      }
      pthread_mutex_unlock(&service->mutex);
      jn_result result = {{0, 0, {NULL, 0, NULL, NULL}}, {NULL, 0, NULL, NULL}};
      jn_buffer_copy(p->request.data, p->request.len, &result.response);
      jn_complete(p->completion, &result);
      free(p);
      pthread_mutex_lock(&service->mutex);
    }
    if (service->stopping) {
      break;
    }
    if (service->head == NULL) {
      pthread_cond_wait(&service->changed, &service->mutex);
    } else {
      pthread_cond_timedwait(&service->changed, &service->mutex, &service->head->due);
    }
  }
  pthread_mutex_unlock(&service->mutex);
  return NULL;
}

static void delayed_echo(void* ctx, jn_bytes request, int64_t deadline_ns,
                         jn_completion completion) {
  (void)deadline_ns;
  delayed_service* service = ctx;
  pending* p = malloc(sizeof *p);
  if (p == NULL) {
    jn_result result = {{JN_RESOURCE_EXHAUSTED, 0, {NULL, 0, NULL, NULL}}, {NULL, 0, NULL, NULL}};
    jn_complete(completion, &result);
    return;
  }
  p->completion = completion;
  p->request = request; /* valid until jn_complete */
  p->next = NULL;
  clock_gettime(CLOCK_MONOTONIC, &p->due);
  p->due.tv_sec += service->delay_ms / 1000;
  p->due.tv_nsec += (long)(service->delay_ms % 1000) * 1000000L;
  if (p->due.tv_nsec >= 1000000000L) {
    p->due.tv_sec += 1;
    p->due.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&service->mutex);
  if (service->tail == NULL) {
    service->head = p;
  } else {
    service->tail->next = p;
  }
  service->tail = p;
  pthread_cond_signal(&service->changed);
  pthread_mutex_unlock(&service->mutex);
}

/* Runs after every call has returned: answers what is still queued, then
 * stops the thread. */
static void delayed_destroy(void* ctx) {
  delayed_service* service = ctx;
  pthread_mutex_lock(&service->mutex);
  service->stopping = 1;
  pthread_cond_signal(&service->changed);
  pthread_mutex_unlock(&service->mutex);
  pthread_join(service->answerer, NULL);
  pthread_cond_destroy(&service->changed);
  pthread_mutex_destroy(&service->mutex);
  free(service);
}

int32_t cgotest_register_delayed_echo(jn_host* host, const char* name, uint32_t delay_ms) {
  delayed_service* service = calloc(1, sizeof *service);
  if (service == NULL) {
    return JN_RESOURCE_EXHAUSTED;
  }
  pthread_condattr_t monotonic;
  pthread_condattr_init(&monotonic);
  pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
  pthread_mutex_init(&service->mutex, NULL);
  pthread_cond_init(&service->changed, &monotonic);
  pthread_condattr_destroy(&monotonic);
  service->delay_ms = delay_ms;
  if (pthread_create(&service->answerer, NULL, answer_loop, service) != 0) {
    free(service);
    return JN_RESOURCE_EXHAUSTED;
  }
  jn_method_desc method = {"echo", NULL, delayed_echo, service};
  jn_service_desc desc = {JN_ABI_VERSION, 1, name, &method, service, delayed_destroy};
  const int32_t code = jn_host_register(host, &desc, NULL);
  if (code != JN_OK) {
    delayed_destroy(service);
  }
  return code;
}

#include "held.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct held_call {
  jn_completion completion;
  jn_bytes request; /* valid until jn_complete */
  struct held_call* next;
} held_call;

struct cgotest_held_echo {
  pthread_mutex_t mutex;
  pthread_cond_t changed;
  held_call* head; /* in arrival order */
  held_call* tail;
  uint32_t held;
  int released;
  int stopping;
  pthread_t answerer;
};

static void* answer_loop(void* arg) {
  cgotest_held_echo* service = arg;
  pthread_mutex_lock(&service->mutex);
  for (;;) {
    while (service->head != NULL && (service->released || service->stopping)) {
      held_call* call = service->head;
      service->head = call->next;
      if (service->head == NULL) {
        service->tail = NULL;
      }
      service->held--;
      pthread_mutex_unlock(&service->mutex);
      jn_result result = {{0, 0, {NULL, 0, NULL, NULL}}, {NULL, 0, NULL, NULL}};
      jn_buffer_copy(call->request.data, call->request.len, &result.response);
      jn_complete(call->completion, &result);
      free(call);
      pthread_mutex_lock(&service->mutex);
    }
    if (service->stopping) {
      break;
    }
    pthread_cond_wait(&service->changed, &service->mutex);
  }
  pthread_mutex_unlock(&service->mutex);
  return NULL;
}

static void held_echo(void* ctx, jn_bytes request, int64_t deadline_ns, jn_completion completion) {
  (void)deadline_ns;
  cgotest_held_echo* service = ctx;
  held_call* call = malloc(sizeof *call);
  if (call == NULL) {
    jn_result result = {{JN_RESOURCE_EXHAUSTED, 0, {NULL, 0, NULL, NULL}}, {NULL, 0, NULL, NULL}};
    jn_complete(completion, &result);
    return;
  }
  call->completion = completion;
  call->request = request;
  call->next = NULL;
  pthread_mutex_lock(&service->mutex);
  if (service->tail == NULL) {
    service->head = call;
  } else {
    service->tail->next = call;
  }
  service->tail = call;
  service->held++;
  pthread_cond_signal(&service->changed);
  pthread_mutex_unlock(&service->mutex);
}

uint32_t cgotest_held_calls(cgotest_held_echo* service) {
  pthread_mutex_lock(&service->mutex);
  const uint32_t held = service->held;
  pthread_mutex_unlock(&service->mutex);
  return held;
}

void cgotest_release_held(cgotest_held_echo* service) {
  pthread_mutex_lock(&service->mutex);
  service->released = 1;
  pthread_cond_signal(&service->changed);
  pthread_mutex_unlock(&service->mutex);
}

/* Runs after every call has returned: answers what is still held, then
 * stops the thread. */
static void held_destroy(void* ctx) {
  cgotest_held_echo* service = ctx;
  pthread_mutex_lock(&service->mutex);
  service->stopping = 1;
  pthread_cond_signal(&service->changed);
  pthread_mutex_unlock(&service->mutex);
  pthread_join(service->answerer, NULL);
  pthread_cond_destroy(&service->changed);
  pthread_mutex_destroy(&service->mutex);
  free(service);
}

int32_t cgotest_register_held_echo(jn_host* host, const char* name, cgotest_held_echo** out) {
  cgotest_held_echo* service = calloc(1, sizeof *service);
  if (service == NULL) {
    return JN_RESOURCE_EXHAUSTED;
  }
  pthread_mutex_init(&service->mutex, NULL);
  pthread_cond_init(&service->changed, NULL);
  if (pthread_create(&service->answerer, NULL, answer_loop, service) != 0) {
    pthread_cond_destroy(&service->changed);
    pthread_mutex_destroy(&service->mutex);
    free(service);
    return JN_RESOURCE_EXHAUSTED;
  }
  jn_method_desc method = {"echo", NULL, held_echo, service};
  jn_service_desc desc = {JN_ABI_VERSION, 1, name, &method, service, held_destroy};
  const int32_t code = jn_host_register(host, &desc, NULL);
  if (code != JN_OK) {
    held_destroy(service);
    return code;
  }
  *out = service;
  return JN_OK;
}

#include "loops.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#include "_cgo_export.h"

typed_length_fn* cgotest_find_typed_length(const char* path) {
  void* library = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (library == NULL) {
    return NULL;
  }
  typed_length_fn* fn = (typed_length_fn*)dlsym(library, "junction_echo_length");
  dlclose(library); /* drops the reference taken here; the host keeps its own */
  return fn;
}

uint64_t cgotest_typed_length(typed_length_fn* fn, const uint8_t* data, uint64_t len) {
  return fn(data, (size_t)len);
}

typedef struct loop {
  const jn_method* method; /* NULL: call the raw export */
  const uint8_t* data;
  uint64_t len;
  uint64_t iterations;
  uint64_t ok;
} loop;

static void* run_loop(void* arg) {
  loop* l = arg;
  if (l->method == NULL) {
    for (uint64_t i = 0; i < l->iterations; ++i) {
      l->ok += cgotestRawLength((uint8_t*)l->data, l->len) == l->len;
    }
    return NULL;
  }
  /* Lends room for the response, as Method::call_into does in Rust. */
  const jn_bytes request = {l->data, l->len};
  uint8_t room[64];
  for (uint64_t i = 0; i < l->iterations; ++i) {
    jn_result result;
    l->ok += jn_call_into(l->method, request, JN_NO_DEADLINE, room, sizeof room, &result) == JN_OK;
    jn_result_release(&result);
  }
  return NULL;
}

static uint64_t run(loop* l, int new_thread) {
  if (!new_thread) {
    run_loop(l);
    return l->ok;
  }
  pthread_t thread;
  if (pthread_create(&thread, NULL, run_loop, l) != 0) {
    return 0;
  }
  pthread_join(thread, NULL);
  return l->ok;
}

uint64_t cgotest_loop_jn_call(const jn_method* method, const uint8_t* data, uint64_t len,
                              uint64_t iterations, int new_thread) {
  loop l = {method, data, len, iterations, 0};
  return method == NULL ? 0 : run(&l, new_thread);
}

uint64_t cgotest_loop_raw(const uint8_t* data, uint64_t len, uint64_t iterations, int new_thread) {
  loop l = {NULL, data, len, iterations, 0};
  return run(&l, new_thread);
}

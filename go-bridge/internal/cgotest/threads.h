/* Calls from threads Go did not create, for the Go bridge's tests. */
#ifndef JUNCTION_GO_CGOTEST_THREADS_H
#define JUNCTION_GO_CGOTEST_THREADS_H

#include <junction.h>
#include <stdint.h>

/* Starts threads pthreads, each calling method calls times with request
 * (borrowed until return; all threads are joined first). Returns how many
 * calls answered OK with a response equal to expected. */
uint64_t cgotest_call_from_threads(const jn_method* method, const uint8_t* request,
                                   uint64_t request_len, const uint8_t* expected,
                                   uint64_t expected_len, uint32_t threads, uint32_t calls);

/* One asynchronous call (the handler runs on a host worker thread), waited
 * for. Returns its code; *matches is 1 when the response equals expected. */
int32_t cgotest_call_async_wait(const jn_method* method, const uint8_t* request,
                                uint64_t request_len, const uint8_t* expected,
                                uint64_t expected_len, int32_t* matches);

#endif

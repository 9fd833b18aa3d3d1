/* C loops for the Go bridge's benchmarks: each runs iterations calls in C so
 * the figure is the cost of one call, not of a cgo crossing per call. */
#ifndef JUNCTION_GO_CGOTEST_LOOPS_H
#define JUNCTION_GO_CGOTEST_LOOPS_H

#include <junction.h>
#include <junction_echo.h>
#include <stdint.h>

/* The Rust module's typed export, as cbindgen declares it. */
typedef __typeof__(junction_echo_length) typed_length_fn;

/* junction_echo_length from the already loaded module at path (NULL when
 * it is not loaded or lacks the symbol). */
typed_length_fn* cgotest_find_typed_length(const char* path);

/* One call of the typed export: the floor a Go -> Rust call is measured
 * against. */
uint64_t cgotest_typed_length(typed_length_fn* fn, const uint8_t* data, uint64_t len);

/* iterations calls of method (a Go handler) with jn_call_into and 64 bytes
 * of room lent, from this thread, or, with new_thread set, from a thread
 * that C starts and joins. Returns the number answered OK. */
uint64_t cgotest_loop_jn_call(const jn_method* method, const uint8_t* data, uint64_t len,
                              uint64_t iterations, int new_thread);

/* iterations calls of the raw cgo export cgotestRawLength, likewise. */
uint64_t cgotest_loop_raw(const uint8_t* data, uint64_t len, uint64_t iterations, int new_thread);

#endif

/* The scheduler slices threads report (sched_getattr's sched_runtime; 0 on
 * kernels before Linux 6.12), for the Go bridge's tests of the slice a
 * host's threads ask for. */
#ifndef JUNCTION_GO_CGOTEST_SLICES_H
#define JUNCTION_GO_CGOTEST_SLICES_H

#include <stdint.h>

/* The calling thread's slice; UINT64_MAX if it cannot be read. */
uint64_t cgotest_own_slice(void);

/* How many of this process's threads are named name and report slice_ns. */
uint32_t cgotest_count_threads(const char* name, uint64_t slice_ns);

#endif

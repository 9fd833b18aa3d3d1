/* A C service whose asynchronous handler answers later from one C thread:
 * calls that wait without anyone blocking a thread per call. */
#ifndef JUNCTION_GO_CGOTEST_DELAYED_H
#define JUNCTION_GO_CGOTEST_DELAYED_H

#include <junction.h>
#include <stdint.h>

/* Registers service name on host with one asynchronous method, "echo",
 * which answers each request with itself delay_ms after it arrived, all from
 * one thread the service owns (stopped by the service's destroy). */
int32_t cgotest_register_delayed_echo(jn_host* host, const char* name, uint32_t delay_ms);

#endif

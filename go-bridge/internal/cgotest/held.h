/* A C service whose asynchronous handler holds every call until the test
 * releases them, then answers from one C thread: calls that wait without
 * anyone blocking a thread per call, for as long as the test needs. */
#ifndef JUNCTION_GO_CGOTEST_HELD_H
#define JUNCTION_GO_CGOTEST_HELD_H

#include <junction.h>
#include <stdint.h>

typedef struct cgotest_held_echo cgotest_held_echo;

/* Registers service name on host with one asynchronous method, "echo",
 * which answers each request with itself once released, from one thread the
 * service owns. On JN_OK *out is the service, valid until host is freed
 * (freeing the host answers the calls still held, then stops the thread). */
int32_t cgotest_register_held_echo(jn_host* host, const char* name, cgotest_held_echo** out);

/* How many calls the service holds now. */
uint32_t cgotest_held_calls(cgotest_held_echo* service);

/* Answers the calls held now, and from then on every call as it comes. */
void cgotest_release_held(cgotest_held_echo* service);

#endif

/* A C service that answers OK with a message, which the ABI allows: the
 * callers must release the message as they do a failure's. */
#ifndef JUNCTION_GO_CGOTEST_NOTED_H
#define JUNCTION_GO_CGOTEST_NOTED_H

#include <junction.h>

/* Registers service name on host with one method, "echo", which answers
 * each request with itself, status JN_OK and the message "noted". */
int32_t cgotest_register_noted_echo(jn_host* host, const char* name);

#endif

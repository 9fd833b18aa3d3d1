package module

/*
#include <signal.h>
#include <stddef.h>

static int host_ignored_sigpipe;

// Reads the host's SIGPIPE disposition before the Go runtime replaces it.
// Priority 101, the first a program may use, puts this constructor in
// .init_array.00101, which runs before the unprioritised .init_array entry
// that starts a c-shared library's Go runtime (unprioritised, the link
// order would put this one after it): that entry installs the runtime's
// SIGPIPE handler there and then (runtime.libpreinit), whatever the host
// had chosen, and does not record that SIGPIPE was ignored.
__attribute__((constructor(101))) static void read_host_sigpipe(void) {
	struct sigaction action;
	host_ignored_sigpipe = sigaction(SIGPIPE, NULL, &action) == 0 && action.sa_handler == SIG_IGN;
}

static int host_ignores_sigpipe(void) { return host_ignored_sigpipe; }
*/
import "C"

import (
	"os/signal"
	"syscall"
)

// A host that ignores SIGPIPE has Go code's writes to a closed standard
// output or error fail with EPIPE, as its own do, rather than the runtime
// end the process with SIGPIPE. A host with the default disposition keeps
// Go's behaviour: a library does not change a disposition its host did not
// choose.
func init() {
	if C.host_ignores_sigpipe() != 0 {
		signal.Ignore(syscall.SIGPIPE)
	}
}

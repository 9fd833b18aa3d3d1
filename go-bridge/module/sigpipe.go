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
	"os"
	"os/signal"
	"syscall"
)

// A host that ignores SIGPIPE has Go code's writes to a closed standard
// output or error fail with EPIPE, as its own do, rather than the runtime
// end the process with SIGPIPE. A host with the default disposition keeps
// Go's behaviour: a library does not change a disposition its host did not
// choose.
//
// Asking for SIGPIPE is what makes the runtime fail those writes; the
// signals themselves are not wanted (nothing reads the channel, and a full
// one drops them). Ignoring SIGPIPE would do the same, but a process the
// bundle starts (os/exec) would inherit the ignored disposition, which
// survives exec and breaks programs that stop on a closed pipe. Asked for,
// SIGPIPE keeps the runtime's handler: the runtime gives the processes it
// starts the default disposition, and passes a SIGPIPE raised on one of the
// host's own threads to the host's disposition, ignored.
func init() {
	if C.host_ignores_sigpipe() != 0 {
		signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	}
}

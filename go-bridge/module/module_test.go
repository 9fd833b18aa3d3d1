package module

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"junction"
)

// A failed init fails the load with its code and message; a code that
// cannot fail a call (OK, or out of range) fails it INTERNAL with the
// message kept, as a Go handler's does, and the inits after it never run.
func TestAFailedInitFailsTheLoad(t *testing.T) {
	host, err := junction.NewHost()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	cases := []struct {
		err     error
		code    junction.Code
		message string
	}{
		{junction.Errorf(junction.AlreadyExists, "taken"), junction.AlreadyExists, "junction: ALREADY_EXISTS: taken"},
		{errors.New("plain"), junction.Unknown, "plain"},
		{&junction.Error{Code: junction.OK, Message: "odd"}, junction.Internal,
			"module init failed with invalid code 0: junction: OK: odd"},
		{&junction.Error{Code: 99, Message: "odd"}, junction.Internal,
			"module init failed with invalid code 99: junction: INVALID_CODE(99): odd"},
	}
	for _, c := range cases {
		later := false
		mu.Lock()
		inits = []func(*junction.Host) error{
			func(*junction.Host) error { return c.err },
			func(*junction.Host) error { later = true; return nil },
		}
		mu.Unlock()
		code, message := runInits(host)
		if code != c.code || message != c.message {
			t.Errorf("init failing with %v: %v %q, want %v %q", c.err, code, message, c.code, c.message)
		}
		if later {
			t.Errorf("init failing with %v: a later init ran", c.err)
		}
	}
	mu.Lock()
	inits = nil
	mu.Unlock()
	if code, message := runInits(host); code != junction.OK || message != "" {
		t.Fatalf("no inits: %v %q", code, message)
	}
}

// Set in the environment of a child TestAWriteToAClosedStderrKeepsTheHostsSIGPIPE
// starts: the child writes to its standard error and exits 0 if the write
// failed with EPIPE.
const writeStderrChild = "JUNCTION_MODULE_TEST_WRITE_STDERR"

// Go's writes to a closed standard error fail with EPIPE in a process
// started with SIGPIPE ignored, as a bundle's do in a host that ignores it,
// and end a process started with the default disposition with SIGPIPE, as
// Go's do: this package keeps the disposition the process had.
func TestAWriteToAClosedStderrKeepsTheHostsSIGPIPE(t *testing.T) {
	if os.Getenv(writeStderrChild) != "" {
		if _, err := os.Stderr.Write([]byte("nobody reads this\n")); errors.Is(err, syscall.EPIPE) {
			os.Exit(0)
		}
		os.Exit(1)
	}
	for _, ignored := range []bool{true, false} {
		if !ignored && signal.Ignored(syscall.SIGPIPE) {
			// A shell cannot give back the default disposition of a
			// signal ignored when it started.
			t.Log("started with SIGPIPE ignored: the default disposition is not tested")
			continue
		}
		child := rerun("TestAWriteToAClosedStderrKeepsTheHostsSIGPIPE", writeStderrChild, ignored)
		read, write, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		read.Close()
		child.Stderr = write
		err = child.Run()
		write.Close()
		var exit *exec.ExitError
		killed := errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGPIPE
		if ignored && err != nil {
			t.Errorf("started with SIGPIPE ignored: %v, want the write to fail with EPIPE", err)
		}
		if !ignored && !killed {
			t.Errorf("started with SIGPIPE at its default: %v, want the process ended by SIGPIPE", err)
		}
	}
}

// Set in the environment of a child TestAProcessABundleStartsHasSIGPIPEAtItsDefault
// starts: the child starts cat on /proc/self/status and exits 0 if cat had
// SIGPIPE at its default disposition, 1 if ignored, 2 if it could not tell.
const startProcessChild = "JUNCTION_MODULE_TEST_START_PROCESS"

// A process started from a host that ignores SIGPIPE, as junction-host
// does, has this package ask for SIGPIPE rather than ignore it: the
// processes it starts in turn get the default disposition (an ignored one
// survives exec), as programs that stop on a closed pipe expect.
func TestAProcessABundleStartsHasSIGPIPEAtItsDefault(t *testing.T) {
	if os.Getenv(startProcessChild) != "" {
		os.Exit(sigpipeInAStartedProcess())
	}
	child := rerun("TestAProcessABundleStartsHasSIGPIPEAtItsDefault", startProcessChild, true)
	output, err := child.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		t.Errorf("the process the child started ignored SIGPIPE, want its default disposition")
	default:
		t.Errorf("the child could not tell how the process it started handled SIGPIPE: %v\n%s", err, output)
	}
}

// rerun is this test binary running only test, through a shell that first
// ignores SIGPIPE when ignoreSIGPIPE is set, with childEnv set to 1 in its
// environment (which makes test act as the child).
func rerun(test, childEnv string, ignoreSIGPIPE bool) *exec.Cmd {
	trap := ""
	if ignoreSIGPIPE {
		trap = `trap "" PIPE; `
	}
	child := exec.Command("/bin/sh", "-c", trap+`exec "$0" -test.run="^$1\$"`, os.Args[0], test)
	child.Env = append(os.Environ(), childEnv+"=1")
	return child
}

// sigpipeInAStartedProcess starts cat on /proc/self/status and returns 0 if
// cat had SIGPIPE at its default, 1 if it ignored it, 2 if its status could
// not be read.
func sigpipeInAStartedProcess() int {
	status, err := exec.Command("cat", "/proc/self/status").Output()
	if err != nil {
		return 2
	}
	for _, line := range strings.Split(string(status), "\n") {
		if hex, found := strings.CutPrefix(line, "SigIgn:"); found {
			ignored, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				return 2
			}
			if ignored&(1<<(uint(syscall.SIGPIPE)-1)) != 0 {
				return 1
			}
			return 0
		}
	}
	return 2
}

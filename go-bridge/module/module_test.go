package module

import (
	"errors"
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

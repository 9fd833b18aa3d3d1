package goecho

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"junction"
)

// sleep stops when its context ends, and answers why: DEADLINE_EXCEEDED at
// the deadline, CANCELLED when the caller gave up.
func TestSleepAnswersWhyItStopped(t *testing.T) {
	long := binary.LittleEndian.AppendUint64(nil, 10_000)
	deadline, cancelDeadline := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancelDeadline()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		ctx     context.Context
		code    junction.Code
		message string
	}{
		{deadline, junction.DeadlineExceeded, "sleep stopped early: context deadline exceeded"},
		{cancelled, junction.Canceled, "sleep stopped early: context canceled"},
	} {
		_, err := sleep(c.ctx, long)
		if junction.CodeOf(err) != c.code || err.Error() != c.message {
			t.Errorf("got %v (%v), want %v %q", err, junction.CodeOf(err), c.code, c.message)
		}
	}
}

// Command junction-go-stderr is a test fixture: a Go c-shared module for the
// daemon tests of what a Go bundle inherits from junction-host's signal
// dispositions. go.stderr/write writes its request to standard error (a log
// reader that has gone away); go.stderr/status starts cat on
// /proc/self/status and answers what it printed (the signal dispositions a
// process the bundle starts has).
package main

import (
	"context"
	"os"
	"os/exec"

	"junction"
	"junction/module"
)

func init() {
	module.Register(func(host *junction.Host) error {
		return host.Register(junction.NewService("go.stderr").Method("write",
			// Answers what the write returned: nothing, or its error's text.
			func(_ context.Context, req []byte) ([]byte, error) {
				if _, err := os.Stderr.Write(req); err != nil {
					return []byte(err.Error()), nil
				}
				return nil, nil
			}).
			Method("status", func(ctx context.Context, _ []byte) ([]byte, error) {
				return exec.CommandContext(ctx, "cat", "/proc/self/status").Output()
			}))
	})
}

func main() {}

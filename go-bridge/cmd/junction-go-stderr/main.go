// Command junction-go-stderr is a test fixture: a Go c-shared module whose
// go.stderr/write writes its request to standard error, for the daemon test
// of a Go bundle writing to a log reader that has gone away.
package main

import (
	"context"
	"os"

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
			}))
	})
}

func main() {}

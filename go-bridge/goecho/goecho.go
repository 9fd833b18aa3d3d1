// Package goecho is the go.echo service: the Go counterpart of the Rust
// module's rust.echo, used by junction's cross-language tests, examples and
// benchmarks.
//
//	method    request                              response
//	echo      any bytes                            the same bytes
//	length    any bytes                            the request length, 8 bytes little-endian (reads no byte)
//	checksum  any bytes                            FNV-1a 64 of every byte, 8 bytes little-endian
//	panic     any bytes                            none: the handler panics, the caller gets INTERNAL
//	sleep     a delay in ms, 8 bytes little-endian the request, after the delay (DEADLINE_EXCEEDED if the deadline comes first, CANCELLED if the caller gives up first)
//	relay     "service/method\n" then a payload    the response of that method on the same host, called with the payload and the caller's deadline
package goecho

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"junction"
)

// Name is the service's name.
const Name = "go.echo"

// Checksum is FNV-1a 64 over every byte of b.
func Checksum(b []byte) uint64 {
	hash := uint64(0xcbf29ce484222325)
	for _, c := range b {
		hash ^= uint64(c)
		hash *= 0x100000001b3
	}
	return hash
}

// Service is go.echo on host: relay calls go to host. echo, length and
// checksum append their responses (junction.AppendHandlerFunc), so a small
// response reaches a caller that lends room without a Go allocation.
func Service(host *junction.Host) *junction.Service {
	return junction.NewService(Name).
		AppendMethod("echo", func(_ context.Context, req, resp []byte) ([]byte, error) {
			return append(resp, req...), nil
		}).
		AppendMethod("length", func(_ context.Context, req, resp []byte) ([]byte, error) {
			return binary.LittleEndian.AppendUint64(resp, uint64(len(req))), nil
		}).
		AppendMethod("checksum", func(_ context.Context, req, resp []byte) ([]byte, error) {
			return binary.LittleEndian.AppendUint64(resp, Checksum(req)), nil
		}).
		Method("panic", func(_ context.Context, req []byte) ([]byte, error) {
			panic(fmt.Sprintf("go.echo/panic called with %d bytes", len(req)))
		}).
		Method("sleep", sleep).
		Method("relay", func(ctx context.Context, req []byte) ([]byte, error) {
			return Relay(ctx, host, req)
		})
}

func sleep(ctx context.Context, req []byte) ([]byte, error) {
	if len(req) != 8 {
		return nil, junction.Errorf(junction.InvalidArgument,
			"sleep wants an 8-byte little-endian delay in milliseconds, got %d bytes", len(req))
	}
	timer := time.NewTimer(time.Duration(binary.LittleEndian.Uint64(req)) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		return req, nil
	case <-ctx.Done():
		// The context's error, wrapped, gives the code (junction.CodeOf):
		// DEADLINE_EXCEEDED at the deadline, CANCELLED once the caller gave up.
		return nil, fmt.Errorf("sleep stopped early: %w", ctx.Err())
	}
}

// Relay calls the method named by req's first line ("service/method") on
// host with the rest of req, and answers its response or its error.
func Relay(ctx context.Context, host *junction.Host, req []byte) ([]byte, error) {
	target, payload, found := bytes.Cut(req, []byte("\n"))
	service, method, slash := bytes.Cut(target, []byte("/"))
	if !found || !slash {
		return nil, junction.Errorf(junction.InvalidArgument, `relay wants "service/method\n" then the payload`)
	}
	m, err := host.Method(string(service), string(method))
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return m.Call(ctx, payload)
}

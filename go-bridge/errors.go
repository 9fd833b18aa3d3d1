package junction

import (
	"context"
	"errors"
	"fmt"
)

// Code is a junction status code. The numbers are gRPC's, so a code maps to
// gRPC unchanged and to HTTP through one table (abi/ABI.md).
type Code int32

// The status codes of abi/junction.h.
const (
	OK                 Code = 0
	Canceled           Code = 1
	Unknown            Code = 2
	InvalidArgument    Code = 3
	DeadlineExceeded   Code = 4
	NotFound           Code = 5
	AlreadyExists      Code = 6
	PermissionDenied   Code = 7
	ResourceExhausted  Code = 8
	FailedPrecondition Code = 9
	Aborted            Code = 10
	OutOfRange         Code = 11
	Unimplemented      Code = 12
	Internal           Code = 13
	Unavailable        Code = 14
	DataLoss           Code = 15
	Unauthenticated    Code = 16
)

var codeNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// String is the code's canonical name ("NOT_FOUND"), the same as the C
// library's jn_status_name.
func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("INVALID_CODE(%d)", int32(c))
}

// Error is a failed call or operation: a code and a message. Every error
// this package returns for a failed call is an *Error.
//
// errors.Is matches an *Error against the sentinels below by code alone
// (errors.Is(err, junction.ErrNotFound)), and DEADLINE_EXCEEDED and
// CANCELLED also match context.DeadlineExceeded and context.Canceled.
//
// A nil *Error held in an error (var e *Error; return e) is a non-nil
// error without a code: a bug of whoever returned it. It stands for
// INTERNAL (CodeOf), says what it is (Error), and matches no sentinel.
type Error struct {
	Code    Code
	Message string
}

// Sentinels for errors.Is, one for each code but OK: each matches any
// *Error with its code.
var (
	ErrCanceled           = &Error{Code: Canceled}
	ErrUnknown            = &Error{Code: Unknown}
	ErrInvalidArgument    = &Error{Code: InvalidArgument}
	ErrDeadlineExceeded   = &Error{Code: DeadlineExceeded}
	ErrNotFound           = &Error{Code: NotFound}
	ErrAlreadyExists      = &Error{Code: AlreadyExists}
	ErrPermissionDenied   = &Error{Code: PermissionDenied}
	ErrResourceExhausted  = &Error{Code: ResourceExhausted}
	ErrFailedPrecondition = &Error{Code: FailedPrecondition}
	ErrAborted            = &Error{Code: Aborted}
	ErrOutOfRange         = &Error{Code: OutOfRange}
	ErrUnimplemented      = &Error{Code: Unimplemented}
	ErrInternal           = &Error{Code: Internal}
	ErrUnavailable        = &Error{Code: Unavailable}
	ErrDataLoss           = &Error{Code: DataLoss}
	ErrUnauthenticated    = &Error{Code: Unauthenticated}
)

// Errorf makes an *Error with code and a formatted message; a handler
// returns one to fail its call with that code.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e == nil {
		return "junction: nil *junction.Error"
	}
	if e.Message == "" {
		return "junction: " + e.Code.String()
	}
	return "junction: " + e.Code.String() + ": " + e.Message
}

// Is reports whether target is a sentinel *Error (no message) with the same
// code, or the context error that corresponds to the code.
func (e *Error) Is(target error) bool {
	if e == nil {
		return false // errors.Is has matched a target that is this very nil *Error
	}
	switch target {
	case context.DeadlineExceeded:
		return e.Code == DeadlineExceeded
	case context.Canceled:
		return e.Code == Canceled
	}
	t, ok := target.(*Error)
	return ok && t != nil && t.Message == "" && t.Code == e.Code
}

// CodeOf is the code an error stands for: OK for nil, the code of an *Error
// in its chain (INTERNAL for a nil *Error), DEADLINE_EXCEEDED and CANCELLED
// for the context errors, and UNKNOWN for anything else. It is how a Go
// handler's error becomes the status its caller sees.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var status *Error
	switch {
	case errors.As(err, &status):
		if status == nil {
			return Internal
		}
		return status.Code
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return Canceled
	}
	return Unknown
}

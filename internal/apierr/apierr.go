// Package apierr classifies errors by what the caller did wrong, so the API can answer
// with Docker's status codes without every layer knowing HTTP.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind says what sort of failure an error is.
type Kind int

const (
	KindUnknown        Kind = iota
	KindInvalid             // the request is malformed or a value is out of range (400)
	KindNotFound            // the object does not exist (404)
	KindConflict            // the object exists, or its version is stale (409)
	KindForbidden           // the action is not allowed in this state (403)
	KindUnavailable         // the cluster cannot answer now: no leader, no quorum, not a manager (503)
	KindNotImplemented      // the feature is not built yet (501)
)

// Error is an error with a Kind. Its message is what the user sees.
type Error struct {
	Kind Kind
	Msg  string
	Err  error // optional cause
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func newf(k Kind, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: k, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// Invalidf reports bad input (400).
func Invalidf(format string, args ...any) error { return newf(KindInvalid, format, args...) }

// NotFoundf reports a missing object (404).
func NotFoundf(format string, args ...any) error { return newf(KindNotFound, format, args...) }

// Conflictf reports a duplicate or a stale version (409).
func Conflictf(format string, args ...any) error { return newf(KindConflict, format, args...) }

// Forbiddenf reports an action refused in the current state (403).
func Forbiddenf(format string, args ...any) error { return newf(KindForbidden, format, args...) }

// Unavailablef reports that the cluster cannot serve the request now (503).
func Unavailablef(format string, args ...any) error { return newf(KindUnavailable, format, args...) }

// NotImplementedf reports a feature that is not built yet (501).
func NotImplementedf(format string, args ...any) error {
	return newf(KindNotImplemented, format, args...)
}

// KindOf finds the Kind of the first *Error in err's chain, or KindUnknown.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// HTTPStatus maps an error to the status code the Docker API uses for it.
func HTTPStatus(err error) int {
	switch KindOf(err) {
	case KindInvalid:
		return http.StatusBadRequest
	case KindNotFound:
		return http.StatusNotFound
	case KindConflict:
		return http.StatusConflict
	case KindForbidden:
		return http.StatusForbidden
	case KindUnavailable:
		return http.StatusServiceUnavailable
	case KindNotImplemented:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

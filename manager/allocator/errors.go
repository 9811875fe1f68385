package allocator

import (
	"errors"
	"fmt"
)

// The kinds of failure, for errors.Is, so that the API can choose a status code without
// reading messages. Every error the allocator returns wraps exactly one of them.
var (
	// ErrInvalid: the request itself is wrong (a malformed subnet, a gateway outside it,
	// an unknown protocol). The API answers 400.
	ErrInvalid = errors.New("invalid request")
	// ErrConflict: the request is well formed but collides with what someone else holds
	// (an overlapping subnet, an address or port in use). The API answers 409.
	ErrConflict = errors.New("conflict")
	// ErrExhausted: nothing free is left (the address pool, a network's subnet, the
	// automatic port range).
	ErrExhausted = errors.New("exhausted")
	// ErrNotFound: the network is not known to the allocator.
	ErrNotFound = errors.New("not found")
)

// kindError is a message a person can act on, classified by one of the Err kinds above.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Problem is one record of the cluster state that Rebuild could not take as it was: a
// duplicate (two holders of one address, subnet or port) or a value that cannot be right.
// For a task or service problem the address or port was not recorded for that object, and
// the leader must give it a fresh one (the other holder keeps it); for a network problem
// the network was still recorded, so its tasks keep their addresses, but its subnet needs a
// person's attention.
type Problem struct {
	Kind    string // "network", "service" or "task"
	ID      string // the ID of the object that lost
	Network string // the network ID concerned, if any
	Err     error  // what is wrong; wraps ErrInvalid, ErrConflict or ErrNotFound
}

func (p Problem) Error() string {
	return fmt.Sprintf("%s %s: %v", p.Kind, p.ID, p.Err)
}

func (p Problem) Unwrap() error { return p.Err }

package api

import (
	"context"
	"io"

	"github.com/moby/moby/api/types/container"
)

// ContainerBackend is what the container and exec endpoints need: the containers of the
// tasks this node runs, and commands executed in them. A Backend that does not implement
// it answers those endpoints with 501 "containers are not implemented yet".
//
// A container is named by its full ID, a unique prefix of it, its name
// ("web.1.<task id>", with or without the leading "/"), or its task's ID or a unique prefix
// of that; one this node does not run is "No such container: <ref>" (404).
type ContainerBackend interface {
	// ContainerList lists this node's containers; all adds those that are not running.
	ContainerList(ctx context.Context, all bool) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, ref string) (container.InspectResponse, error)

	// ExecCreate sets up a command to run in a running container and returns the new exec
	// instance's ID; 409 when the container does not run. The request has been checked for
	// syntax (a command is given, the working directory is absolute).
	ExecCreate(ctx context.Context, ref string, req container.ExecCreateRequest) (string, error)
	// ExecStart runs an exec instance. It first checks that the instance exists (404) and
	// may start (409: already started, or its container stopped), answering with an error
	// of that kind, and only then calls attach, which takes the connection over and returns
	// the streams: from then on an error can only be reported in the stream. Attached, it
	// returns once the command has ended and its output was written; detached (opts.Detach,
	// attach returns no streams) once the command runs, leaving it running. ctx does not end
	// when an attached client goes away: a write to its streams fails then.
	ExecStart(ctx context.Context, id string, opts ExecStartOptions, attach func() (ExecStreams, error)) error
	// ExecResize sets the size of a running exec's terminal.
	ExecResize(ctx context.Context, id string, height, width uint32) error
	ExecInspect(ctx context.Context, id string) (container.ExecInspectResponse, error)
}

// ExecStartOptions are the body of `POST /exec/{id}/start`.
type ExecStartOptions struct {
	Detach bool
	Tty    bool
	// ConsoleSize is the terminal's size (height, width) to start with, with Tty; nil to
	// keep the one given at create.
	ConsoleSize *[2]uint
}

// ExecStreams connect an attached exec to its client. Stdout and Stderr write Docker's
// multiplexed stream when the exec has no terminal, and Stdout the raw terminal output
// when it has; each Write is sent at once and they may be used from two goroutines. Stdin
// reads what the client sends; closing it ends a Read blocked in it (the connection itself
// closes when ExecStart returns).
type ExecStreams struct {
	Stdin  io.ReadCloser
	Stdout io.Writer
	Stderr io.Writer
}

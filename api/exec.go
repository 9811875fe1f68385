package api

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"strconv"

	"github.com/moby/moby/api/types/container"
	"github.com/shoal/shoal/internal/apierr"
)

// execCreate answers 201 with the new exec instance's ID, as Docker does.
func (c containerEndpoints) execCreate(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody(w, r, decodeExecCreateRequest)
	if err != nil {
		return err
	}
	if compareAPIVersions(APIVersion(r.Context()), "1.42") < 0 {
		req.ConsoleSize = nil // not part of older APIs
	}
	id, err := c.backend.ExecCreate(r.Context(), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: id})
}

// execStart runs an exec instance. Attached, it takes the connection over once the backend
// has agreed to start (so a refusal still gets its status): the response head follows
// Docker's (101 UPGRADED when the client asked to upgrade, else 200), then the exec's
// streams, raw with a terminal and multiplexed without; an error after that goes into the
// stream as a line, as Docker writes it, and the connection closes at the end. Detached, it
// answers 200 once the command runs.
func (c containerEndpoints) execStart(w http.ResponseWriter, r *http.Request) error {
	opts, err := decodeBody(w, r, decodeExecStartRequest)
	if err != nil {
		return err
	}
	if !opts.Tty || compareAPIVersions(APIVersion(r.Context()), "1.42") < 0 {
		opts.ConsoleSize = nil
	}
	id := r.PathValue("id")
	// The exec is not tied to the request's cancellation: net/http cancels it when the
	// client half-closes a hijacked connection (the end of its input), which must only
	// close the command's stdin.
	ctx := context.WithoutCancel(r.Context())
	if opts.Detach {
		err := c.backend.ExecStart(ctx, id, opts, func() (ExecStreams, error) { return ExecStreams{}, nil })
		if err != nil {
			return err
		}
		return writeEmpty(w)
	}
	var stream *hijackedStream
	var streams ExecStreams
	err = c.backend.ExecStart(ctx, id, opts, func() (ExecStreams, error) {
		s, err := hijack(w, r, opts.Tty)
		if err != nil {
			return ExecStreams{}, err
		}
		stream, streams = s, s.streams(opts.Tty)
		return streams, nil
	})
	if stream == nil {
		return err // refused before the connection was taken: answer with the status
	}
	defer stream.Close()
	if err != nil {
		_, _ = fmt.Fprintf(streams.Stdout, "%v\r\n", err)
	}
	return err
}

// execResize takes the size as Docker does: h and w, unsigned 32-bit numbers.
func (c containerEndpoints) execResize(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	height, err := parseTermDimension(q.Get("h"), "height")
	if err != nil {
		return err
	}
	width, err := parseTermDimension(q.Get("w"), "width")
	if err != nil {
		return err
	}
	if err := c.backend.ExecResize(r.Context(), r.PathValue("id"), height, width); err != nil {
		return err
	}
	return writeEmpty(w)
}

func (c containerEndpoints) execInspect(w http.ResponseWriter, r *http.Request) error {
	resp, err := c.backend.ExecInspect(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}

// decodeExecCreateRequest decodes `POST /containers/{id}/exec` and refuses what no
// container could run, as Docker does.
func decodeExecCreateRequest(body []byte) (container.ExecCreateRequest, error) {
	req, err := decodeJSONObject[container.ExecCreateRequest](body, "exec create request")
	if err != nil {
		return req, err
	}
	switch {
	case len(req.Cmd) == 0 || req.Cmd[0] == "":
		return req, apierr.Invalidf("No exec command specified")
	case req.WorkingDir != "" && !path.IsAbs(req.WorkingDir):
		return req, apierr.Invalidf("invalid WorkingDir %q: must be an absolute path in the container", req.WorkingDir)
	case req.Privileged:
		return req, apierr.Invalidf("privileged exec is not supported: an exec gets its container's capabilities")
	case req.ConsoleSize != nil && !req.Tty:
		return req, apierr.Invalidf("invalid ConsoleSize: a console size needs Tty")
	}
	return req, nil
}

// decodeExecStartRequest decodes `POST /exec/{id}/start`; an empty body is an attached
// start without a terminal, as some clients send it.
func decodeExecStartRequest(body []byte) (ExecStartOptions, error) {
	if len(body) == 0 {
		return ExecStartOptions{}, nil
	}
	req, err := decodeJSONObject[container.ExecStartRequest](body, "exec start request")
	return ExecStartOptions{Detach: req.Detach, Tty: req.Tty, ConsoleSize: req.ConsoleSize}, err
}

// parseTermDimension reads a terminal's height or width from a resize query.
func parseTermDimension(raw, what string) (uint32, error) {
	n, err := strconv.ParseUint(raw, 10, 32)
	if err != nil {
		return 0, apierr.Invalidf("invalid resize %s %q: must be a whole number from 0 to %d", what, raw, uint32(1<<32-1))
	}
	return uint32(n), nil
}

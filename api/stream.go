package api

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/jsonstream"
)

// errStreamClosed is what a backend gets for writing after its endpoint returned.
var errStreamClosed = errors.New("write to a response stream after its endpoint returned")

// streamWriter is the writer a streaming endpoint (logs, image import and load) hands its
// backend. Each Write is flushed to the client at once; the response header, with
// contentType, goes out with the first Write or Flush, so an error the backend returns
// before writing anything still gets its own status. Writes may come from several
// goroutines; each is sent whole.
type streamWriter struct {
	contentType string

	mu      sync.Mutex // guards every field below, and w
	w       http.ResponseWriter
	started bool // the header was sent
	closed  bool // the endpoint returned: w is no longer ours
}

func (sw *streamWriter) Write(p []byte) (int, error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.closed {
		return 0, errStreamClosed
	}
	sw.startLocked()
	n, err := sw.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, sw.flushLocked()
}

// Flush sends the header if it was not yet sent, and anything buffered. A following
// backend with nothing to say yet calls it to let the client know the stream is open.
func (sw *streamWriter) Flush() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.closed {
		return
	}
	sw.startLocked()
	_ = sw.flushLocked()
}

func (sw *streamWriter) startLocked() {
	if sw.started {
		return
	}
	sw.started = true
	sw.w.Header().Set("Content-Type", sw.contentType)
	sw.w.WriteHeader(http.StatusOK)
}

func (sw *streamWriter) flushLocked() error {
	if err := http.NewResponseController(sw.w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// close takes w back from the backend and reports whether the response had started.
func (sw *streamWriter) close() (started bool) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.closed = true
	return sw.started
}

// stream runs produce with a streamWriter over w and settles how it ended. A stream that
// ended cleanly has been sent whole (an empty one gets its header now). An error before
// the response started is returned for the endpoint to answer with its status; one after
// is written into the stream by inBandError, since the status is gone, and returned for
// the log. Nothing is sent when the client went away: there is no one to read it.
func stream(w http.ResponseWriter, r *http.Request, contentType string, inBandError func(io.Writer, error), produce func(io.Writer) error) error {
	sw := &streamWriter{w: w, contentType: contentType}
	err := produce(sw)
	started := sw.close()
	switch {
	case r.Context().Err() != nil:
		return nil
	case err == nil:
		if !started {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(http.StatusOK)
		}
		return nil
	case !started:
		return err
	}
	inBandError(w, err)
	_ = http.NewResponseController(w).Flush()
	return err
}

// writeStdcopyFrame writes one frame of Docker's multiplexed stream: a header with the
// stream and the payload's length, then the payload.
func writeStdcopyFrame(w io.Writer, stream stdcopy.StdType, payload []byte) error {
	frame := make([]byte, 8, 8+len(payload))
	frame[0] = byte(stream)
	binary.BigEndian.PutUint32(frame[4:], uint32(len(payload)))
	_, err := w.Write(append(frame, payload...))
	return err
}

// writeStdcopyError ends a logs stream with a system-error frame, which the moby client's
// stdcopy.StdCopy returns as "error from daemon in stream: ...".
func writeStdcopyError(w io.Writer, err error) {
	_ = writeStdcopyFrame(w, stdcopy.Systemerr, []byte(err.Error()))
}

// jsonStreamError is the last message of a jsonmessage stream that failed, in the form the
// Docker daemon sends: errorDetail for current clients, error for older ones.
type jsonStreamError struct {
	Detail  jsonstream.Error `json:"errorDetail"`
	Message string           `json:"error"`
}

func writeJSONStreamError(w io.Writer, err error) {
	msg := err.Error()
	_ = json.NewEncoder(w).Encode(jsonStreamError{Detail: jsonstream.Error{Message: msg}, Message: msg})
}

// enableFullDuplex lets an endpoint keep reading the request body after it has started
// the response, as image import and load do to report progress while the archive is
// still arriving. Without it net/http may close the body at the first flush.
func enableFullDuplex(w http.ResponseWriter) {
	_ = http.NewResponseController(w).EnableFullDuplex()
}

package api

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
)

// Media types of a hijacked stream, as the Docker daemon names them.
const (
	mediaTypeRawStream         = "application/vnd.docker.raw-stream"
	mediaTypeMultiplexedStream = "application/vnd.docker.multiplexed-stream"
)

// streamResponseHead is the response head of a hijacked stream, as the Docker daemon writes
// it: "101 UPGRADED" when the client asked to upgrade (Upgrade header), with the multiplexed
// media type for an exec without a terminal from API 1.42 on; otherwise "200 OK" with the raw
// media type (the content is multiplexed all the same without a terminal). header holds the
// headers every response carries.
func streamResponseHead(upgrade, tty bool, apiVersion string, header http.Header) []byte {
	var b bytes.Buffer
	if upgrade {
		contentType := mediaTypeRawStream
		if !tty && compareAPIVersions(apiVersion, "1.42") >= 0 {
			contentType = mediaTypeMultiplexedStream
		}
		fmt.Fprintf(&b, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n", contentType)
	} else {
		fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n", mediaTypeRawStream)
	}
	_ = header.WriteSubset(&b, map[string]bool{"Content-Type": true, "Content-Length": true, "Connection": true, "Upgrade": true})
	b.WriteString("\r\n")
	return b.Bytes()
}

// hijackedStream is a connection taken over from net/http for an exec's streams.
type hijackedStream struct {
	conn net.Conn
	in   io.Reader // what the client sent after the request, then the connection

	mu sync.Mutex // one Write at a time on conn, so frames from two streams never interleave
}

// hijack takes r's connection over and sends the stream's response head.
func hijack(w http.ResponseWriter, r *http.Request, tty bool) (*hijackedStream, error) {
	_, upgrade := r.Header["Upgrade"]
	head := streamResponseHead(upgrade, tty, APIVersion(r.Context()), w.Header())
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("take over the connection for the exec's streams: %w", err)
	}
	// No deadline the server set for the request may cut a long exec short.
	_ = conn.SetDeadline(time.Time{})
	if _, err := conn.Write(head); err != nil {
		conn.Close()
		return nil, err
	}
	// What the client sent after the request is buffered; the rest is read from the
	// connection itself, not through net/http's reader, which would cancel the request's
	// context at the client's end of input.
	buffered, _ := rw.Reader.Peek(rw.Reader.Buffered())
	in := io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), conn)
	return &hijackedStream{conn: conn, in: in}, nil
}

// streams are the exec's streams over the connection: framed with the stdcopy header unless
// tty.
func (h *hijackedStream) streams(tty bool) ExecStreams {
	s := ExecStreams{Stdin: hijackedStdin{h}}
	if tty {
		s.Stdout = lockedWriter{h}
		return s
	}
	s.Stdout = frameWriter{h, stdcopy.Stdout}
	s.Stderr = frameWriter{h, stdcopy.Stderr}
	return s
}

func (h *hijackedStream) write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conn.Write(p)
}

// Close ends the stream. A client that half-closed (done sending) reads the end of it.
func (h *hijackedStream) Close() error { return h.conn.Close() }

// hijackedStdin reads what the client sends; Close ends a Read blocked in it, leaving the
// connection open for the output still to come.
type hijackedStdin struct{ h *hijackedStream }

func (s hijackedStdin) Read(p []byte) (int, error) { return s.h.in.Read(p) }
func (s hijackedStdin) Close() error               { return s.h.conn.SetReadDeadline(time.Unix(1, 0)) }

// frameWriter writes each Write as one frame of Docker's multiplexed stream.
type frameWriter struct {
	h      *hijackedStream
	stream stdcopy.StdType
}

func (w frameWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := writeStdcopyFrame(lockedWriter{w.h}, w.stream, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// lockedWriter is the connection as an io.Writer, one Write at a time: a terminal's raw
// output, or the frames of a frameWriter.
type lockedWriter struct{ h *hijackedStream }

func (l lockedWriter) Write(p []byte) (int, error) { return l.h.write(p) }

var _ io.ReadCloser = hijackedStdin{}

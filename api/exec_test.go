package api

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

func TestExecOverMobyClient(t *testing.T) {
	fake := newFakeBackend()
	c, paths := newMobyClient(t, fake)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	created, err := c.ExecCreate(ctx, "web.1.t1", client.ExecCreateOptions{Cmd: []string{"cat"}, AttachStdin: true, AttachStdout: true, AttachStderr: true})
	if err != nil || created.ID != "echo" {
		t.Fatalf("ExecCreate = %+v, %v", created, err)
	}

	// Without a terminal: stdout and stderr multiplexed, stdin delivered until the client
	// half-closes.
	att, err := c.ExecAttach(ctx, "echo", client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := att.MediaType(); mt != mediaTypeMultiplexedStream {
		t.Errorf("media type %q, want %q", mt, mediaTypeMultiplexedStream)
	}
	io.WriteString(att.Conn, "hello")
	if err := att.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader); err != nil {
		t.Fatal(err)
	}
	att.Close()
	if stdout.String() != "out\nin:hello" || stderr.String() != "err\n" {
		t.Errorf("stdout %q stderr %q; want %q and %q", stdout.String(), stderr.String(), "out\nin:hello", "err\n")
	}

	// With a terminal: one raw stream.
	att, err = c.ExecAttach(ctx, "echo", client.ExecAttachOptions{TTY: true, ConsoleSize: client.ConsoleSize{Height: 24, Width: 80}})
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := att.MediaType(); mt != mediaTypeRawStream {
		t.Errorf("tty media type %q, want %q", mt, mediaTypeRawStream)
	}
	io.WriteString(att.Conn, "typed")
	att.CloseWrite()
	raw, _ := io.ReadAll(att.Reader)
	att.Close()
	if string(raw) != "out\nerr\nin:typed" {
		t.Errorf("tty stream %q, want %q", raw, "out\nerr\nin:typed")
	}
	starts := fake.callsTo("ExecStart")
	if opts := starts[len(starts)-1][1].(ExecStartOptions); !opts.Tty || opts.ConsoleSize == nil || *opts.ConsoleSize != [2]uint{24, 80} {
		t.Errorf("start options reached the backend as %+v", opts)
	}

	// An error once attached comes in the stream, as a line on stdout.
	att, err = c.ExecAttach(ctx, "fail", client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stdcopy.StdCopy(&stdout, io.Discard, att.Reader)
	att.Close()
	if stdout.String() != "exec failed: boom\r\n" {
		t.Errorf("in-stream error %q", stdout.String())
	}

	// A refusal before attaching is an ordinary error response.
	if _, err := c.ExecAttach(ctx, "done", client.ExecAttachOptions{}); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("attach to a finished exec = %v; want the 409 refusal", err)
	}
	if _, err := c.ExecAttach(ctx, "ghost", client.ExecAttachOptions{}); err == nil {
		t.Error("attach to an unknown exec succeeded")
	}

	if _, err := c.ExecResize(ctx, "echo", client.ExecResizeOptions{Height: 40, Width: 120}); err != nil {
		t.Errorf("ExecResize: %v", err)
	}
	if got := fake.callsTo("ExecResize"); len(got) != 1 || got[0][1] != uint32(40) || got[0][2] != uint32(120) {
		t.Errorf("resize reached the backend as %v", got)
	}
	insp, err := c.ExecInspect(ctx, "echo", client.ExecInspectOptions{})
	if err != nil || insp.ContainerID != fakeRunningID {
		t.Errorf("ExecInspect = %+v, %v", insp, err)
	}
	if _, err := c.ExecCreate(ctx, "ghost", client.ExecCreateOptions{Cmd: []string{"ls"}}); !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such container: ghost") {
		t.Errorf("ExecCreate(ghost) = %v; want not found, No such container: ghost", err)
	}
	insp2, err := c.ContainerInspect(ctx, "web.1.t1", client.ContainerInspectOptions{})
	if err != nil || insp2.Container.ID != fakeRunningID {
		t.Errorf("ContainerInspect = %+v, %v", insp2, err)
	}
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil || len(list.Items) != 2 {
		t.Errorf("ContainerList = %+v, %v", list, err)
	}
	checkNegotiatedPrefix(t, paths())
}

// TestExecStartResponseHead drives exec start over a plain connection, as clients other than
// moby's may: without an Upgrade header the answer is 200 with the raw media type (still
// multiplexed without a terminal), and an old API version gets the raw type on an upgrade.
func TestExecStartResponseHead(t *testing.T) {
	srv := httptest.NewServer(NewHandler(newFakeBackend(), Options{}))
	defer srv.Close()
	tests := []struct {
		name, path, body string
		upgrade          bool
		wantStatus       string
		wantType         string
		wantBody         string
	}{
		{"no upgrade, no tty", "/exec/echo/start", `{}`, false, "200 OK", mediaTypeRawStream, "\x01\x00\x00\x00\x00\x00\x00\x04out\n\x02\x00\x00\x00\x00\x00\x00\x04err\n\x01\x00\x00\x00\x00\x00\x00\x03in:"},
		{"no upgrade, tty", "/exec/echo/start", `{"Tty":true}`, false, "200 OK", mediaTypeRawStream, "out\nerr\nin:"},
		{"upgrade, tty", "/v1.51/exec/echo/start", `{"Tty":true}`, true, "101 UPGRADED", mediaTypeRawStream, "out\nerr\nin:"},
		{"upgrade, old API", "/v1.41/exec/echo/start", `{}`, true, "101 UPGRADED", mediaTypeRawStream, "\x01\x00\x00\x00\x00\x00\x00\x04out\n\x02\x00\x00\x00\x00\x00\x00\x04err\n\x01\x00\x00\x00\x00\x00\x00\x03in:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: shoal\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", tt.path, len(tt.body))
			if tt.upgrade {
				req += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
			}
			io.WriteString(conn, req+"\r\n"+tt.body)
			conn.(*net.TCPConn).CloseWrite()
			br := bufio.NewReader(conn)
			status, _ := br.ReadString('\n')
			if !strings.HasPrefix(status, "HTTP/1.1 "+tt.wantStatus) {
				t.Fatalf("status line %q, want %s", status, tt.wantStatus)
			}
			head := http.Header{}
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if line == "\r\n" {
					break
				}
				k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
				head.Add(k, v)
			}
			if head.Get("Content-Type") != tt.wantType || head.Get("Api-Version") == "" || len(head.Values("Content-Type")) != 1 {
				t.Errorf("headers %v; want one Content-Type %s and the API version", head, tt.wantType)
			}
			body, _ := io.ReadAll(br)
			if string(body) != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
		})
	}
}

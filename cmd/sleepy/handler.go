package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"time"
)

// maxBytes bounds GET /bytes.
const maxBytes = 1 << 30

// app is sleepy's HTTP handler. now and wait are fields so tests run without a clock.
type app struct {
	delay   time.Duration
	version string
	host    string
	now     func() time.Time
	wait    func(ctx context.Context, d time.Duration) error
	logf    func(format string, args ...any) // one line per request
	mux     *http.ServeMux
}

func newApp(delay time.Duration, version, host string) *app {
	a := &app{delay: delay, version: version, host: host, now: time.Now, wait: sleep, logf: log.Printf}
	a.mux = http.NewServeMux()
	a.mux.HandleFunc("GET /healthz", a.healthz)
	a.mux.HandleFunc("GET /bytes", a.bytes)
	a.mux.HandleFunc("/", a.sleepy)
	return a
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w.Header().Set("X-Sleepy-Version", a.version)
	w.Header().Set("X-Sleepy-Host", a.host)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	a.mux.ServeHTTP(rec, r)
	a.logf("%s %s %d %v from %s", r.Method, r.URL.RequestURI(), rec.status, time.Since(start).Round(time.Microsecond), r.RemoteAddr)
}

// sleepy waits the delay, then answers "received,replied\n".
func (a *app) sleepy(w http.ResponseWriter, r *http.Request) {
	received := a.now()
	if err := a.wait(r.Context(), a.delay); err != nil {
		return // the client went away
	}
	replied := a.now()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%s,%s\n", received.Format(time.RFC3339Nano), replied.Format(time.RFC3339Nano))
}

func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// bytes streams n bytes of the alphabet, repeated: a payload whose every byte a client can
// check.
func (a *app) bytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
	if err != nil || n < 0 || n > maxBytes {
		http.Error(w, fmt.Sprintf("n must be a number of bytes from 0 to %d", maxBytes), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = pattern(int64(i))
	}
	for sent := int64(0); sent < n; {
		off := sent % 26 // chunk[off] is pattern(sent)
		m := min(int64(len(chunk))-off, n-sent)
		if _, err := w.Write(chunk[off : off+m]); err != nil {
			return
		}
		sent += m
	}
}

// pattern is byte i of the /bytes payload.
func pattern(i int64) byte { return byte('a' + i%26) }

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

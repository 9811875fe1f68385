package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as sleepy itself, for the signal test.
func TestMain(m *testing.M) {
	if os.Getenv("SLEEPY_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// fakeApp is an app whose clock ticks one second per reading and whose waits return at
// once; it records the waits asked for.
func fakeApp(t *testing.T, delay time.Duration) (*app, *[]time.Duration) {
	t.Helper()
	a := newApp(delay, "7", "host-1")
	a.logf = t.Logf
	clock := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)
	a.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	var waits []time.Duration
	a.wait = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }
	return a, &waits
}

func TestSleepyAnswersReceivedAndReplied(t *testing.T) {
	a, waits := fakeApp(t, 1500*time.Millisecond)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest("GET", "/anything?x=1", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got, want := rec.Body.String(), "2025-01-02T03:04:06.123456789Z,2025-01-02T03:04:07.123456789Z\n"; got != want {
		t.Errorf("body = %q; want %q", got, want)
	}
	if got := rec.Header().Get("X-Sleepy-Version"); got != "7" {
		t.Errorf("X-Sleepy-Version = %q; want 7", got)
	}
	if got := rec.Header().Get("X-Sleepy-Host"); got != "host-1" {
		t.Errorf("X-Sleepy-Host = %q; want host-1", got)
	}
	if len(*waits) != 1 || (*waits)[0] != 1500*time.Millisecond {
		t.Errorf("waits = %v; want one of 1.5s", *waits)
	}
	// The body parses back as two RFC 3339 times, received before replied.
	parts := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n"), ",")
	r, err1 := time.Parse(time.RFC3339Nano, parts[0])
	p, err2 := time.Parse(time.RFC3339Nano, parts[1])
	if err1 != nil || err2 != nil || !r.Before(p) {
		t.Errorf("body %q does not parse as received,replied", rec.Body.String())
	}
}

func TestSleepyDropsAnswerWhenClientLeaves(t *testing.T) {
	a, _ := fakeApp(t, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	if rec.Body.Len() != 0 {
		t.Errorf("answered %q to a client that left", rec.Body.String())
	}
}

func TestHealthzDoesNotWait(t *testing.T) {
	a, waits := fakeApp(t, time.Hour)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("healthz = %d %q; want 200 ok", rec.Code, rec.Body.String())
	}
	if len(*waits) != 0 {
		t.Errorf("healthz waited %v", *waits)
	}
	if rec.Header().Get("X-Sleepy-Version") != "7" {
		t.Errorf("healthz has no version header")
	}
}

func TestBytes(t *testing.T) {
	a, waits := fakeApp(t, time.Hour)
	for _, n := range []int64{0, 1, 25, 26, 27, 32<<10 + 5, 1 << 20} {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest("GET", "/bytes?n="+itoa(n), nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("n=%d: status %d", n, rec.Code)
		}
		body := rec.Body.Bytes()
		if int64(len(body)) != n || rec.Header().Get("Content-Length") != itoa(n) {
			t.Fatalf("n=%d: got %d bytes, Content-Length %q", n, len(body), rec.Header().Get("Content-Length"))
		}
		for i, b := range body {
			if b != pattern(int64(i)) {
				t.Fatalf("n=%d: byte %d = %q; want %q", n, i, b, pattern(int64(i)))
			}
		}
	}
	if len(*waits) != 0 {
		t.Errorf("/bytes waited %v", *waits)
	}
	for _, q := range []string{"", "n=", "n=-1", "n=abc", "n=1073741825"} {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest("GET", "/bytes?"+q, nil))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "n must be a number of bytes") {
			t.Errorf("/bytes?%s = %d %q; want 400 with a reason", q, rec.Code, rec.Body.String())
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestParseDelay(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"", time.Second, false},
		{"0", 0, false},
		{"0s", 0, false},
		{"250ms", 250 * time.Millisecond, false},
		{"2", 2 * time.Second, false},
		{"0.5", 500 * time.Millisecond, false},
		{"-1s", 0, true},
		{"-2", 0, true},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		got, err := parseDelay(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseDelay(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestAppVersion(t *testing.T) {
	tests := []struct{ env, built, want string }{
		{"", "", "dev"},
		{"", "1", "1"},
		{"2", "1", "2"},
		{"3", "", "3"},
	}
	for _, tt := range tests {
		if got := appVersion(tt.env, tt.built); got != tt.want {
			t.Errorf("appVersion(%q, %q) = %q; want %q", tt.env, tt.built, got, tt.want)
		}
	}
}

func TestCheckPort(t *testing.T) {
	for _, ok := range []string{"0", "80", "8080", "65535"} {
		if err := checkPort(ok); err != nil {
			t.Errorf("checkPort(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-1", "65536", "http"} {
		if err := checkPort(bad); err == nil {
			t.Errorf("checkPort(%q) = nil; want an error", bad)
		}
	}
}

// TestExitsAtOnceOnSIGTERM runs sleepy as a process, holds a request in flight (the delay
// is an hour), sends SIGTERM, and checks that the process exits and the request is dropped
// rather than drained.
func TestExitsAtOnceOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	cmd := exec.Command(os.Args[0], "-port", "0")
	cmd.Env = append(os.Environ(), "SLEEPY_RUN_MAIN=1", "SLEEPY_DELAY=1h", "SLEEPY_VERSION=t")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	firstLine := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		if lines.Scan() {
			firstLine <- lines.Text()
		}
		close(firstLine)
		for lines.Scan() {
		}
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	line := <-firstLine
	_, addr, ok := strings.Cut(line, " listening on ")
	if !ok {
		t.Fatalf("first line %q has no address", line)
	}
	addr, _, _ = strings.Cut(addr, " ")
	port := addr[strings.LastIndex(addr, ":")+1:]

	base := "http://127.0.0.1:" + port
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	inFlight := make(chan error, 1)
	go func() {
		resp, err := http.Get(base + "/")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		inFlight <- err // nil only if the request was answered in full
	}()
	// Give the request a moment to reach the handler. This is not a timed assertion: if
	// it has not arrived, it fails against the dead process all the same.
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sleepy exited with %v; want status 0", err)
		}
		done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("sleepy still running 10s after SIGTERM")
	}
	select {
	case err := <-inFlight:
		if err == nil {
			t.Error("the in-flight request was answered; want it dropped")
		}
	case <-time.After(10 * time.Second):
		t.Error("the in-flight request neither finished nor failed")
	}
}

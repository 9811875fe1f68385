package lb

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMayRetry spells out the whole rule, every combination.
func TestMayRetry(t *testing.T) {
	for _, tc := range []struct {
		o    attemptOutcome
		want bool
	}{
		// Idempotent: retried whether or not it was sent, if the client waits and the body replays.
		{attemptOutcome{idempotent: true, sentBytes: true, bodyReplayable: true}, true},
		{attemptOutcome{idempotent: true, sentBytes: false, bodyReplayable: true}, true},
		// Not idempotent: only if not one byte was sent.
		{attemptOutcome{idempotent: false, sentBytes: false, bodyReplayable: true}, true},
		{attemptOutcome{idempotent: false, sentBytes: true, bodyReplayable: true}, false},
		// A body that cannot be replayed: never.
		{attemptOutcome{idempotent: true, sentBytes: false, bodyReplayable: false}, false},
		{attemptOutcome{idempotent: true, sentBytes: true, bodyReplayable: false}, false},
		{attemptOutcome{idempotent: false, sentBytes: false, bodyReplayable: false}, false},
		{attemptOutcome{idempotent: false, sentBytes: true, bodyReplayable: false}, false},
		// A client that left: never.
		{attemptOutcome{clientGone: true, idempotent: true, sentBytes: false, bodyReplayable: true}, false},
		{attemptOutcome{clientGone: true, idempotent: true, sentBytes: true, bodyReplayable: true}, false},
		{attemptOutcome{clientGone: true, idempotent: false, sentBytes: false, bodyReplayable: true}, false},
		{attemptOutcome{clientGone: true, idempotent: false, sentBytes: true, bodyReplayable: true}, false},
	} {
		if got := mayRetry(tc.o); got != tc.want {
			t.Errorf("mayRetry(%+v) = %v, want %v", tc.o, got, tc.want)
		}
	}
}

func TestIsIdempotent(t *testing.T) {
	for _, tc := range []struct {
		method string
		header string
		want   bool
	}{
		{"GET", "", true}, {"HEAD", "", true}, {"OPTIONS", "", true}, {"TRACE", "", true},
		{"PUT", "", true}, {"DELETE", "", true},
		{"POST", "", false}, {"PATCH", "", false}, {"CONNECT", "", false}, {"PROPFIND", "", false},
		{"POST", "Idempotency-Key", true}, {"PATCH", "X-Idempotency-Key", true},
	} {
		req, _ := http.NewRequest(tc.method, "http://x/", nil)
		if tc.header != "" {
			req.Header.Set(tc.header, "k")
		}
		if got := isIdempotent(req); got != tc.want {
			t.Errorf("isIdempotent(%s, %q) = %v, want %v", tc.method, tc.header, got, tc.want)
		}
	}
}

// chunky reads at most 3 bytes a call, so attempts stop part way.
type chunky struct{ r io.Reader }

func (c chunky) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), 3)]) }
func (chunky) Close() error                 { return nil }

func TestReplayBodyGivesEachAttemptTheWholeBody(t *testing.T) {
	r := newReplayBody(chunky{strings.NewReader("hello, world")}, 64)
	if !r.replayable() {
		t.Fatal("unread body: want replayable")
	}
	first := r.attempt()
	buf := make([]byte, 5)
	n, _ := io.ReadFull(first, buf)
	if string(buf[:n]) != "hello" {
		t.Fatalf("first attempt read %q", buf[:n])
	}
	_ = first.Close()
	if _, err := first.Read(buf); err == nil {
		t.Error("read after the attempt closed: want an error")
	}
	if !r.replayable() {
		t.Fatal("partly read body within the limit: want replayable")
	}
	second, err := io.ReadAll(r.attempt())
	if err != nil || string(second) != "hello, world" {
		t.Errorf("second attempt read %q, %v; want the whole body", second, err)
	}
	third, err := io.ReadAll(r.attempt())
	if err != nil || string(third) != "hello, world" {
		t.Errorf("third attempt read %q, %v; want the whole body", third, err)
	}
}

func TestReplayBodyBeyondTheLimitIsNotReplayable(t *testing.T) {
	r := newReplayBody(chunky{strings.NewReader("0123456789")}, 4)
	first := r.attempt()
	all, err := io.ReadAll(first)
	if err != nil || string(all) != "0123456789" {
		t.Fatalf("the first attempt must still read everything: %q, %v", all, err)
	}
	if r.replayable() {
		t.Error("10 bytes read with a 4-byte limit: want not replayable")
	}
	if _, err := r.attempt().Read(make([]byte, 1)); !errors.Is(err, errBodyNotReplayable) {
		t.Errorf("a new attempt's read: %v, want errBodyNotReplayable", err)
	}
}

func TestReplayBodyWithABrokenClientIsNotReplayable(t *testing.T) {
	broken := errors.New("client reset")
	r := newReplayBody(io.NopCloser(io.MultiReader(strings.NewReader("ab"), errReader{broken})), 64)
	if _, err := io.ReadAll(r.attempt()); !errors.Is(err, broken) {
		t.Fatalf("read: %v, want the client's error", err)
	}
	if r.replayable() {
		t.Error("body whose client broke off: want not replayable")
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestSentTrackerWithoutConnectionSentNothing(t *testing.T) {
	var nilTracker *sentTracker
	if !nilTracker.any() {
		t.Error("an untraced attempt must count as sent")
	}
	if (&sentTracker{}).any() {
		t.Error("an attempt that got no connection sent nothing")
	}
}

package api

import (
	"net/http"
	"strings"
	"testing"
)

// routeCase is one request of a routing table test.
type routeCase struct {
	method, target, body string
	wantStatus           int
	wantCall             string // backend method the request must reach; "" for none
}

// checkRoutes sends each request to a fresh handler over the fake backend and checks the
// status, that the right backend method was (or no method was) called, and Docker's
// response conventions (405 names the allowed methods, 204 has no body).
func checkRoutes(t *testing.T, cases []routeCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			fake := newFakeBackend()
			target := strings.ReplaceAll(tt.target, `"`, "%22")
			rec := do(t, NewHandler(fake, Options{}), tt.method, target, tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if tt.wantCall != "" && len(fake.callsTo(tt.wantCall)) != 1 {
				t.Errorf("backend calls = %+v, want one %s", fake.calls, tt.wantCall)
			}
			if tt.wantCall == "" && fake.callCount() != 0 {
				t.Errorf("backend called for a refused request: %+v", fake.calls)
			}
			if tt.wantStatus == 405 && rec.Header().Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
			if tt.wantStatus == 204 && rec.Body.Len() != 0 {
				t.Errorf("204 with a body %q", rec.Body.String())
			}
		})
	}
}

// refusedCase is a malformed request that must get a 400 naming the problem.
type refusedCase struct {
	name, method, target, body, wantMsg string
}

// checkRefused sends each request and checks it is refused with 400, with wantMsg in the
// message, and that the backend was never called.
func checkRefused(t *testing.T, cases []refusedCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeBackend()
			target := strings.ReplaceAll(tt.target, `"`, "%22")
			rec := do(t, NewHandler(fake, Options{}), tt.method, target, tt.body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %q)", rec.Code, rec.Body.String())
			}
			if msg := errorMessage(t, rec); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMsg)
			}
			if fake.callCount() != 0 {
				t.Errorf("backend was called: %+v", fake.calls)
			}
		})
	}
}

package ca

import (
	"strings"
	"testing"
	"time"
)

// testNow is a fixed instant so certificate times in tests do not depend on the clock.
var testNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func newTestRoot(t *testing.T, now time.Time) *RootCA {
	t.Helper()
	root, err := NewRootCA(now)
	if err != nil {
		t.Fatalf("NewRootCA: %v", err)
	}
	return root
}

// issueTestCert makes a key, a CSR and a certificate for id, signed by root.
func issueTestCert(t *testing.T, root *RootCA, id NodeIdentity, now time.Time, expiry time.Duration) (certPEM, keyPEM []byte) {
	t.Helper()
	key, keyPEM, err := NewNodeKey()
	if err != nil {
		t.Fatalf("NewNodeKey: %v", err)
	}
	csr, err := NewCSR(key)
	if err != nil {
		t.Fatalf("NewCSR: %v", err)
	}
	certPEM, err = root.IssueNodeCert(csr, id, now, expiry)
	if err != nil {
		t.Fatalf("IssueNodeCert(%+v): %v", id, err)
	}
	return certPEM, keyPEM
}

func managerID(node string) NodeIdentity {
	return NodeIdentity{NodeID: node, Role: ManagerRole, ClusterID: "cluster1"}
}

func workerID(node string) NodeIdentity {
	return NodeIdentity{NodeID: node, Role: WorkerRole, ClusterID: "cluster1"}
}

// wantErr fails unless err is non-nil and contains want (or is nil when want is empty).
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("got no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

package ca

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	mathrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestIssueAndVerifyNodeCert(t *testing.T) {
	root := newTestRoot(t, testNow)
	tests := []struct {
		id       NodeIdentity
		wantSANs []string
	}{
		{managerID("mgr1"), []string{"mgr1", WorkerRole, ManagerRole}},
		{workerID("wrk1"), []string{"wrk1", WorkerRole}},
	}
	for _, tt := range tests {
		t.Run(tt.id.Role, func(t *testing.T) {
			certPEM, _ := issueTestCert(t, root, tt.id, testNow, 90*24*time.Hour)
			cert, id, err := VerifyNodeCert(root, certPEM, testNow.Add(time.Hour))
			if err != nil {
				t.Fatalf("VerifyNodeCert: %v", err)
			}
			if id != tt.id {
				t.Errorf("identity = %+v, want %+v", id, tt.id)
			}
			if !slices.Equal(cert.DNSNames, tt.wantSANs) {
				t.Errorf("DNS SANs = %v, want %v", cert.DNSNames, tt.wantSANs)
			}
			if !cert.NotBefore.Equal(testNow.Add(-time.Minute)) || !cert.NotAfter.Equal(testNow.Add(90*24*time.Hour)) {
				t.Errorf("valid %v to %v, want a minute before %v to 90 days after", cert.NotBefore, cert.NotAfter, testNow)
			}
			wantEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
			if !slices.Equal(cert.ExtKeyUsage, wantEKU) {
				t.Errorf("ExtKeyUsage = %v, want server and client auth", cert.ExtKeyUsage)
			}
			if cert.IsCA {
				t.Errorf("node certificate is a CA")
			}
			if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %v is not a positive 128-bit number", cert.SerialNumber)
			}
		})
	}
}

func TestIssueNodeCertIgnoresCSRSubject(t *testing.T) {
	root := newTestRoot(t, testNow)
	key, _, _ := NewNodeKey()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "evil", OrganizationalUnit: []string{ManagerRole}, Organization: []string{"other"}},
		DNSNames: []string{ManagerRole, "evil.example"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	certPEM, err := root.IssueNodeCert(csrPEM, workerID("w1"), testNow, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, id, err := VerifyNodeCert(root, certPEM, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if id != workerID("w1") || slices.Contains(cert.DNSNames, ManagerRole) || slices.Contains(cert.DNSNames, "evil.example") {
		t.Errorf("CSR subject leaked into the certificate: identity %+v, SANs %v", id, cert.DNSNames)
	}
}

func TestIssueNodeCertRejects(t *testing.T) {
	root := newTestRoot(t, testNow)
	certOnly, err := ParseRootCA(root.CertPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _, _ := NewNodeKey()
	csr, _ := NewCSR(key)

	tampered := tamperCSR(t, csr)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edCSR, err := NewCSR(edKey)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		ca     *RootCA
		csr    []byte
		id     NodeIdentity
		now    time.Time
		expiry time.Duration
		err    string
	}{
		{"no CA key", certOnly, csr, workerID("n"), testNow, time.Hour, "holds only the root CA certificate"},
		{"zero expiry", root, csr, workerID("n"), testNow, 0, "expiry 0s must be positive"},
		{"negative expiry", root, csr, workerID("n"), testNow, -time.Hour, "expiry -1h0m0s must be positive"},
		{"unknown role", root, csr, NodeIdentity{"n", "swarm-boss", "c"}, testNow, time.Hour, `invalid node role "swarm-boss": must be swarm-manager or swarm-worker`},
		{"empty node ID", root, csr, NodeIdentity{"", WorkerRole, "c"}, testNow, time.Hour, "invalid node ID"},
		{"node ID with space", root, csr, NodeIdentity{"a b", WorkerRole, "c"}, testNow, time.Hour, "only letters, digits"},
		{"empty cluster ID", root, csr, NodeIdentity{"n", WorkerRole, ""}, testNow, time.Hour, "invalid cluster ID"},
		{"garbage CSR", root, []byte("nope"), workerID("n"), testNow, time.Hour, "no PEM data found"},
		{"cert instead of CSR", root, root.CertPEM, workerID("n"), testNow, time.Hour, `is "CERTIFICATE", "CERTIFICATE REQUEST" expected`},
		{"bad CSR signature", root, tampered, workerID("n"), testNow, time.Hour, "signature is invalid"},
		{"ed25519 key", root, edCSR, workerID("n"), testNow, time.Hour, "ECDSA P-256 or P-384 key expected"},
		{"root expired", root, csr, workerID("n"), testNow.AddDate(21, 0, 0), time.Hour, "root CA expired at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.ca.IssueNodeCert(tt.csr, tt.id, tt.now, tt.expiry)
			wantErr(t, err, tt.err)
		})
	}
}

// tamperCSR flips a bit in the last byte of the CSR's signature (the low byte of ECDSA's S),
// which keeps it well-formed but no longer valid.
func tamperCSR(t *testing.T, csrPEM []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(csrPEM)
	der := slices.Clone(block.Bytes)
	der[len(der)-1] ^= 0x01
	return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der})
}

func TestIssueNodeCertCappedAtRootExpiry(t *testing.T) {
	root := newTestRoot(t, testNow)
	late := root.Cert.NotAfter.Add(-24 * time.Hour)
	certPEM, _ := issueTestCert(t, root, workerID("n"), late, 90*24*time.Hour)
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.NotAfter.Equal(root.Cert.NotAfter) {
		t.Errorf("NotAfter = %v, want capped at the root's %v", cert.NotAfter, root.Cert.NotAfter)
	}
}

func TestVerifyNodeCertRejects(t *testing.T) {
	root, foreign := newTestRoot(t, testNow), newTestRoot(t, testNow)
	certPEM, _ := issueTestCert(t, root, workerID("n1"), testNow, 24*time.Hour)
	foreignPEM, _ := issueTestCert(t, foreign, workerID("n1"), testNow, 24*time.Hour)

	tests := []struct {
		name string
		cert []byte
		now  time.Time
		err  string
	}{
		{"valid", certPEM, testNow, ""},
		{"within skew allowance", certPEM, testNow.Add(-30 * time.Second), ""},
		{"expired", certPEM, testNow.Add(25 * time.Hour), "certificate expired at 2030-06-02T12:00:00Z"},
		{"not yet valid", certPEM, testNow.Add(-time.Hour), "is not yet valid: valid from 2030-06-01T11:59:00Z"},
		{"foreign CA", foreignPEM, testNow, "not signed by this swarm's CA"},
		{"root passed as node cert", root.CertPEM, testNow, "is a CA certificate, a node certificate expected"},
		{"garbage", []byte("nope"), testNow, "no PEM data found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := VerifyNodeCert(root, tt.cert, tt.now)
			wantErr(t, err, tt.err)
		})
	}
}

func TestIdentityFromCert(t *testing.T) {
	subject := func(cn string, ou, o []string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn, OrganizationalUnit: ou, Organization: o}}
	}
	tests := []struct {
		name string
		cert *x509.Certificate
		want NodeIdentity
		err  string
	}{
		{"manager", subject("m1", []string{ManagerRole}, []string{"c1"}), NodeIdentity{"m1", ManagerRole, "c1"}, ""},
		{"worker", subject("w1", []string{WorkerRole}, []string{"c1"}), NodeIdentity{"w1", WorkerRole, "c1"}, ""},
		{"nil", nil, NodeIdentity{}, "no certificate"},
		{"no role", subject("w1", nil, []string{"c1"}), NodeIdentity{}, "has 0 OU values, exactly one role"},
		{"two roles", subject("w1", []string{WorkerRole, ManagerRole}, []string{"c1"}), NodeIdentity{}, "has 2 OU values"},
		{"unknown role", subject("w1", []string{"admin"}, []string{"c1"}), NodeIdentity{}, `invalid node role "admin"`},
		{"no cluster", subject("w1", []string{WorkerRole}, nil), NodeIdentity{}, "has 0 O values, exactly one cluster ID"},
		{"no node ID", subject("", []string{WorkerRole}, []string{"c1"}), NodeIdentity{}, "invalid node ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := IdentityFromCert(tt.cert)
			wantErr(t, err, tt.err)
			if got != tt.want {
				t.Errorf("identity = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRenewalTimeWithinWindow(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Lifetimes up to 50 years keep 5*offset within int64 below. The certificate is
		// backdated as IssueNodeCert does; its lifetime counts from issue.
		lifetime := time.Duration(rapid.Int64Range(1, int64(50*365*24*time.Hour)).Draw(t, "lifetime"))
		issued := time.Unix(rapid.Int64Range(0, 4e9).Draw(t, "issued"), 0)
		cert := &x509.Certificate{NotBefore: issued.Add(-clockSkew), NotAfter: issued.Add(lifetime)}
		r := mathrand.New(mathrand.NewPCG(rapid.Uint64().Draw(t, "seed1"), rapid.Uint64().Draw(t, "seed2")))

		offset := RenewalTime(cert, r).Sub(issued)
		if lifetime < 2 {
			// Too short for a 50-80% window in whole nanoseconds; renew at the midpoint, rounded up.
			if offset != lifetime-lifetime/2 {
				t.Fatalf("lifetime %v: renewal at %v", lifetime, offset)
			}
			return
		}
		if 2*offset < lifetime || 5*offset > 4*lifetime {
			t.Fatalf("lifetime %v: renewal at %v (%.4f of it), want within [0.5, 0.8]",
				lifetime, offset, float64(offset)/float64(lifetime))
		}
	})
}

func TestRenewalTimeSpreads(t *testing.T) {
	cert := &x509.Certificate{NotBefore: testNow, NotAfter: testNow.Add(90 * 24 * time.Hour)}
	r := mathrand.New(mathrand.NewPCG(1, 2))
	lifetime := cert.NotAfter.Sub(cert.NotBefore)
	var early, late bool
	for range 1000 {
		frac := float64(RenewalTime(cert, r).Sub(cert.NotBefore)) / float64(lifetime)
		early = early || frac < 0.55
		late = late || frac > 0.75
	}
	if !early || !late {
		t.Errorf("1000 renewal times do not spread over 50-80%% (some below 55%%: %v, some above 75%%: %v)", early, late)
	}
	if got := RenewalTime(&x509.Certificate{NotBefore: testNow, NotAfter: testNow}, nil); !got.Equal(testNow) {
		t.Errorf("zero lifetime: renewal at %v, want NotBefore", got)
	}
}

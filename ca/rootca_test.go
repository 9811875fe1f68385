package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"os"
	"testing"
	"time"
)

func TestNewRootCA(t *testing.T) {
	root := newTestRoot(t, testNow)
	c := root.Cert
	if !c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("root is not a CA: IsCA=%v BasicConstraintsValid=%v", c.IsCA, c.BasicConstraintsValid)
	}
	if c.Subject.CommonName != "swarm-ca" {
		t.Errorf("CN = %q, want swarm-ca", c.Subject.CommonName)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("root is not self-signed: %v", err)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("root key is %T, want ECDSA P-256", c.PublicKey)
	}
	if !c.NotBefore.Equal(testNow.Add(-time.Minute)) {
		t.Errorf("NotBefore = %v, want a minute before %v", c.NotBefore, testNow)
	}
	if got, want := c.NotAfter, testNow.AddDate(19, 11, 0); got.Before(want) {
		t.Errorf("NotAfter = %v, want about 20 years after %v", got, testNow)
	}
	if root.Key == nil || len(root.KeyPEM) == 0 || len(root.CertPEM) == 0 {
		t.Errorf("root is missing its key or PEM forms")
	}
}

func TestParseRootCA(t *testing.T) {
	root := newTestRoot(t, testNow)
	other := newTestRoot(t, testNow)
	nodeCert, _ := issueTestCert(t, root, workerID("n1"), testNow, time.Hour)

	tests := []struct {
		name      string
		cert, key []byte
		wantKey   bool
		err       string
	}{
		{"cert and key", root.CertPEM, root.KeyPEM, true, ""},
		{"cert only", root.CertPEM, nil, false, ""},
		{"key from another CA", root.CertPEM, other.KeyPEM, false, "does not match the root CA certificate"},
		{"node cert is no CA", nodeCert, nil, false, "is not a CA certificate"},
		{"no PEM", []byte("hello"), nil, false, "no PEM data found"},
		{"key PEM where cert expected", root.KeyPEM, nil, false, `PEM block is "EC PRIVATE KEY", "CERTIFICATE" expected`},
		{"garbage key", root.CertPEM, []byte("nope"), false, "root CA key: no PEM data found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRootCA(tt.cert, tt.key)
			wantErr(t, err, tt.err)
			if err != nil {
				return
			}
			if !got.Cert.Equal(root.Cert) {
				t.Errorf("parsed a different certificate")
			}
			if (got.Key != nil) != tt.wantKey {
				t.Errorf("Key present = %v, want %v", got.Key != nil, tt.wantKey)
			}
		})
	}
}

func TestParseRootCAOpenSSL(t *testing.T) {
	certPEM, err := os.ReadFile("testdata/root-ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRootCA(certPEM, nil); err != nil {
		t.Fatalf("ParseRootCA of an openssl-made root: %v", err)
	}
}

func TestDigest(t *testing.T) {
	// testdata/root-ca.crt was made by openssl; its digest was computed outside Go
	// (python: sha256 of the DER, as base 36, padded to 50).
	golden, err := os.ReadFile("testdata/root-ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	const goldenDigest = "45hgw8fq1ggjxp60pj4aomuaqcrlszy4an3y5qtwgk2exyy5mh"
	got, err := Digest(golden)
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	if got != goldenDigest {
		t.Fatalf("Digest = %s, want %s", got, goldenDigest)
	}

	root := newTestRoot(t, testNow)
	d1, _ := Digest(root.CertPEM)
	d2, _ := Digest(append([]byte("\n"), root.CertPEM...))
	if d1 != d2 {
		t.Errorf("digest of the same certificate changed: %s vs %s", d1, d2)
	}
	// It is the sha256 of the DER, as Docker writes it.
	sum := sha256.Sum256(root.Cert.Raw)
	n, ok := new(big.Int).SetString(d1, 36)
	if !ok || hex.EncodeToString(n.FillBytes(make([]byte, 32))) != hex.EncodeToString(sum[:]) {
		t.Errorf("digest %s is not the base-36 sha256 %x", d1, sum)
	}
	if d3, _ := Digest(newTestRoot(t, testNow).CertPEM); d3 == d1 {
		t.Errorf("two different roots have the same digest %s", d1)
	}
	if _, err := Digest([]byte("not pem")); err == nil {
		t.Errorf("Digest of garbage: no error")
	}
}

func TestBase36Padding(t *testing.T) {
	tests := []struct {
		n     *big.Int
		width int
		want  string
	}{
		{big.NewInt(0), 5, "00000"},
		{big.NewInt(35), 3, "00z"},
		{new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1)), secretLen, "f5lxx1zz5pnorynqglhzmsp33"},
		{new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)), digestLen, "6dp5qcb22im238nr3wvp0ic7q99w035jmy2iw7i6n43d37jtof"},
	}
	for _, tt := range tests {
		if got := base36(tt.n, tt.width); got != tt.want {
			t.Errorf("base36(%v, %d) = %q, want %q", tt.n, tt.width, got, tt.want)
		}
	}
}

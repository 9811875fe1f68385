package ca

import (
	"bytes"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNewJoinTokenGolden(t *testing.T) {
	golden, err := os.ReadFile("testdata/root-ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		entropy []byte
		want    string
	}{
		{"all ones", bytes.Repeat([]byte{0xff}, 16),
			"SWMTKN-1-45hgw8fq1ggjxp60pj4aomuaqcrlszy4an3y5qtwgk2exyy5mh-f5lxx1zz5pnorynqglhzmsp33"},
		{"zero pads to 25", make([]byte, 16),
			"SWMTKN-1-45hgw8fq1ggjxp60pj4aomuaqcrlszy4an3y5qtwgk2exyy5mh-0000000000000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewJoinToken(golden, bytes.NewReader(tt.entropy))
			if err != nil {
				t.Fatalf("NewJoinToken: %v", err)
			}
			if got != tt.want {
				t.Errorf("token = %s\nwant    %s", got, tt.want)
			}
		})
	}
}

func TestJoinTokenRoundTrip(t *testing.T) {
	root := newTestRoot(t, testNow)
	digest, _ := Digest(root.CertPEM)
	seen := map[string]bool{}
	for range 50 {
		s, err := NewJoinToken(root.CertPEM, nil)
		if err != nil {
			t.Fatalf("NewJoinToken: %v", err)
		}
		if seen[s] {
			t.Fatalf("token %s made twice", s)
		}
		seen[s] = true
		tok, err := ParseJoinToken(s)
		if err != nil {
			t.Fatalf("ParseJoinToken(%s): %v", s, err)
		}
		if tok.Version != 1 || tok.CADigest != digest || len(tok.Secret) != 25 {
			t.Fatalf("parsed %+v, want version 1, digest %s, 25-character secret", tok, digest)
		}
		if tok.String() != s {
			t.Fatalf("String() = %s, want %s", tok.String(), s)
		}
		if err := tok.CheckCA(root.CertPEM); err != nil {
			t.Fatalf("CheckCA against its own root: %v", err)
		}
	}
	// Surrounding white space (a pasted line) is forgiven.
	for s := range seen {
		if _, err := ParseJoinToken("  " + s + "\n"); err != nil {
			t.Fatalf("ParseJoinToken with white space: %v", err)
		}
		break
	}
}

func TestNewJoinTokenErrors(t *testing.T) {
	root := newTestRoot(t, testNow)
	_, err := NewJoinToken(root.CertPEM, iotest.ErrReader(iotest.ErrTimeout))
	wantErr(t, err, "read random secret")
	_, err = NewJoinToken(root.CertPEM, bytes.NewReader(make([]byte, 15)))
	wantErr(t, err, "read random secret")
	_, err = NewJoinToken([]byte("nope"), rand.Reader)
	wantErr(t, err, "no PEM data found")
}

func TestParseJoinTokenMalformed(t *testing.T) {
	const (
		digest = "45hgw8fq1ggjxp60pj4aomuaqcrlszy4an3y5qtwgk2exyy5mh"
		secret = "s3cr3tvalue0123456789abcd"
	)
	tests := []struct {
		name, token, err string
	}{
		{"empty", "", `must start with "SWMTKN-"`},
		{"other prefix", "SWMTKX-1-" + digest + "-" + secret, `must start with "SWMTKN-"`},
		{"lowercase prefix", "swmtkn-1-" + digest + "-" + secret, `must start with "SWMTKN-"`},
		{"missing version", "SWMTKN-" + digest + "-" + secret, "has 3 dash-separated parts, 4 expected"},
		{"extra part", "SWMTKN-1-" + digest + "-" + secret + "-x", "has 5 dash-separated parts, 4 expected"},
		{"version 2", "SWMTKN-2-" + digest + "-" + secret, "unsupported version 2, this node understands version 1"},
		{"version not a number", "SWMTKN-x-" + digest + "-" + secret, "version must be a number"},
		{"version padded", "SWMTKN-01-" + digest + "-" + secret, "version must be a number"},
		{"version signed", "SWMTKN-+1-" + digest + "-" + secret, "version must be a number"},
		{"digest short", "SWMTKN-1-" + digest[1:] + "-" + secret, "CA digest is 49 characters, 50 expected"},
		{"digest long", "SWMTKN-1-0" + digest + "-" + secret, "CA digest is 51 characters, 50 expected"},
		{"digest uppercase", "SWMTKN-1-" + strings.ToUpper(digest) + "-" + secret, "CA digest has a character outside 0-9 and lowercase a-z at position 3"},
		{"digest symbol", "SWMTKN-1-" + digest[:49] + "_-" + secret, "CA digest has a character outside 0-9 and lowercase a-z at position 50"},
		{"digest over 256 bits", "SWMTKN-1-" + strings.Repeat("z", 50) + "-" + secret, "CA digest is larger than 256 bits"},
		{"secret short", "SWMTKN-1-" + digest + "-" + secret[1:], "secret is 24 characters, 25 expected"},
		{"secret long", "SWMTKN-1-" + digest + "-" + secret + "0", "secret is 26 characters, 25 expected"},
		{"secret empty", "SWMTKN-1-" + digest + "-", "secret is 0 characters, 25 expected"},
		{"secret uppercase", "SWMTKN-1-" + digest + "-" + strings.ToUpper(secret), "secret has a character outside 0-9 and lowercase a-z"},
		{"secret over 128 bits", "SWMTKN-1-" + digest + "-" + strings.Repeat("z", 25), "secret is larger than 128 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJoinToken(tt.token)
			wantErr(t, err, tt.err)
			for _, s := range []string{secret, strings.ToUpper(secret), secret[1:], strings.Repeat("z", 25)} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q repeats the secret", err)
				}
			}
		})
	}
}

func TestJoinTokenForAnotherCA(t *testing.T) {
	rootA, rootB := newTestRoot(t, testNow), newTestRoot(t, testNow)
	s, err := NewJoinToken(rootA.CertPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ParseJoinToken(s)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, tok.CheckCA(rootA.CertPEM), "")
	wantErr(t, tok.CheckCA(rootB.CertPEM), "the manager's CA digest does not match the join token (wrong token or an impostor manager)")
}

func TestJoinTokenEqual(t *testing.T) {
	a := JoinToken{Version: 1, CADigest: "d", Secret: "s1"}
	tests := []struct {
		b    JoinToken
		want bool
	}{
		{a, true},
		{JoinToken{Version: 1, CADigest: "d", Secret: "s2"}, false},
		{JoinToken{Version: 1, CADigest: "e", Secret: "s1"}, false},
		{JoinToken{}, false},
	}
	for _, tt := range tests {
		if got := a.Equal(tt.b); got != tt.want {
			t.Errorf("%v.Equal(%v) = %v, want %v", a, tt.b, got, tt.want)
		}
	}
}

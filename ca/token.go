package ca

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
)

// Join token layout, as Docker's: SWMTKN-1-<digest>-<secret>.
const (
	tokenPrefix       = "SWMTKN"
	tokenVersion      = 1
	tokenBase         = 36
	digestLen         = 50 // a sha256 as base 36 needs at most 50 digits
	secretLen         = 25 // 128 bits as base 36 need at most 25 digits
	secretEntropyBits = 128
	tokenFormat       = "SWMTKN-1-<50-character CA digest>-<25-character secret>"
)

// JoinToken is a parsed join token. CADigest pins the swarm's root CA (see Digest); Secret
// is what a manager checks to admit the node, and the role it is admitted with.
type JoinToken struct {
	Version  int
	CADigest string
	Secret   string
}

// NewJoinToken makes a token that pins the given root CA certificate, with a fresh 128-bit
// secret read from entropy (crypto/rand when nil).
func NewJoinToken(rootCertPEM []byte, entropy io.Reader) (string, error) {
	if entropy == nil {
		entropy = rand.Reader
	}
	digest, err := Digest(rootCertPEM)
	if err != nil {
		return "", fmt.Errorf("new join token: %w", err)
	}
	var secret [secretEntropyBits / 8]byte
	if _, err := io.ReadFull(entropy, secret[:]); err != nil {
		return "", fmt.Errorf("new join token: read random secret: %w", err)
	}
	t := JoinToken{
		Version:  tokenVersion,
		CADigest: digest,
		Secret:   base36(new(big.Int).SetBytes(secret[:]), secretLen),
	}
	return t.String(), nil
}

// String is the token's text form, SWMTKN-1-<digest>-<secret>.
func (t JoinToken) String() string {
	return fmt.Sprintf("%s-%d-%s-%s", tokenPrefix, t.Version, t.CADigest, t.Secret)
}

// ParseJoinToken reads a token in the form NewJoinToken makes, ignoring surrounding white
// space. Errors say which part is wrong but never repeat the secret.
func ParseJoinToken(s string) (JoinToken, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, tokenPrefix+"-") {
		return JoinToken{}, fmt.Errorf("invalid join token: must start with %q (expected %s)", tokenPrefix+"-", tokenFormat)
	}
	parts := strings.Split(s, "-")
	if len(parts) != 4 {
		return JoinToken{}, fmt.Errorf("invalid join token: has %d dash-separated parts, 4 expected (%s)", len(parts), tokenFormat)
	}
	version, err := strconv.Atoi(parts[1])
	if err != nil || parts[1] != strconv.Itoa(version) {
		return JoinToken{}, fmt.Errorf("invalid join token: version must be a number, %d expected (%s)", tokenVersion, tokenFormat)
	}
	if version != tokenVersion {
		return JoinToken{}, fmt.Errorf("invalid join token: unsupported version %d, this node understands version %d", version, tokenVersion)
	}
	t := JoinToken{Version: version, CADigest: parts[2], Secret: parts[3]}
	if err := checkBase36("CA digest", t.CADigest, digestLen, 256); err != nil {
		return JoinToken{}, err
	}
	if err := checkBase36("secret", t.Secret, secretLen, secretEntropyBits); err != nil {
		return JoinToken{}, err
	}
	return t, nil
}

// CheckCA reports whether the token was made for this root CA certificate.
func (t JoinToken) CheckCA(rootCertPEM []byte) error {
	digest, err := Digest(rootCertPEM)
	if err != nil {
		return err
	}
	if digest != t.CADigest {
		return ErrDigestMismatch
	}
	return nil
}

// Equal compares two tokens in constant time, so a manager checking a presented token does
// not leak how much of its secret was right.
func (t JoinToken) Equal(u JoinToken) bool {
	return subtle.ConstantTimeCompare([]byte(t.String()), []byte(u.String())) == 1
}

// ErrDigestMismatch says a manager's CA is not the one a join token pins: the token is for
// another swarm, or the manager is an impostor. Joining nodes test for it with errors.Is.
var ErrDigestMismatch = errors.New("the manager's CA digest does not match the join token (wrong token or an impostor manager)")

// checkBase36 validates one token part without quoting it: it may be the secret.
func checkBase36(name, s string, length, maxBits int) error {
	if len(s) != length {
		return fmt.Errorf("invalid join token: %s is %d characters, %d expected (%s)", name, len(s), length, tokenFormat)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return fmt.Errorf("invalid join token: %s has a character outside 0-9 and lowercase a-z at position %d", name, i+1)
		}
	}
	n, _ := new(big.Int).SetString(s, tokenBase)
	if n.BitLen() > maxBits {
		return fmt.Errorf("invalid join token: %s is larger than %d bits", name, maxBits)
	}
	return nil
}

// base36 writes n in lowercase base 36, left-padded with '0' to width.
func base36(n *big.Int, width int) string {
	s := n.Text(tokenBase)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

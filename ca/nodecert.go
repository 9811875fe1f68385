package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"time"
)

// NodeIdentity is who a node certificate speaks for: CN=NodeID, OU=Role, O=ClusterID.
type NodeIdentity struct {
	NodeID    string
	Role      string
	ClusterID string
}

const maxIDLen = 64

// Validate checks that the identity can go into a certificate: a known role and IDs made of
// letters, digits, '-', '_' and '.' (the node ID is also a DNS SAN).
func (id NodeIdentity) Validate() error {
	if id.Role != ManagerRole && id.Role != WorkerRole {
		return fmt.Errorf("invalid node role %q: must be %s or %s", id.Role, ManagerRole, WorkerRole)
	}
	if err := checkID("node ID", id.NodeID); err != nil {
		return err
	}
	return checkID("cluster ID", id.ClusterID)
}

func checkID(name, s string) error {
	if s == "" || len(s) > maxIDLen {
		return fmt.Errorf("invalid %s %q: must be 1 to %d characters", name, s, maxIDLen)
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("invalid %s %q: only letters, digits, '-', '_' and '.' are allowed", name, s)
		}
	}
	return nil
}

// NewCSR makes a PEM certificate signing request for key. The request carries no identity:
// the CA takes the node's identity from what it knows, never from the request.
func NewCSR(key crypto.Signer) (csrPEM []byte, err error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemCertRequest, Bytes: der}), nil
}

// IssueNodeCert signs the CSR's public key into a node certificate for id, valid from a
// minute before now (clock skew) until now+expiry, but never past the root's own expiry.
// The subject and SANs come from id; the CSR only contributes its (signature-checked) key.
func (ca *RootCA) IssueNodeCert(csrPEM []byte, id NodeIdentity, now time.Time, expiry time.Duration) (certPEM []byte, err error) {
	if ca.Key == nil {
		return nil, errors.New("issue node certificate: this node holds only the root CA certificate, not its key; only a manager with the CA key can issue")
	}
	if expiry <= 0 {
		return nil, fmt.Errorf("issue node certificate: expiry %v must be positive", expiry)
	}
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("issue node certificate: %w", err)
	}
	if now.After(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("issue node certificate: root CA expired at %s", formatTime(ca.Cert.NotAfter))
	}
	csr, err := parseCSR(csrPEM)
	if err != nil {
		return nil, fmt.Errorf("issue node certificate: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(expiry)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         id.NodeID,
			OrganizationalUnit: []string{id.Role},
			Organization:       []string{id.ClusterID},
		},
		DNSNames:              sansFor(id),
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue node certificate for %s: %w", id.NodeID, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der}), nil
}

// sansFor lists the DNS names a node's peers check: every node answers as a worker, and
// managers also as "swarm-manager", the name clients verify when they dial the manager port.
func sansFor(id NodeIdentity) []string {
	sans := []string{id.NodeID, WorkerRole}
	if id.Role == ManagerRole {
		sans = append(sans, ManagerRole)
	}
	return sans
}

func parseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return nil, fmt.Errorf("no PEM data found in the certificate request (a %q PEM block expected)", pemCertRequest)
	}
	if block.Type != pemCertRequest {
		return nil, fmt.Errorf("certificate request PEM block is %q, %q expected", block.Type, pemCertRequest)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature is invalid (the request was not signed by its own key): %w", err)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || (pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384()) {
		return nil, fmt.Errorf("certificate request key is %T, an ECDSA P-256 or P-384 key expected (see NewNodeKey)", csr.PublicKey)
	}
	return csr, nil
}

// IdentityFromCert reads the node identity from a node certificate's subject.
func IdentityFromCert(cert *x509.Certificate) (NodeIdentity, error) {
	if cert == nil {
		return NodeIdentity{}, errors.New("node identity: no certificate")
	}
	s := cert.Subject
	if len(s.OrganizationalUnit) != 1 {
		return NodeIdentity{}, fmt.Errorf("node identity: certificate %q has %d OU values, exactly one role (%s or %s) expected",
			s.CommonName, len(s.OrganizationalUnit), ManagerRole, WorkerRole)
	}
	if len(s.Organization) != 1 {
		return NodeIdentity{}, fmt.Errorf("node identity: certificate %q has %d O values, exactly one cluster ID expected",
			s.CommonName, len(s.Organization))
	}
	id := NodeIdentity{NodeID: s.CommonName, Role: s.OrganizationalUnit[0], ClusterID: s.Organization[0]}
	if err := id.Validate(); err != nil {
		return NodeIdentity{}, fmt.Errorf("node identity: %w", err)
	}
	return id, nil
}

// VerifyNodeCert checks that certPEM is a node certificate of this swarm, valid at now, and
// returns it with its identity.
func VerifyNodeCert(root *RootCA, certPEM []byte, now time.Time) (*x509.Certificate, NodeIdentity, error) {
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		return nil, NodeIdentity{}, fmt.Errorf("node certificate: %w", err)
	}
	if err := checkValidAt(cert, now); err != nil {
		return nil, NodeIdentity{}, err
	}
	if cert.IsCA {
		return nil, NodeIdentity{}, fmt.Errorf("node certificate %q is a CA certificate, a node certificate expected", cert.Subject.CommonName)
	}
	if err := verifyChain(root, cert, now); err != nil {
		return nil, NodeIdentity{}, err
	}
	id, err := IdentityFromCert(cert)
	if err != nil {
		return nil, NodeIdentity{}, err
	}
	return cert, id, nil
}

func checkValidAt(cert *x509.Certificate, now time.Time) error {
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("node certificate %q is not yet valid: valid from %s, now is %s",
			cert.Subject.CommonName, formatTime(cert.NotBefore), formatTime(now))
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("node certificate %q: certificate expired at %s, now is %s",
			cert.Subject.CommonName, formatTime(cert.NotAfter), formatTime(now))
	}
	return nil
}

func verifyChain(root *RootCA, cert *x509.Certificate, now time.Time) error {
	if root == nil || root.Cert == nil {
		return errors.New("verify node certificate: no root CA to verify against")
	}
	if now.After(root.Cert.NotAfter) {
		return fmt.Errorf("verify node certificate: the swarm's root CA expired at %s", formatTime(root.Cert.NotAfter))
	}
	roots := x509.NewCertPool()
	roots.AddCert(root.Cert)
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		if errors.As(err, new(x509.UnknownAuthorityError)) {
			return fmt.Errorf("node certificate %q is not signed by this swarm's CA", cert.Subject.CommonName)
		}
		return fmt.Errorf("verify node certificate %q: %w", cert.Subject.CommonName, err)
	}
	return nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// RenewalTime is when a node should renew cert: at a uniformly random point between 50% and
// 80% of its lifetime, so that nodes issued together do not all renew together. r may be nil
// to use the global source. The lifetime counts from issue: IssueNodeCert backdates NotBefore
// by clockSkew, and counting that minute too would make a short-lived certificate (--cert-expiry
// 30s) due for renewal the moment it is issued, and renewed again at every heartbeat.
func RenewalTime(cert *x509.Certificate, r *mathrand.Rand) time.Time {
	issued := cert.NotBefore
	if cert.NotAfter.Sub(issued) > clockSkew {
		issued = issued.Add(clockSkew)
	}
	lifetime := cert.NotAfter.Sub(issued)
	if lifetime <= 0 {
		return issued
	}
	// Integer bounds avoid float rounding and overflow: earliest = ceil(L/2), latest = floor(4L/5).
	earliest := lifetime - lifetime/2
	latest := lifetime/5*4 + lifetime%5*4/5
	if latest < earliest {
		return issued.Add(earliest)
	}
	span := int64(latest-earliest) + 1
	var jitter int64
	if r != nil {
		jitter = r.Int64N(span)
	} else {
		jitter = mathrand.Int64N(span)
	}
	return issued.Add(earliest + time.Duration(jitter))
}

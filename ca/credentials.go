package ca

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
)

// Credentials are a node's TLS identity: the swarm's root and the node's current certificate
// and key. The certificate can be swapped at runtime (renewal, promotion, demotion); TLS
// configs made from Credentials read it at each handshake, so new connections present the
// new certificate while established ones carry on.
type Credentials struct {
	root    *RootCA
	roots   *x509.CertPool
	current atomic.Pointer[nodeCert]
}

// nodeCert is one certificate generation; it is never modified once published.
type nodeCert struct {
	tlsCert  *tls.Certificate // leaf, then the root, so peers that pin the root can find it
	identity NodeIdentity
}

// NewCredentials pairs a node certificate and key with the root that signed it.
func NewCredentials(root *RootCA, certPEM, keyPEM []byte) (*Credentials, error) {
	if root == nil || root.Cert == nil {
		return nil, errors.New("node credentials: a root CA certificate is required")
	}
	c := &Credentials{root: root, roots: x509.NewCertPool()}
	c.roots.AddCert(root.Cert)
	if err := c.Update(certPEM, keyPEM); err != nil {
		return nil, err
	}
	return c, nil
}

// Update replaces the node certificate and key. The certificate must be signed by the root
// and carry a node identity for the same node and cluster (only the role may change); its
// validity period is not checked here (the handshake does). Concurrent Updates are safe; the
// last one wins.
func (c *Credentials) Update(certPEM, keyPEM []byte) error {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("node credentials: certificate and key do not form a pair: %w", err)
	}
	leaf := pair.Leaf
	if leaf == nil { // x509keypairleaf=0 in GODEBUG
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return fmt.Errorf("node credentials: parse certificate: %w", err)
		}
		pair.Leaf = leaf
	}
	if err := leaf.CheckSignatureFrom(c.root.Cert); err != nil {
		return fmt.Errorf("node credentials: certificate %q is not signed by this swarm's CA: %w", leaf.Subject.CommonName, err)
	}
	id, err := IdentityFromCert(leaf)
	if err != nil {
		return fmt.Errorf("node credentials: %w", err)
	}
	if old := c.current.Load(); old != nil && (old.identity.NodeID != id.NodeID || old.identity.ClusterID != id.ClusterID) {
		return fmt.Errorf("node credentials: new certificate is for node %s in cluster %s, but these credentials are for node %s in cluster %s (only the role may change)",
			id.NodeID, id.ClusterID, old.identity.NodeID, old.identity.ClusterID)
	}
	pair.Certificate = append(pair.Certificate[:1:1], c.root.Cert.Raw)
	c.current.Store(&nodeCert{tlsCert: &pair, identity: id})
	return nil
}

// Identity is the identity in the current certificate.
func (c *Credentials) Identity() NodeIdentity { return c.current.Load().identity }

// Leaf is the current node certificate.
func (c *Credentials) Leaf() *x509.Certificate { return c.current.Load().tlsCert.Leaf }

// Root is the swarm's root CA.
func (c *Credentials) Root() *RootCA { return c.root }

// ServerTLSConfig is for the manager port. Clients with a certificate must chain to the
// root; clients without one (joining nodes) are let through, and handlers tell them apart
// with PeerIdentity. nextProtos lists the ALPN protocols the listener serves.
func (c *Credentials) ServerTLSConfig(nextProtos []string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: nextProtos,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load().tlsCert, nil
		},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  c.roots,
	}
}

// ClientTLSConfig is for dialing a manager: it presents the node certificate and accepts
// only a server that chains to the root and holds the "swarm-manager" SAN.
func (c *Credentials) ClientTLSConfig(nextProto string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: alpn(nextProto),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return c.current.Load().tlsCert, nil
		},
		RootCAs:    c.roots,
		ServerName: ManagerRole,
	}
}

// PinnedClientTLSConfig is for a joining node that has only a join token: it trusts a
// manager whose presented chain includes a self-signed CA with the token's digest, and whose
// leaf that CA signed for "swarm-manager". It presents no client certificate.
func PinnedClientTLSConfig(caDigest string, nextProto string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: alpn(nextProto),
		// The standard verification needs a root we do not have yet;
		// VerifyPeerCertificate does it against the pinned one instead.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
			return verifyPinned(caDigest, rawCerts)
		},
	}
}

func verifyPinned(caDigest string, rawCerts [][]byte) error {
	if len(rawCerts) == 0 {
		return errors.New("the manager presented no certificate")
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, der := range rawCerts {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("the manager presented an unparsable certificate: %w", err)
		}
		certs[i] = cert
	}
	var root *x509.Certificate
	for _, cert := range certs[1:] {
		if cert.IsCA && cert.CheckSignatureFrom(cert) == nil {
			root = cert
			break
		}
	}
	if root == nil {
		return errors.New("the manager presented no self-signed CA certificate to check against the join token")
	}
	if digestDER(root.Raw) != caDigest {
		return ErrDigestMismatch
	}
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, cert := range certs[1:] {
		if cert != root {
			intermediates.AddCert(cert)
		}
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		DNSName:       ManagerRole,
		Roots:         roots,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("the manager's certificate does not verify against the swarm's CA as %q: %w", ManagerRole, err)
	}
	return nil
}

// PeerIdentity is the identity of the peer of a TLS connection (r.TLS in an HTTP handler),
// taken from a verified chain. It is false when the peer presented no certificate.
func PeerIdentity(state *tls.ConnectionState) (NodeIdentity, bool) {
	if state == nil || len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) == 0 {
		return NodeIdentity{}, false
	}
	id, err := IdentityFromCert(state.VerifiedChains[0][0])
	if err != nil {
		return NodeIdentity{}, false
	}
	return id, true
}

func alpn(nextProto string) []string {
	if nextProto == "" {
		return nil
	}
	return []string{nextProto}
}

package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Roles as they appear in a node certificate's OU, as in swarmkit.
const (
	ManagerRole = "swarm-manager"
	WorkerRole  = "swarm-worker"
)

const (
	rootCommonName = "swarm-ca"
	rootValidity   = 20 * 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so a peer whose clock runs a little behind accepts a
	// certificate issued a moment ago.
	clockSkew = time.Minute

	pemCertificate   = "CERTIFICATE"
	pemECPrivateKey  = "EC PRIVATE KEY"
	pemPKCS8Key      = "PRIVATE KEY"
	pemCertRequest   = "CERTIFICATE REQUEST"
	serialNumberBits = 128
)

// RootCA is the swarm's root certificate authority. Key and KeyPEM are nil on nodes that
// only hold the certificate (workers); such a RootCA verifies but cannot issue.
type RootCA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     crypto.Signer
	KeyPEM  []byte
}

// NewRootCA makes a new self-signed root: ECDSA P-256, CN "swarm-ca", valid for 20 years
// from now (backdated by a minute for clock skew).
func NewRootCA(now time.Time) (*RootCA, error) {
	key, keyPEM, err := NewNodeKey()
	if err != nil {
		return nil, fmt.Errorf("create root CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: rootCommonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(rootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-sign root CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new root CA certificate: %w", err)
	}
	return &RootCA{
		Cert:    cert,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der}),
		Key:     key,
		KeyPEM:  keyPEM,
	}, nil
}

// ParseRootCA reads a root CA from PEM. keyPEM may be nil when only the certificate is known;
// when given, it must be the private key of the certificate.
func ParseRootCA(certPEM, keyPEM []byte) (*RootCA, error) {
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("root CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("root CA certificate %q is not a CA certificate (basic constraints CA:TRUE expected)", cert.Subject.CommonName)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		return nil, fmt.Errorf("root CA certificate %q is not self-signed: %w", cert.Subject.CommonName, err)
	}
	root := &RootCA{Cert: cert, CertPEM: certPEM}
	if keyPEM == nil {
		return root, nil
	}
	key, err := parsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("root CA key: %w", err)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, errors.New("root CA key does not match the root CA certificate (the key and certificate files come from different CAs)")
	}
	root.Key, root.KeyPEM = key, keyPEM
	return root, nil
}

// Digest is the sha256 of the certificate's DER in the form a join token carries it: a
// base-36 number, lowercase, left-padded with '0' to 50 characters.
func Digest(certPEM []byte) (string, error) {
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		return "", fmt.Errorf("CA digest: %w", err)
	}
	return digestDER(cert.Raw), nil
}

func digestDER(der []byte) string {
	sum := sha256.Sum256(der)
	return base36(new(big.Int).SetBytes(sum[:]), digestLen)
}

func parseCertificatePEM(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, fmt.Errorf("no PEM data found (a %q PEM block expected)", pemCertificate)
	}
	if block.Type != pemCertificate {
		return nil, fmt.Errorf("PEM block is %q, %q expected", block.Type, pemCertificate)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return cert, nil
}

func parsePrivateKeyPEM(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, fmt.Errorf("no PEM data found (a %q PEM block expected)", pemECPrivateKey)
	}
	switch block.Type {
	case pemECPrivateKey:
		key, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse EC private key: %w", err)
		}
		return key, nil
	case pemPKCS8Key:
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#8 private key: %w", err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("PKCS#8 key of type %T cannot sign", key)
		}
		return signer, nil
	default:
		return nil, fmt.Errorf("PEM block is %q, %q expected", block.Type, pemECPrivateKey)
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// randomSerial returns a uniformly random, non-zero 128-bit serial number.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), serialNumberBits)
	for {
		serial, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generate certificate serial number: %w", err)
		}
		if serial.Sign() > 0 {
			return serial, nil
		}
	}
}

// NewNodeKey makes an ECDSA P-256 key and its "EC PRIVATE KEY" PEM encoding.
func NewNodeKey() (key crypto.Signer, keyPEM []byte, err error) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate ECDSA P-256 key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		return nil, nil, fmt.Errorf("encode ECDSA key: %w", err)
	}
	return ecKey, pem.EncodeToMemory(&pem.Block{Type: pemECPrivateKey, Bytes: der}), nil
}

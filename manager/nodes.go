package manager

import (
	"net"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/ca"
)

// hostOf drops the port of host:port (and leaves a bare host alone).
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// tlsInfo is the swarm's trust root as Docker shows it on nodes and the swarm.
func tlsInfo(root *ca.RootCA) swarm.TLSInfo {
	return swarm.TLSInfo{
		TrustRoot:           string(root.CertPEM),
		CertIssuerSubject:   root.Cert.RawSubject,
		CertIssuerPublicKey: root.Cert.RawSubjectPublicKeyInfo,
	}
}

// TLSInfo is tlsInfo for the daemon.
func TLSInfo(root *ca.RootCA) swarm.TLSInfo { return tlsInfo(root) }

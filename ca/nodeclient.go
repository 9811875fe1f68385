package ca

import "crypto/tls"

// NodeClientTLSConfig is for a manager dialing any node's node API: it presents the node
// certificate and accepts a server that chains to the root and holds the "swarm-worker"
// SAN, which every node certificate carries.
func (c *Credentials) NodeClientTLSConfig(nextProto string) *tls.Config {
	cfg := c.ClientTLSConfig(nextProto)
	cfg.ServerName = WorkerRole
	return cfg
}

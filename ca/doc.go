// Package ca is the swarm's certificate authority: it owns the root CA (a self-signed
// ECDSA P-256 certificate and key), the join tokens that pin that root's digest, the node
// certificates that carry each node's identity (CN=node ID, OU=role, O=cluster ID), the TLS
// configurations for the single mTLS manager port, and the files that keep all of these on disk.
//
// Everything here is synchronous and takes the current time as an argument where it matters,
// so callers decide when certificates are issued, renewed or considered expired.
package ca

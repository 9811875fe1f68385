package ca

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"
)

const (
	protoAPI  = "shoal-api"
	protoRaft = "shoal-raft"
)

type handshakeResult struct {
	client, server       tls.ConnectionState
	clientErr, serverErr error
}

// handshake runs one TLS handshake over loopback TCP between the two configs.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type serverSide struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan serverSide, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- serverSide{err: err}
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		srv := tls.Server(conn, serverCfg)
		err = srv.Handshake()
		if err == nil {
			// Read the client's "done" byte so that a rejection of the client
			// certificate (checked after the client finishes) is seen by both sides.
			_, err = srv.Read(make([]byte, 1))
		}
		done <- serverSide{srv.ConnectionState(), err}
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	cli := tls.Client(conn, clientCfg)
	var res handshakeResult
	res.clientErr = cli.Handshake()
	if res.clientErr == nil {
		_, res.clientErr = cli.Write([]byte{1})
	}
	res.client = cli.ConnectionState()
	cli.Close()
	s := <-done
	res.server, res.serverErr = s.state, s.err
	return res
}

type testNode struct {
	id           NodeIdentity
	certPEM, key []byte
	creds        *Credentials
}

func newTestNode(t *testing.T, root *RootCA, id NodeIdentity) testNode {
	t.Helper()
	now := time.Now()
	certPEM, keyPEM := issueTestCert(t, root, id, now, time.Hour)
	creds, err := NewCredentials(root, certPEM, keyPEM)
	if err != nil {
		t.Fatalf("NewCredentials: %v", err)
	}
	return testNode{id, certPEM, keyPEM, creds}
}

func TestMutualTLS(t *testing.T) {
	root := newTestRoot(t, time.Now())
	mgr := newTestNode(t, root, managerID("m1"))
	wrk := newTestNode(t, root, workerID("w1"))

	res := handshake(t, mgr.creds.ServerTLSConfig([]string{protoRaft, protoAPI}), wrk.creds.ClientTLSConfig(protoAPI))
	if res.clientErr != nil || res.serverErr != nil {
		t.Fatalf("handshake: client %v, server %v", res.clientErr, res.serverErr)
	}
	if res.client.Version != tls.VersionTLS13 {
		t.Errorf("TLS version %x, want 1.3", res.client.Version)
	}
	if res.client.NegotiatedProtocol != protoAPI || res.server.NegotiatedProtocol != protoAPI {
		t.Errorf("ALPN: client %q, server %q, want %q", res.client.NegotiatedProtocol, res.server.NegotiatedProtocol, protoAPI)
	}
	if id, ok := PeerIdentity(&res.server); !ok || id != wrk.id {
		t.Errorf("server sees peer %+v (%v), want %+v", id, ok, wrk.id)
	}
	if id, ok := PeerIdentity(&res.client); !ok || id != mgr.id {
		t.Errorf("client sees peer %+v (%v), want %+v", id, ok, mgr.id)
	}
	if n := len(res.client.PeerCertificates); n != 2 {
		t.Errorf("server presented %d certificates, want leaf and root", n)
	}
}

func TestTLSRejects(t *testing.T) {
	root, foreign := newTestRoot(t, time.Now()), newTestRoot(t, time.Now())
	mgr := newTestNode(t, root, managerID("m1"))
	wrk := newTestNode(t, root, workerID("w1"))
	foreignMgr := newTestNode(t, foreign, managerID("m9"))
	foreignWrk := newTestNode(t, foreign, workerID("w9"))

	// A client of another swarm that nevertheless trusts our root, so that the server,
	// not the client, is the one to refuse.
	foreignClient := foreignWrk.creds.ClientTLSConfig(protoAPI)
	foreignClient.RootCAs = mgr.creds.roots

	tests := []struct {
		name              string
		server            *Credentials
		client            *tls.Config
		clientErr, srvErr string
	}{
		{"server from another swarm", foreignMgr.creds, wrk.creds.ClientTLSConfig(protoAPI), "certificate signed by unknown authority", ""},
		{"server is only a worker", wrk.creds, mgr.creds.ClientTLSConfig(protoAPI), "not swarm-manager", ""},
		{"client from another swarm", mgr.creds, foreignClient, "", "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := handshake(t, tt.server.ServerTLSConfig([]string{protoAPI}), tt.client)
			if tt.clientErr != "" {
				wantErr(t, res.clientErr, tt.clientErr)
			}
			if tt.srvErr != "" {
				wantErr(t, res.serverErr, tt.srvErr)
			}
		})
	}
}

func TestClientWithoutCertificate(t *testing.T) {
	root := newTestRoot(t, time.Now())
	mgr := newTestNode(t, root, managerID("m1"))
	digest, _ := Digest(root.CertPEM)

	res := handshake(t, mgr.creds.ServerTLSConfig([]string{protoAPI}), PinnedClientTLSConfig(digest, protoAPI))
	if res.clientErr != nil || res.serverErr != nil {
		t.Fatalf("handshake: client %v, server %v", res.clientErr, res.serverErr)
	}
	if id, ok := PeerIdentity(&res.server); ok {
		t.Errorf("PeerIdentity of a client without a certificate = %+v, want none", id)
	}
	if res.server.NegotiatedProtocol != protoAPI {
		t.Errorf("ALPN %q, want %q", res.server.NegotiatedProtocol, protoAPI)
	}
}

func TestPinnedClientTLSConfig(t *testing.T) {
	root, impostor := newTestRoot(t, time.Now()), newTestRoot(t, time.Now())
	mgr := newTestNode(t, root, managerID("m1"))
	wrk := newTestNode(t, root, workerID("w1"))
	impostorMgr := newTestNode(t, impostor, managerID("m1"))
	digest, _ := Digest(root.CertPEM)

	tests := []struct {
		name   string
		server *Credentials
		digest string
		err    string
	}{
		{"right digest", mgr.creds, digest, ""},
		{"wrong digest", mgr.creds, strings.Repeat("0", 50), "the manager's CA digest does not match the join token (wrong token or an impostor manager)"},
		{"impostor manager", impostorMgr.creds, digest, "the manager's CA digest does not match the join token (wrong token or an impostor manager)"},
		{"worker posing as manager", wrk.creds, digest, `does not verify against the swarm's CA as "swarm-manager"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := handshake(t, tt.server.ServerTLSConfig([]string{protoAPI}), PinnedClientTLSConfig(tt.digest, protoAPI))
			wantErr(t, res.clientErr, tt.err)
		})
	}
}

func TestVerifyPinnedWithoutRoot(t *testing.T) {
	root := newTestRoot(t, time.Now())
	mgr := newTestNode(t, root, managerID("m1"))
	digest, _ := Digest(root.CertPEM)
	err := verifyPinned(digest, [][]byte{mgr.creds.Leaf().Raw})
	wantErr(t, err, "presented no self-signed CA certificate")
	wantErr(t, verifyPinned(digest, nil), "presented no certificate")
}

func TestCredentialsUpdate(t *testing.T) {
	root := newTestRoot(t, time.Now())
	mgr := newTestNode(t, root, managerID("m1"))
	wrk := newTestNode(t, root, workerID("w1"))
	serverCfg := mgr.creds.ServerTLSConfig([]string{protoAPI})
	clientCfg := wrk.creds.ClientTLSConfig(protoAPI)

	first := handshake(t, serverCfg, clientCfg)
	if first.clientErr != nil || first.serverErr != nil {
		t.Fatalf("handshake: client %v, server %v", first.clientErr, first.serverErr)
	}

	// Renew the manager and promote the worker; the same configs must present the new certificates.
	renewedPEM, renewedKey := issueTestCert(t, root, managerID("m1"), time.Now(), 2*time.Hour)
	if err := mgr.creds.Update(renewedPEM, renewedKey); err != nil {
		t.Fatalf("Update manager: %v", err)
	}
	promotedPEM, promotedKey := issueTestCert(t, root, managerID("w1"), time.Now(), time.Hour)
	if err := wrk.creds.Update(promotedPEM, promotedKey); err != nil {
		t.Fatalf("Update worker: %v", err)
	}
	if wrk.creds.Identity().Role != ManagerRole || !wrk.creds.Leaf().Equal(mustParse(t, promotedPEM)) {
		t.Errorf("after Update, Identity %+v and Leaf do not reflect the new certificate", wrk.creds.Identity())
	}

	second := handshake(t, serverCfg, clientCfg)
	if second.clientErr != nil || second.serverErr != nil {
		t.Fatalf("handshake after Update: client %v, server %v", second.clientErr, second.serverErr)
	}
	oldSerial := first.client.PeerCertificates[0].SerialNumber
	newSerial := second.client.PeerCertificates[0].SerialNumber
	if oldSerial.Cmp(newSerial) == 0 || newSerial.Cmp(mustParse(t, renewedPEM).SerialNumber) != 0 {
		t.Errorf("server presented serial %v after Update, want the renewed %v", newSerial, mustParse(t, renewedPEM).SerialNumber)
	}
	if id, ok := PeerIdentity(&second.server); !ok || id != managerID("w1") {
		t.Errorf("server sees %+v after the client's promotion, want %+v", id, managerID("w1"))
	}
}

func TestCredentialsRejects(t *testing.T) {
	root, foreign := newTestRoot(t, time.Now()), newTestRoot(t, time.Now())
	certPEM, keyPEM := issueTestCert(t, root, workerID("w1"), time.Now(), time.Hour)
	_, otherKey := issueTestCert(t, root, workerID("w1"), time.Now(), time.Hour)
	foreignPEM, foreignKey := issueTestCert(t, foreign, workerID("w1"), time.Now(), time.Hour)
	otherNodePEM, otherNodeKey := issueTestCert(t, root, workerID("w2"), time.Now(), time.Hour)
	otherClusterPEM, otherClusterKey := issueTestCert(t, root, NodeIdentity{"w1", WorkerRole, "cluster2"}, time.Now(), time.Hour)

	if _, err := NewCredentials(nil, certPEM, keyPEM); err == nil {
		t.Errorf("NewCredentials without a root: no error")
	}
	creds, err := NewCredentials(root, certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cert, key []byte
		err       string
	}{
		{"key of another certificate", certPEM, otherKey, "certificate and key do not form a pair"},
		{"certificate of another swarm", foreignPEM, foreignKey, "is not signed by this swarm's CA"},
		{"another node", otherNodePEM, otherNodeKey, "only the role may change"},
		{"another cluster", otherClusterPEM, otherClusterKey, "only the role may change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, creds.Update(tt.cert, tt.key), tt.err)
			if creds.Identity() != workerID("w1") || !creds.Leaf().Equal(mustParse(t, certPEM)) {
				t.Errorf("a refused Update changed the credentials")
			}
		})
	}
}

func TestPeerIdentityWithoutState(t *testing.T) {
	if _, ok := PeerIdentity(nil); ok {
		t.Errorf("PeerIdentity(nil) reported an identity")
	}
	if _, ok := PeerIdentity(&tls.ConnectionState{}); ok {
		t.Errorf("PeerIdentity of an unverified connection reported an identity")
	}
}

func mustParse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

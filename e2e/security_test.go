package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoal/shoal/ca"
	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/lab"
)

// TestSecurity shows that joining needs the current token of this swarm, that a refused
// join leaves nothing behind on either side, that the worker token never makes a manager,
// and that a removed node is refused from then on. worker-2 leaves first and plays the
// outsider trying to get in.
func TestSecurity(t *testing.T) {
	l := startLab(t, lab.Options{Name: "e2esec", Managers: 1, Workers: 2})
	const mgr, outsider = "manager-1", "worker-2"
	mgrAddr := net.JoinHostPort(node(t, l, mgr).Addr.String(), "2377")

	oldID := secLocalSwarm(t, l, outsider).NodeID
	mustRun(t, l, outsider, "swarm", "leave")
	mustRun(t, l, mgr, "node", "rm", "--force", oldID)
	members := secNodeIDs(t, l, mgr)
	if len(members) != 2 {
		t.Fatalf("after %s left and was removed the swarm has nodes %v, want 2", outsider, members)
	}
	secAssertOutsider(t, l, outsider, members)

	outsiderAPI := newRawAPI(node(t, l, outsider).Socket)
	workerToken := strings.TrimSpace(mustRun(t, l, mgr, "swarm", "join-token", "-q", "worker"))
	managerToken := strings.TrimSpace(mustRun(t, l, mgr, "swarm", "join-token", "-q", "manager"))

	// refusedJoin tries to join the outsider with token and checks the refusal names the
	// problem and leaves no trace.
	refusedJoin := func(t *testing.T, token string, wantMsg ...string) {
		t.Helper()
		out, errOut, err := run(t, l, outsider, "swarm", "join", "--token", token, mgrAddr)
		if err == nil {
			t.Fatalf("join with a bad token succeeded: %s", out)
		}
		for _, want := range wantMsg {
			if !strings.Contains(errOut, want) {
				t.Errorf("join refusal %q does not say %q", strings.TrimSpace(errOut), want)
			}
		}
		if secret := secretOf(token); len(secret) > 10 && strings.Contains(errOut, secret) {
			t.Errorf("join refusal repeats the token's secret: %q", errOut)
		}
		t.Logf("refused: %s", strings.TrimSpace(errOut))
		// Through the API it is the caller's mistake, a 400, not a failure to retry.
		body, err := json.Marshal(swarm.JoinRequest{ListenAddr: "0.0.0.0:2377", RemoteAddrs: []string{mgrAddr}, JoinToken: token})
		if err != nil {
			t.Fatal(err)
		}
		status, msg, err := outsiderAPI.do("POST", "/swarm/join", "application/json", string(body))
		if err != nil || status != http.StatusBadRequest {
			t.Errorf("POST /swarm/join with a bad token: status %d, %q, %v; want 400", status, msg, err)
		}
		secAssertOutsider(t, l, outsider, members)
	}

	t.Run("keys and state readable by root only", func(t *testing.T) {
		for _, name := range []string{mgr, "worker-1"} {
			n := node(t, l, name)
			swarmDir := filepath.Join(n.DataRoot, "swarm")
			want := map[string]fs.FileMode{
				n.DataRoot: 0o700, swarmDir: 0o700, filepath.Join(swarmDir, "certificates"): 0o700,
				filepath.Join(swarmDir, "state.json"): 0o600, n.Socket: 0o660,
			}
			for _, f := range []string{ca.NodeKeyFile, ca.NodeCertFile, ca.RootCertFile} {
				want[filepath.Join(swarmDir, "certificates", f)] = 0o600
			}
			if name == mgr {
				want[filepath.Join(swarmDir, "raft")] = 0o700
			}
			for path, mode := range want {
				st, err := os.Stat(path)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if st.Mode().Perm() != mode {
					t.Errorf("%s: %s has mode %o, want %o", name, path, st.Mode().Perm(), mode)
				}
			}
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		refusedJoin(t, alterPart(t, workerToken, 3), "A valid join token is necessary")
		refusedJoin(t, alterPart(t, managerToken, 3), "A valid join token is necessary")
	})

	t.Run("wrong CA digest", func(t *testing.T) {
		refusedJoin(t, alterPart(t, workerToken, 2), "CA digest does not match the join token")
	})

	t.Run("malformed token", func(t *testing.T) {
		refusedJoin(t, "SWMTKN-1-abc-def", "invalid join token", "CA digest is 3 characters, 50 expected")
	})

	t.Run("token of another swarm", func(t *testing.T) {
		// The outsider founds a swarm of its own, keeps its token and leaves it again.
		mustRun(t, l, outsider, "swarm", "init", "--advertise-addr", node(t, l, outsider).Addr.String())
		foreign := strings.TrimSpace(mustRun(t, l, outsider, "swarm", "join-token", "-q", "worker"))
		mustRun(t, l, outsider, "swarm", "leave", "--force")
		secAssertOutsider(t, l, outsider, members)
		if digestOf(foreign) == digestOf(workerToken) {
			t.Fatal("two swarms share a CA digest")
		}
		refusedJoin(t, foreign, "CA digest does not match the join token")
	})

	t.Run("worker token never makes a manager", func(t *testing.T) {
		mustRun(t, l, outsider, "swarm", "join", "--token", workerToken, mgrAddr)
		info := secLocalSwarm(t, l, outsider)
		if info.LocalNodeState != swarm.LocalNodeStateActive || info.ControlAvailable {
			t.Errorf("joined with the worker token: state %s, control available %v; want active and not a manager", info.LocalNodeState, info.ControlAvailable)
		}
		n := secInspectNode(t, l, mgr, info.NodeID)
		if n.Spec.Role != swarm.NodeRoleWorker || n.ManagerStatus != nil {
			t.Errorf("node joined with the worker token has role %s and manager status %+v; want a worker", n.Spec.Role, n.ManagerStatus)
		}
		if got := secLocalSwarm(t, l, mgr).Managers; got != 1 {
			t.Errorf("the swarm has %d managers after a worker joined, want 1", got)
		}
		if _, errOut, err := run(t, l, outsider, "node", "ls"); err == nil || !strings.Contains(errOut, "not a swarm manager") {
			t.Errorf("node ls on a worker: err %v, stderr %q; want a refusal saying it is not a manager", err, errOut)
		}
		// Its certificate says worker, and the managers refuse manager-only requests made
		// with it.
		creds := secNodeCreds(t, l, outsider)
		if role := creds.Identity().Role; role != ca.WorkerRole {
			t.Errorf("certificate of a node joined with the worker token has role %s, want %s", role, ca.WorkerRole)
		}
		err := secClusterCall(t, creds, mgrAddr, clusterapi.PathRaftJoin, clusterapi.RaftJoinRequest{NodeID: info.NodeID, Addr: mgrAddr}, nil)
		if apierr.KindOf(err) != apierr.KindForbidden {
			t.Errorf("raft join with a worker certificate: %v; want forbidden", err)
		}
		err = secClusterCall(t, creds, mgrAddr, clusterapi.PathPropose, clusterapi.ProposeRequest{}, nil)
		if apierr.KindOf(err) != apierr.KindForbidden {
			t.Errorf("raft proposal with a worker certificate: %v; want forbidden", err)
		}
		mustRun(t, l, outsider, "swarm", "leave")
		mustRun(t, l, mgr, "node", "rm", "--force", info.NodeID)
		secAssertOutsider(t, l, outsider, members)
	})

	t.Run("rotated token", func(t *testing.T) {
		out := mustRun(t, l, mgr, "swarm", "join-token", "--rotate", "worker")
		if !strings.Contains(out, "Successfully rotated worker join token.") {
			t.Errorf("join-token --rotate printed %q", out)
		}
		rotated := strings.TrimSpace(mustRun(t, l, mgr, "swarm", "join-token", "-q", "worker"))
		if rotated == workerToken {
			t.Fatal("the worker token did not change")
		}
		if !strings.Contains(out, rotated) {
			t.Errorf("join-token --rotate printed %q, which lacks the new token", out)
		}
		if digestOf(rotated) != digestOf(workerToken) {
			t.Errorf("rotation changed the CA digest")
		}
		if got := strings.TrimSpace(mustRun(t, l, mgr, "swarm", "join-token", "-q", "manager")); got != managerToken {
			t.Errorf("rotating the worker token changed the manager token")
		}
		refusedJoin(t, workerToken, "A valid join token is necessary", "rotated")
		mustRun(t, l, mgr, "swarm", "join-token", "--rotate", "-q", "manager")
		if got := strings.TrimSpace(mustRun(t, l, mgr, "swarm", "join-token", "-q", "manager")); got == managerToken {
			t.Error("the manager token did not change")
		}
		refusedJoin(t, managerToken, "A valid join token is necessary")

		mustRun(t, l, outsider, "swarm", "join", "--token", rotated, mgrAddr)
		id := secLocalSwarm(t, l, outsider).NodeID
		eventually(t, 10*time.Second, "the node joined with the rotated token is Ready", func() error {
			if s := secInspectNode(t, l, mgr, id).Status.State; s != swarm.NodeStateReady {
				return fmt.Errorf("state %s", s)
			}
			return nil
		})
		mustRun(t, l, outsider, "swarm", "leave")
		mustRun(t, l, mgr, "node", "rm", "--force", id)
		secAssertOutsider(t, l, outsider, members)
	})

	t.Run("removed node is refused", func(t *testing.T) {
		const victim = "worker-1"
		id := secLocalSwarm(t, l, victim).NodeID
		if _, errOut, err := run(t, l, mgr, "node", "rm", victim); err == nil || !strings.Contains(errOut, "--force") {
			t.Fatalf("node rm of a Ready node without --force: err %v, stderr %q; want a refusal pointing at --force", err, errOut)
		}
		creds := secNodeCreds(t, l, victim) // taken before, as an attacker would keep them
		mustRun(t, l, mgr, "node", "rm", "--force", victim)

		took := eventually(t, 10*l.DispatcherHeartbeat(), victim+" learns it was removed", func() error {
			info := secLocalSwarm(t, l, victim)
			if info.LocalNodeState != swarm.LocalNodeStateError || !strings.Contains(info.Error, "removed") {
				return fmt.Errorf("state %s, error %q", info.LocalNodeState, info.Error)
			}
			return nil
		})
		info := secLocalSwarm(t, l, victim)
		t.Logf("%s in state %s %s after removal: %q", victim, info.LocalNodeState, took.Round(time.Millisecond), info.Error)
		if !strings.Contains(info.Error, "swarm leave") {
			t.Errorf("the removed node's error %q does not say how to get out (swarm leave)", info.Error)
		}

		// The managers refuse the removed node's certificate, whatever it asks.
		for _, path := range []string{clusterapi.PathHeartbeat, clusterapi.PathRenew} {
			var req any = clusterapi.HeartbeatRequest{NodeID: id}
			if path == clusterapi.PathRenew {
				req = clusterapi.RenewRequest{CSRPEM: secCSR(t)}
			}
			err := secClusterCall(t, creds, mgrAddr, path, req, nil)
			if apierr.KindOf(err) != apierr.KindForbidden || !strings.Contains(err.Error(), "removed") {
				t.Errorf("%s with a removed node's certificate: %v; want forbidden, saying the node was removed", path, err)
			}
		}

		// It does not come back: not over several heartbeats, not after its daemon restarts.
		if err := l.Stop(victim, lab.StopOptions{DaemonOnly: true}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Start(ctx, victim); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(4 * l.DispatcherHeartbeat())
		for time.Now().Before(deadline) {
			if ids := secNodeIDs(t, l, mgr); slices.Contains(ids, id) {
				t.Fatalf("removed node %s is back in node ls: %v", id, ids)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if info := secLocalSwarm(t, l, victim); info.LocalNodeState != swarm.LocalNodeStateError {
			t.Errorf("after a restart the removed node is in state %s (%q), want error", info.LocalNodeState, info.Error)
		}

		// The way out works: leave, and it is an outsider like any other.
		mustRun(t, l, victim, "swarm", "leave")
		secAssertOutsider(t, l, victim, slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == id }))
	})
}

// TestCertificateRenewal shows node certificates renewing themselves before they expire:
// with the shortest validity the daemon allows, each node's certificate file changes
// (new serial, later expiry) before the old one runs out, and the nodes stay Ready past the
// expiry of the certificates they started with.
func TestCertificateRenewal(t *testing.T) {
	const expiry = 30 * time.Second
	l := startLab(t, lab.Options{Name: "e2ecert", Managers: 1, Workers: 1, CertExpiry: expiry})
	names := []string{"manager-1", "worker-1"}
	first := map[string]*x509.Certificate{}
	for _, name := range names {
		first[name], _ = secReadNodeCert(t, l, name)
		if v := first[name].NotAfter.Sub(first[name].NotBefore); v > expiry+2*time.Minute {
			t.Fatalf("%s's certificate is valid for %s; the swarm was made with --cert-expiry %s", name, v, expiry)
		}
	}

	// Watch every node's certificate file until each has been renewed once. The file's
	// modification time is when the node stored the renewed certificate.
	renewed := map[string]bool{}
	for len(renewed) < len(names) {
		for _, name := range names {
			if renewed[name] {
				continue
			}
			old := first[name]
			cur, stored := secReadNodeCert(t, l, name)
			if cur.SerialNumber.Cmp(old.SerialNumber) == 0 {
				if time.Now().After(old.NotAfter) {
					t.Fatalf("%s's certificate (serial %x) expired at %s without being renewed", name, old.SerialNumber, old.NotAfter.Format(time.RFC3339))
				}
				continue
			}
			renewed[name] = true
			// The node renews at 50-80% of the life its certificate was issued with (the CA
			// backdates NotBefore by a minute for lagging clocks; that minute does not count).
			issued := old.NotBefore.Add(time.Minute)
			life := old.NotAfter.Sub(issued)
			frac := float64(stored.Sub(issued)) / float64(life)
			t.Logf("%s renewed its certificate %s after issue (%.0f%% of its %s life), %s before it expired; the new one is valid until %s",
				name, stored.Sub(issued).Round(time.Millisecond), 100*frac, life, old.NotAfter.Sub(stored).Round(time.Millisecond), cur.NotAfter.Format(time.TimeOnly))
			if 2*stored.Sub(issued) < life-10*time.Millisecond {
				t.Errorf("%s renewed its certificate at %.0f%% of its life, before the 50%% the design sets", name, 100*frac)
			}
			if !stored.Before(old.NotAfter) {
				t.Errorf("%s stored its renewed certificate at %s, after the old one expired (%s)", name, stored.Format(time.RFC3339Nano), old.NotAfter.Format(time.RFC3339))
			}
			if !cur.NotAfter.After(old.NotAfter) {
				t.Errorf("%s's renewed certificate expires at %s, not after the old one (%s)", name, cur.NotAfter, old.NotAfter)
			}
			if cur.Subject.CommonName != old.Subject.CommonName || !slices.Equal(cur.Subject.OrganizationalUnit, old.Subject.OrganizationalUnit) {
				t.Errorf("%s's renewed certificate is for %s/%v, the old one for %s/%v", name, cur.Subject.CommonName, cur.Subject.OrganizationalUnit, old.Subject.CommonName, old.Subject.OrganizationalUnit)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Outlive the first certificates: everything still works on the renewed ones.
	var latest time.Time
	for _, c := range first {
		if c.NotAfter.After(latest) {
			latest = c.NotAfter
		}
	}
	time.Sleep(time.Until(latest) + 2*l.DispatcherHeartbeat())
	for _, name := range names {
		cur, _ := secReadNodeCert(t, l, name)
		if !time.Now().Before(cur.NotAfter) {
			t.Errorf("%s's certificate file holds an expired certificate (until %s)", name, cur.NotAfter)
		}
		info := secLocalSwarm(t, l, name)
		if info.LocalNodeState != swarm.LocalNodeStateActive {
			t.Errorf("%s is in state %s (%q) after its first certificate expired", name, info.LocalNodeState, info.Error)
		}
		n := secInspectNode(t, l, "manager-1", info.NodeID)
		if n.Status.State != swarm.NodeStateReady {
			t.Errorf("%s is %s after its first certificate expired, want ready", name, n.Status.State)
		}
	}
	// A write through the manager still works: the leader's own certificate has renewed too.
	mustRun(t, l, "manager-1", "node", "update", "--label-add", "renewed=yes", "worker-1")
}

// secAssertOutsider checks that a node is in no swarm and keeps no swarm state, and that
// manager-1's node list is exactly members.
func secAssertOutsider(t *testing.T, l *lab.Lab, name string, members []string) {
	t.Helper()
	info := secLocalSwarm(t, l, name)
	if info.LocalNodeState != swarm.LocalNodeStateInactive || info.NodeID != "" {
		t.Errorf("%s: swarm state %s (node ID %q, error %q), want inactive", name, info.LocalNodeState, info.NodeID, info.Error)
	}
	dir := filepath.Join(node(t, l, name).DataRoot, "swarm")
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		entries, _ := os.ReadDir(dir)
		t.Errorf("%s keeps swarm state in %s (%d entries, stat: %v)", name, dir, len(entries), err)
	}
	if got := secNodeIDs(t, l, "manager-1"); !slices.Equal(got, members) {
		t.Errorf("the swarm's nodes are %v, want %v", got, members)
	}
}

// secCallTimeout bounds one API call a test makes.
const secCallTimeout = 30 * time.Second

// secClient is a moby client for one node, for one call: polling loops make many, and
// each closes its connections when done.
func secClient(t *testing.T, l *lab.Lab, name string) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost(node(t, l, name).Host()), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// secLocalSwarm is the Swarm section of a node's /info.
func secLocalSwarm(t *testing.T, l *lab.Lab, name string) swarm.Info {
	t.Helper()
	c := secClient(t, l, name)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), secCallTimeout)
	defer cancel()
	res, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatalf("info on %s: %v", name, err)
	}
	return res.Info.Swarm
}

// secNodeIDs lists the swarm's node IDs, sorted, as a manager sees them.
func secNodeIDs(t *testing.T, l *lab.Lab, mgr string) []string {
	t.Helper()
	c := secClient(t, l, mgr)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), secCallTimeout)
	defer cancel()
	res, err := c.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		t.Fatalf("node list on %s: %v", mgr, err)
	}
	var ids []string
	for _, n := range res.Items {
		ids = append(ids, n.ID)
	}
	slices.Sort(ids)
	return ids
}

func secInspectNode(t *testing.T, l *lab.Lab, mgr, ref string) swarm.Node {
	t.Helper()
	c := secClient(t, l, mgr)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), secCallTimeout)
	defer cancel()
	res, err := c.NodeInspect(ctx, ref, client.NodeInspectOptions{})
	if err != nil {
		t.Fatalf("node inspect %s on %s: %v", ref, mgr, err)
	}
	return res.Node
}

// secNodeCreds loads the TLS identity a node keeps on disk.
func secNodeCreds(t *testing.T, l *lab.Lab, name string) *ca.Credentials {
	t.Helper()
	rootPEM, certPEM, keyPEM, err := ca.LoadNodeCredentials(filepath.Join(node(t, l, name).DataRoot, "swarm", "certificates"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := ca.ParseRootCA(rootPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ca.NewCredentials(root, certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// secClusterCall makes one cluster API call to a manager, presenting creds.
func secClusterCall(t *testing.T, creds *ca.Credentials, addr, path string, req, resp any) error {
	t.Helper()
	c := clusterapi.NewClient(creds.ClientTLSConfig(clusterapi.ProtoAPI))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), secCallTimeout)
	defer cancel()
	return c.Call(ctx, addr, path, req, resp)
}

func secCSR(t *testing.T) []byte {
	t.Helper()
	key, _, err := ca.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ca.NewCSR(key)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// secReadNodeCert parses the node certificate a node keeps on disk and says when the file
// was written.
func secReadNodeCert(t *testing.T, l *lab.Lab, name string) (*x509.Certificate, time.Time) {
	t.Helper()
	path := filepath.Join(node(t, l, name).DataRoot, "swarm", "certificates", ca.NodeCertFile)
	f, err := os.Open(path) // one file: renewal replaces it by rename
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s's node certificate file holds no PEM block", name)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s's node certificate: %v", name, err)
	}
	return cert, st.ModTime()
}

// alterPart changes one character in the middle of a join token's part (2: the CA digest,
// 3: the secret), keeping the token well-formed.
func alterPart(t *testing.T, token string, part int) string {
	t.Helper()
	parts := strings.Split(token, "-")
	if len(parts) != 4 {
		t.Fatalf("token %q has %d parts", token, len(parts))
	}
	b := []byte(parts[part])
	i := len(b) / 2
	if b[i] == '0' {
		b[i] = '1'
	} else {
		b[i] = '0'
	}
	parts[part] = string(b)
	return strings.Join(parts, "-")
}

func digestOf(token string) string { return strings.Split(token, "-")[2] }

func secretOf(token string) string {
	parts := strings.Split(token, "-")
	return parts[len(parts)-1]
}

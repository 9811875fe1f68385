package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

func TestSwarmInitGolden(t *testing.T) {
	d := newClusterDaemon(t)
	out := mustRun(t, d, "swarm", "init", "--advertise-addr", "10.99.0.11", "--task-history-limit", "10")
	assertGolden(t, "swarm-init", out)

	var req swarm.InitRequest
	if err := json.Unmarshal(d.lastWrite("POST /swarm/init").Body, &req); err != nil {
		t.Fatal(err)
	}
	if req.ListenAddr != "0.0.0.0:2377" || req.AdvertiseAddr != "10.99.0.11" || req.SubnetSize != 24 || req.Availability != "" {
		t.Errorf("init request %+v: want docker's defaults and the advertise address", req)
	}
	// Only the flags given go into the spec; the daemon fills in the rest.
	if l := req.Spec.Orchestration.TaskHistoryRetentionLimit; l == nil || *l != 10 {
		t.Errorf("task history limit = %v, want 10", l)
	}
	if req.Spec.Dispatcher.HeartbeatPeriod != 0 || req.Spec.CAConfig.NodeCertExpiry != 0 || req.Spec.Raft.KeepOldSnapshots != nil {
		t.Errorf("spec %+v carries settings that were not given", req.Spec)
	}
}

func TestSwarmInitFlags(t *testing.T) {
	d := newClusterDaemon(t)
	mustRun(t, d, "swarm", "init", "--listen-addr", "eth0", "--availability", "drain", "--cert-expiry", "48h",
		"--dispatcher-heartbeat", "2s", "--default-addr-pool", "10.20.0.0/16,10.30.0.0/16", "--default-addr-pool-mask-length", "26",
		"--data-path-port", "7789", "--force-new-cluster")
	var req swarm.InitRequest
	if err := json.Unmarshal(d.lastWrite("POST /swarm/init").Body, &req); err != nil {
		t.Fatal(err)
	}
	if req.ListenAddr != "eth0:2377" || req.Availability != swarm.NodeAvailabilityDrain || !req.ForceNewCluster ||
		req.DataPathPort != 7789 || req.SubnetSize != 26 {
		t.Errorf("init request %+v", req)
	}
	if len(req.DefaultAddrPool) != 2 || req.DefaultAddrPool[1].String() != "10.30.0.0/16" {
		t.Errorf("address pools %v", req.DefaultAddrPool)
	}
	if req.Spec.CAConfig.NodeCertExpiry != 48*time.Hour || req.Spec.Dispatcher.HeartbeatPeriod != 2*time.Second {
		t.Errorf("spec %+v", req.Spec)
	}
}

func TestSwarmInitAutolockGolden(t *testing.T) {
	d := newClusterDaemon(t)
	assertGolden(t, "swarm-init-autolock", mustRun(t, d, "swarm", "init", "--autolock"))
}

func TestSwarmJoinTokenGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"join-token-worker", []string{"swarm", "join-token", "worker"}},
		{"join-token-manager", []string{"swarm", "join-token", "manager"}},
		{"join-token-worker-quiet", []string{"swarm", "join-token", "-q", "worker"}},
		{"join-token-manager-rotate", []string{"swarm", "join-token", "--rotate", "manager"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			d := newClusterDaemon(t)
			assertGolden(t, tt.golden, mustRun(t, d, tt.args...))
		})
	}
}

func TestSwarmJoinTokenRotateSendsFlag(t *testing.T) {
	d := newClusterDaemon(t)
	out := mustRun(t, d, "swarm", "join-token", "--rotate", "-q", "worker")
	if out != "SWMTKN-1-digestdigestdigest-workersecret-rotated\n" {
		t.Errorf("output %q, want only the new token", out)
	}
	q := d.lastWrite("POST /swarm/update").Query
	if q.Get("rotateWorkerToken") != "true" || q.Get("rotateManagerToken") != "false" || q.Get("version") != "11" {
		t.Errorf("update query %v", q)
	}
}

// Without its own manager status, the join address comes from the node's entry in the
// list of remote managers.
func TestSwarmJoinTokenAddressFromRemoteManagers(t *testing.T) {
	d := newClusterDaemon(t)
	for i := range d.nodes {
		d.nodes[i].ManagerStatus = nil
	}
	out := mustRun(t, d, "swarm", "join-token", "worker")
	if !strings.Contains(out, "shoal swarm join --token SWMTKN-1-digestdigestdigest-workersecret 10.99.0.11:2377\n") {
		t.Errorf("output %q lacks the join command through 10.99.0.11:2377", out)
	}
}

func TestSwarmJoin(t *testing.T) {
	for _, manager := range []bool{false, true} {
		d := newClusterDaemon(t)
		d.info.Swarm = swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}
		d.joinAsManager = manager
		out := mustRun(t, d, "swarm", "join", "--token", "SWMTKN-1-x-y", "--advertise-addr", "10.99.0.30", "10.99.0.11:2377")
		want := "This node joined a swarm as a worker.\n"
		if manager {
			want = "This node joined a swarm as a manager.\n"
		}
		if out != want {
			t.Errorf("output %q, want %q", out, want)
		}
		var req swarm.JoinRequest
		if err := json.Unmarshal(d.lastWrite("POST /swarm/join").Body, &req); err != nil {
			t.Fatal(err)
		}
		if req.JoinToken != "SWMTKN-1-x-y" || req.ListenAddr != "0.0.0.0:2377" || req.AdvertiseAddr != "10.99.0.30" ||
			len(req.RemoteAddrs) != 1 || req.RemoteAddrs[0] != "10.99.0.11:2377" {
			t.Errorf("join request %+v", req)
		}
	}
}

func TestSwarmLeave(t *testing.T) {
	d := newClusterDaemon(t)
	if out := mustRun(t, d, "swarm", "leave", "-f"); out != "Node left the swarm.\n" {
		t.Errorf("output %q", out)
	}
	if q := d.lastWrite("POST /swarm/leave").Query; q.Get("force") != "1" {
		t.Errorf("query %v, want force=1", q)
	}
}

func TestSwarmUpdateChangesOnlyGivenFlags(t *testing.T) {
	d := newClusterDaemon(t)
	before := d.swarm.Spec
	out := mustRun(t, d, "swarm", "update", "--cert-expiry", "720h", "--task-history-limit", "2")
	if out != "Swarm updated.\n" {
		t.Errorf("output %q", out)
	}
	req := d.lastWrite("POST /swarm/update")
	if req.Query.Get("version") != "11" {
		t.Errorf("version %q, want the one read (11)", req.Query.Get("version"))
	}
	var spec swarm.Spec
	if err := json.Unmarshal(req.Body, &spec); err != nil {
		t.Fatal(err)
	}
	want := before
	want.CAConfig.NodeCertExpiry = 720 * time.Hour
	want.Orchestration.TaskHistoryRetentionLimit = ptr[int64](2)
	if !equalJSON(t, spec, want) {
		t.Errorf("spec sent\n got %+v\nwant %+v", spec, want)
	}
}

func TestSwarmUpdateAutolockPrintsKey(t *testing.T) {
	d := newClusterDaemon(t)
	out := mustRun(t, d, "swarm", "update", "--autolock=true")
	if !strings.HasPrefix(out, "Swarm updated.\nTo unlock a swarm manager after it restarts, run the `shoal swarm unlock`\n") ||
		!strings.Contains(out, "\n    SWMKEY-1-fixtureunlockkey\n") {
		t.Errorf("output %q", out)
	}
}

func TestSwarmUpdateWithoutFlagsShowsHelp(t *testing.T) {
	d := newClusterDaemon(t)
	out := mustRun(t, d, "swarm", "update")
	if !strings.Contains(out, "Usage:\n  shoal swarm update [OPTIONS]") {
		t.Errorf("output %q, want the help", out)
	}
	if len(d.all()) != 0 {
		t.Errorf("requests %v, want none", d.all())
	}
}

func TestSwarmUnlockKey(t *testing.T) {
	d := newClusterDaemon(t)
	if out := mustRun(t, d, "swarm", "unlock-key", "-q"); out != "SWMKEY-1-fixtureunlockkey\n" {
		t.Errorf("output %q", out)
	}
	_, _, err := runShoal(t, d, "swarm", "unlock-key", "--rotate")
	if err == nil || err.Error() != "cannot rotate because autolock is not turned on" {
		t.Errorf("rotate without autolock: err = %v", err)
	}
	d.unlockKey = ""
	if _, _, err := runShoal(t, d, "swarm", "unlock-key"); err == nil || err.Error() != "no unlock key is set" {
		t.Errorf("no key: err = %v", err)
	}
}

func TestSwarmUnlock(t *testing.T) {
	d := newClusterDaemon(t)
	if _, _, err := runShoal(t, d, "swarm", "unlock"); err == nil || err.Error() != "swarm is not locked" {
		t.Errorf("active node: err = %v", err)
	}
	d.info.Swarm.LocalNodeState = swarm.LocalNodeStateLocked
	if _, _, err := runShoalWithInput(t, d, "SWMKEY-1-typed\n", "swarm", "unlock"); err != nil {
		t.Fatal(err)
	}
	var req swarm.UnlockRequest
	if err := json.Unmarshal(d.lastWrite("POST /swarm/unlock").Body, &req); err != nil {
		t.Fatal(err)
	}
	if req.UnlockKey != "SWMKEY-1-typed" {
		t.Errorf("unlock key sent %q", req.UnlockKey)
	}
}

// Commands the daemon does not serve yet pass its answer on.
func TestSwarmDaemonErrorsReachTheUser(t *testing.T) {
	d := newClusterDaemon(t)
	d.fail("POST /swarm/unlock", 501, "swarm unlock: not implemented yet")
	d.info.Swarm.LocalNodeState = swarm.LocalNodeStateLocked
	_, _, err := runShoalWithInput(t, d, "key\n", "swarm", "unlock")
	if err == nil || !strings.Contains(err.Error(), "swarm unlock: not implemented yet") {
		t.Errorf("err = %v", err)
	}
}

func TestSwarmCA(t *testing.T) {
	d := newClusterDaemon(t)
	if out := mustRun(t, d, "swarm", "ca"); out != strings.TrimSpace(clusterTLS.TrustRoot)+"\n" {
		t.Errorf("output %q, want the trust root", out)
	}
	_, _, err := runShoal(t, d, "swarm", "ca", "--cert-expiry", "24h")
	if err == nil || !strings.Contains(err.Error(), "requires the `--rotate` flag") {
		t.Errorf("err = %v", err)
	}
	mustRun(t, d, "swarm", "ca", "--rotate", "-d")
	var spec swarm.Spec
	if err := json.Unmarshal(d.lastWrite("POST /swarm/update").Body, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.CAConfig.ForceRotate != 1 {
		t.Errorf("ForceRotate = %d, want 1", spec.CAConfig.ForceRotate)
	}
}

func TestRootRotationProgress(t *testing.T) {
	sw := swarm.Swarm{ClusterInfo: swarm.ClusterInfo{TLSInfo: clusterTLS}}
	nodes := fixtureNodes() // worker-2 still has the old certificate and root
	text, done := rootRotationProgress(sw, nodes)
	if done || !strings.Contains(text, "rotated TLS certificates: 5/6 nodes") || !strings.Contains(text, "rotated CA certificates: 0/6 nodes") {
		t.Errorf("progress %q done=%v", text, done)
	}
	for i := range nodes {
		nodes[i].Description.TLSInfo = clusterTLS
	}
	if text, done := rootRotationProgress(sw, nodes); !done || !strings.Contains(text, "rotated CA certificates: 6/6 nodes") {
		t.Errorf("progress %q done=%v, want done", text, done)
	}
}

func TestParseTCPAddr(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"", "0.0.0.0:2377", false},
		{"eth0", "eth0:2377", false},
		{"10.0.0.1:4000", "10.0.0.1:4000", false},
		{":4000", "0.0.0.0:4000", false},
		{"tcp://10.0.0.1", "10.0.0.1:2377", false},
		{"[::1]", "[::1]:2377", false},
		{"[::1]:", "[::1]:2377", false},
		{"udp://10.0.0.1", "", true},
		{"10.0.0.1:http", "", true},
		{"10.0.0.1:99999", "", true},
	}
	for _, tt := range tests {
		got, err := parseTCPAddr(tt.in, "0.0.0.0:2377")
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("parseTCPAddr(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

package cli

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
)

// IDs of the fixture cluster's nodes (25 characters, like swarm's).
const (
	idManager1  = "m1abcdefghijklmnopqrstuvw"
	idManager2  = "m2abcdefghijklmnopqrstuvw"
	idManager10 = "m10bcdefghijklmnopqrstuvw"
	idWorker1   = "w1abcdefghijklmnopqrstuvw"
	idWorker2   = "w2abcdefghijklmnopqrstuvw"
	idWorker10  = "w10bcdefghijklmnopqrstuvw"
)

var (
	fixtureTime = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	clusterTLS  = swarm.TLSInfo{
		TrustRoot:           "-----BEGIN CERTIFICATE-----\nMIIBfixture\n-----END CERTIFICATE-----\n",
		CertIssuerSubject:   []byte("issuer-subject"),
		CertIssuerPublicKey: []byte("issuer-public-key"),
	}
)

func TestMain(m *testing.M) {
	// The client's own build facts vary by toolchain and checkout; golden files need them fixed.
	thisBuild = clientVersion{
		Version:           "0.1.0-test",
		DefaultAPIVersion: fakeAPIVersion,
		GitCommit:         "abc1234",
		GoVersion:         "go1.26.8",
		Os:                "linux",
		Arch:              "amd64",
		BuildTime:         "Mon Jan  5 10:00:00 2026",
	}
	os.Exit(m.Run())
}

func ptr[T any](v T) *T { return &v }

// newClusterDaemon is a fake daemon on manager-1, the leader of a swarm of three managers
// and three workers.
func newClusterDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	d := newFakeDaemon(t)
	d.nodes = fixtureNodes()
	d.swarm = swarm.Swarm{
		ClusterInfo: swarm.ClusterInfo{
			ID:   "clusteridabcdefghijklmnop",
			Meta: swarm.Meta{Version: swarm.Version{Index: 11}, CreatedAt: fixtureTime, UpdatedAt: fixtureTime},
			Spec: swarm.Spec{
				Annotations:   swarm.Annotations{Name: "default", Labels: map[string]string{}},
				Orchestration: swarm.OrchestrationConfig{TaskHistoryRetentionLimit: ptr[int64](5)},
				Raft:          swarm.RaftConfig{SnapshotInterval: 10000, KeepOldSnapshots: ptr[uint64](0), LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1},
				Dispatcher:    swarm.DispatcherConfig{HeartbeatPeriod: 5 * time.Second},
				CAConfig:      swarm.CAConfig{NodeCertExpiry: 90 * 24 * time.Hour},
			},
			TLSInfo:         clusterTLS,
			DefaultAddrPool: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			SubnetSize:      24,
			DataPathPort:    4789,
		},
		JoinTokens: swarm.JoinTokens{
			Worker:  "SWMTKN-1-digestdigestdigest-workersecret",
			Manager: "SWMTKN-1-digestdigestdigest-managersecret",
		},
	}
	d.unlockKey = "SWMKEY-1-fixtureunlockkey"
	cluster := d.swarm.ClusterInfo
	d.info = system.Info{
		ID:                "NODEID-OF-THE-DAEMON",
		Containers:        3,
		ContainersRunning: 2,
		ContainersStopped: 1,
		Images:            2,
		ServerVersion:     "0.1.0-test",
		Swarm: swarm.Info{
			NodeID:           idManager1,
			NodeAddr:         "10.99.0.11",
			LocalNodeState:   swarm.LocalNodeStateActive,
			ControlAvailable: true,
			RemoteManagers: []swarm.Peer{
				{NodeID: idManager2, Addr: "10.99.0.12:2377"},
				{NodeID: idManager1, Addr: "10.99.0.11:2377"},
				{NodeID: idManager10, Addr: "10.99.0.13:2377"},
			},
			Nodes:    6,
			Managers: 3,
			Cluster:  &cluster,
		},
		KernelVersion:   "6.8.0-test",
		OperatingSystem: "Debian GNU/Linux 13 (trixie)",
		OSType:          "linux",
		Architecture:    "x86_64",
		NCPU:            4,
		MemTotal:        8 << 30,
		Name:            "manager-1",
		DockerRootDir:   "/var/lib/shoal",
	}
	d.version = system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "Shoal"},
		Version:       "0.1.0-test",
		APIVersion:    fakeAPIVersion,
		MinAPIVersion: "1.40",
		Os:            "linux",
		Arch:          "amd64",
		Components: []system.ComponentVersion{{
			Name:    "Engine",
			Version: "0.1.0-test",
			Details: map[string]string{
				"ApiVersion":    fakeAPIVersion,
				"MinAPIVersion": "1.40",
				"GitCommit":     "def5678",
				"GoVersion":     "go1.26.8",
				"Os":            "linux",
				"Arch":          "amd64",
				"BuildTime":     "2026-01-05T10:00:00.000000000+00:00",
				"Experimental":  "false",
			},
		}},
	}
	return d
}

func fixtureNodes() []swarm.Node {
	node := func(id, hostname string, role swarm.NodeRole, avail swarm.NodeAvailability, state swarm.NodeState, addr string) swarm.Node {
		return swarm.Node{
			ID:   id,
			Meta: swarm.Meta{Version: swarm.Version{Index: 20}, CreatedAt: fixtureTime, UpdatedAt: fixtureTime},
			Spec: swarm.NodeSpec{
				Annotations:  swarm.Annotations{Labels: map[string]string{}},
				Role:         role,
				Availability: avail,
			},
			Description: swarm.NodeDescription{
				Hostname:  hostname,
				Platform:  swarm.Platform{Architecture: "x86_64", OS: "linux"},
				Resources: swarm.Resources{NanoCPUs: 4e9, MemoryBytes: 8 << 30},
				Engine:    swarm.EngineDescription{EngineVersion: "0.1.0-test"},
				TLSInfo:   clusterTLS,
			},
			Status: swarm.NodeStatus{State: state, Addr: addr},
		}
	}
	m1 := node(idManager1, "manager-1", swarm.NodeRoleManager, swarm.NodeAvailabilityActive, swarm.NodeStateReady, "10.99.0.11")
	m1.ManagerStatus = &swarm.ManagerStatus{Leader: true, Reachability: swarm.ReachabilityReachable, Addr: "10.99.0.11:2377"}
	m1.Spec.Labels = map[string]string{"zone": "a", "ssd": ""}
	m1.Description.Engine.Labels = map[string]string{"engine": "label"}
	m1.Description.Engine.Plugins = []swarm.PluginDescription{
		{Type: "Network", Name: "overlay"}, {Type: "Network", Name: "bridge"}, {Type: "Volume", Name: "local"},
	}
	m2 := node(idManager2, "manager-2", swarm.NodeRoleManager, swarm.NodeAvailabilityActive, swarm.NodeStateReady, "10.99.0.12")
	m2.ManagerStatus = &swarm.ManagerStatus{Reachability: swarm.ReachabilityReachable, Addr: "10.99.0.12:2377"}
	m10 := node(idManager10, "manager-10", swarm.NodeRoleManager, swarm.NodeAvailabilityActive, swarm.NodeStateDown, "10.99.0.13")
	m10.ManagerStatus = &swarm.ManagerStatus{Reachability: swarm.ReachabilityUnreachable, Addr: "10.99.0.13:2377"}
	m10.Status.Message = "heartbeat failure"
	w1 := node(idWorker1, "worker-1", swarm.NodeRoleWorker, swarm.NodeAvailabilityActive, swarm.NodeStateReady, "10.99.0.21")
	w1.Spec.Labels = map[string]string{"old": "x"}
	w2 := node(idWorker2, "worker-2", swarm.NodeRoleWorker, swarm.NodeAvailabilityDrain, swarm.NodeStateReady, "10.99.0.22")
	w2.Description.TLSInfo = swarm.TLSInfo{TrustRoot: "old root", CertIssuerSubject: []byte("old"), CertIssuerPublicKey: []byte("old")}
	w10 := node(idWorker10, "worker-10", swarm.NodeRoleWorker, swarm.NodeAvailabilityPause, swarm.NodeStateDown, "10.99.0.23")
	w10.Description.Engine.EngineVersion = "0.0.9"
	// The daemon's order is not the listing's: node ls sorts.
	return []swarm.Node{w10, m2, w1, m10, w2, m1}
}

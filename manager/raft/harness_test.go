package raft

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/shoal/shoal/internal/apierr"
)

var raftLogs = flag.Bool("raftlogs", false, "print raft's own logs while testing")

// kvFSM is a key/value state machine. Commands are "set k=v", which always
// succeeds, and "create k=v", which answers a Conflict error if k exists.
type kvFSM struct {
	mu       sync.Mutex
	data     map[string]string
	restores int // how many times a snapshot was restored
}

func newKVFSM() *kvFSM { return &kvFSM{data: map[string]string{}} }

func (f *kvFSM) Apply(_ uint64, cmd []byte) error {
	verb, kv, _ := strings.Cut(string(cmd), " ")
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return apierr.Invalidf("bad command %q: want \"set k=v\" or \"create k=v\"", cmd)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch verb {
	case "set":
	case "create":
		if _, exists := f.data[k]; exists {
			return apierr.Conflictf("key %q already exists", k)
		}
	default:
		return apierr.Invalidf("bad command %q: unknown verb %q", cmd, verb)
	}
	f.data[k] = v
	return nil
}

func (f *kvFSM) Snapshot() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return json.Marshal(f.data)
}

func (f *kvFSM) Restore(b []byte) error {
	data := map[string]string{}
	if err := json.Unmarshal(b, &data); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data = data
	f.restores++
	return nil
}

func (f *kvFSM) get(k string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.data[k]
	return v, ok
}

func (f *kvFSM) restoreCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restores
}

// testCluster is an in-process set of nodes over in-memory transports, with
// partitions, restarts and Forward routed through a map of the nodes.
type testCluster struct {
	t    *testing.T
	opts clusterOpts
	dir  string // parent of the nodes' DataDirs

	mu    sync.Mutex
	nodes map[string]*testNode // by ID
	cut   map[string]bool      // IDs isolated from every other node
}

type clusterOpts struct {
	onDisk bool          // give every node a DataDir
	tune   func(*Config) // adjust each node's config
}

type testNode struct {
	id    string
	dir   string
	trans *hraft.InmemTransport
	fsm   *kvFSM
	node  *Node // nil while stopped
}

// newCluster starts size nodes: the first bootstraps, the leader adds the rest.
func newCluster(t *testing.T, size int, opts clusterOpts) *testCluster {
	t.Helper()
	c := &testCluster{t: t, opts: opts, dir: t.TempDir(), nodes: map[string]*testNode{}, cut: map[string]bool{}}
	t.Cleanup(c.stopAll) // runs before the TempDir is removed
	first := c.start(nodeID(1), startOpts{bootstrap: true})
	waitFor(t, "the first node to lead", func() bool { return first.node.IsLeader() })
	for i := 2; i <= size; i++ {
		tn := c.start(nodeID(i), startOpts{})
		// On a busy machine the short test timeouts may cost the leader its term while a
		// manager is added; adding is idempotent, so ask whoever leads next.
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			var leader *testNode
			waitFor(t, "a leader to add "+tn.id, func() bool {
				for _, cand := range c.running() {
					if cand.node.IsLeader() {
						leader = cand
						return true
					}
				}
				return false
			})
			if err = leader.node.AddVoter(context.Background(), tn.id, tn.id); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("adding %s: %v", tn.id, err)
		}
	}
	// Until a follower has the final configuration it refuses votes from
	// managers it does not know, so losing the leader right after a join
	// could leave the others unable to elect anyone. Tests start from a
	// settled cluster.
	for _, tn := range c.running() {
		waitFor(t, tn.id+" to know all managers", func() bool {
			servers, err := tn.node.Servers()
			return err == nil && len(servers) == size
		})
	}
	return c
}

func nodeID(i int) string { return fmt.Sprintf("manager-%d", i) }

type startOpts struct {
	bootstrap, forceNewCluster bool
}

// start (re)starts node id with a fresh transport and FSM, reusing its
// DataDir, and connects it to every node that is not cut off.
func (c *testCluster) start(id string, so startOpts) *testNode {
	c.t.Helper()
	c.mu.Lock()
	tn := c.nodes[id]
	if tn == nil {
		tn = &testNode{id: id}
		if c.opts.onDisk {
			tn.dir = filepath.Join(c.dir, id)
		}
		c.nodes[id] = tn
	}
	// A short RPC timeout keeps shutdowns quick when a peer is gone.
	_, tn.trans = hraft.NewInmemTransportWithTimeout(hraft.ServerAddress(id), 200*time.Millisecond)
	tn.fsm = newKVFSM()
	c.mu.Unlock()
	c.link(id)

	cfg := Config{
		ID:                 id,
		DataDir:            tn.dir,
		Transport:          tn.trans,
		Bootstrap:          so.bootstrap,
		ForceNewCluster:    so.forceNewCluster,
		Forward:            c.forwarder(id),
		ApplyTimeout:       time.Second,
		HeartbeatTimeout:   100 * time.Millisecond,
		ElectionTimeout:    100 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		Logger:             slog.New(slog.DiscardHandler),
	}
	if *raftLogs {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", id)
	}
	if c.opts.tune != nil {
		c.opts.tune(&cfg)
	}
	n, err := New(cfg, tn.fsm)
	if err != nil {
		c.t.Fatalf("starting %s: %v", id, err)
	}
	c.mu.Lock()
	tn.node = n
	c.mu.Unlock()
	return tn
}

// forwarder hands proposals to the leader as the daemon's RPC would, failing
// like a network would when either end is cut off or stopped.
func (c *testCluster) forwarder(from string) func(context.Context, string, string, []byte) (uint64, error) {
	return func(ctx context.Context, leaderID, _ string, cmd []byte) (uint64, error) {
		c.mu.Lock()
		target := c.nodes[leaderID]
		unreachable := c.cut[from] || c.cut[leaderID] || target == nil || target.node == nil
		var leader *Node
		if !unreachable {
			leader = target.node
		}
		c.mu.Unlock()
		if unreachable {
			return 0, apierr.Unavailablef("cannot reach the leader %s from %s", leaderID, from)
		}
		return leader.ProposeAsLeader(ctx, cmd)
	}
}

// link connects id both ways with every node that is not cut off.
func (c *testCluster) link(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.nodes[id]
	for otherID, b := range c.nodes {
		if otherID == id || c.cut[otherID] || b.trans == nil {
			continue
		}
		a.trans.Connect(hraft.ServerAddress(otherID), b.trans)
		b.trans.Connect(hraft.ServerAddress(id), a.trans)
	}
}

// isolate cuts id off from every other node.
func (c *testCluster) isolate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut[id] = true
	a := c.nodes[id]
	for otherID, b := range c.nodes {
		if otherID != id {
			a.trans.Disconnect(hraft.ServerAddress(otherID))
			b.trans.Disconnect(hraft.ServerAddress(id))
		}
	}
}

// heal reconnects id to every node that is not cut off.
func (c *testCluster) heal(id string) {
	c.mu.Lock()
	delete(c.cut, id)
	c.mu.Unlock()
	c.link(id)
}

// stop shuts node id down, keeping its DataDir.
func (c *testCluster) stop(id string) {
	c.t.Helper()
	c.mu.Lock()
	tn := c.nodes[id]
	n := tn.node
	tn.node = nil
	c.mu.Unlock()
	if n == nil {
		return
	}
	if err := n.Shutdown(); err != nil {
		c.t.Errorf("shutting down %s: %v", id, err)
	}
}

func (c *testCluster) stopAll() {
	for _, id := range c.ids() {
		c.stop(id)
	}
}

func (c *testCluster) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for id := range c.nodes {
		ids = append(ids, id)
	}
	return ids
}

// running returns the nodes that are started.
func (c *testCluster) running() []*testNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var up []*testNode
	for _, tn := range c.nodes {
		if tn.node != nil {
			up = append(up, tn)
		}
	}
	return up
}

func (c *testCluster) get(id string) *testNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// leader waits until exactly one of the running nodes outside any cut
// leads and every one of those agrees, and returns it.
func (c *testCluster) leader() *testNode {
	c.t.Helper()
	var leader *testNode
	waitFor(c.t, "one leader that every reachable node agrees on", func() bool {
		leader = nil
		var reachable []*testNode
		for _, tn := range c.running() {
			c.mu.Lock()
			cut := c.cut[tn.id]
			c.mu.Unlock()
			if cut {
				continue
			}
			reachable = append(reachable, tn)
			if tn.node.IsLeader() {
				if leader != nil {
					return false
				}
				leader = tn
			}
		}
		if leader == nil {
			return false
		}
		for _, tn := range reachable {
			if id, _ := tn.node.Leader(); id != leader.id {
				return false
			}
		}
		return true
	})
	return leader
}

// follower returns a running, reachable node that is not the leader.
func (c *testCluster) follower() *testNode {
	c.t.Helper()
	leader := c.leader()
	for _, tn := range c.running() {
		c.mu.Lock()
		cut := c.cut[tn.id]
		c.mu.Unlock()
		if tn != leader && !cut {
			return tn
		}
	}
	c.t.Fatal("no follower is running")
	return nil
}

// waitValue waits until every given node's FSM holds k=v.
func waitValue(t *testing.T, k, v string, nodes ...*testNode) {
	t.Helper()
	for _, tn := range nodes {
		waitFor(t, fmt.Sprintf("%s=%s on %s", k, v, tn.id), func() bool {
			got, ok := tn.fsm.get(k)
			return ok && got == v
		})
	}
}

// waitFor polls cond until it holds, failing the test after a bound far
// above what a healthy run needs.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func propose(t *testing.T, n *Node, cmd string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Propose(ctx, []byte(cmd)); err != nil {
		t.Fatalf("proposing %q: %v", cmd, err)
	}
}

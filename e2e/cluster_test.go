package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/lab"
	"github.com/shoal/shoal/manager/dispatcher"
)

// TestCluster drives one 3-manager + 2-worker lab through the life of a cluster, in order:
// it forms, survives the loss of its leader, notices a dead worker, promotes, demotes and
// removes nodes, and keeps its identities across a restart of every daemon. The subtests
// share the lab (building one takes most of the time), so each starts from the state the
// one before left; the first failure stops the rest.
func TestCluster(t *testing.T) {
	started := time.Now()
	l := startLab(t, lab.Options{Name: "e2ecluster", Managers: 3, Workers: 2, DispatcherHeartbeat: time.Second})
	t.Logf("lab up: 3 managers + 2 workers in %s", time.Since(started).Round(time.Millisecond))
	c := &clusterLab{l: l, managers: []string{"manager-1", "manager-2", "manager-3"}}

	runSteps(t, []step{
		{"forms", c.forms},
		{"leader-failover", c.leaderFailover},
		{"killed-worker", c.killedWorker},
		{"promote-demote-rm", c.promoteDemoteRemove},
		{"restart-every-daemon", c.restartEveryDaemon},
	})
}

// clusterLab is the shared lab and what the steps learn about it.
type clusterLab struct {
	l        *lab.Lab
	managers []string // the nodes that are managers now
	ids      map[string]string
}

// forms: every manager lists the same five Ready nodes with exactly one leader, and
// workers refuse to list.
func (c *clusterLab) forms(t *testing.T) {
	view := c.agreedView(t, c.managers, 30*time.Second, func(v clusterView) error {
		return v.check(5, "", c.managers)
	})
	c.ids = map[string]string{}
	for host, n := range view {
		c.ids[host] = n.ID
	}
	t.Logf("node ls on every manager:\n%s", view)
	for _, w := range []string{"worker-1", "worker-2"} {
		expectRefused(t, c.l, w, "not a swarm manager", "node", "ls")
	}
}

// leaderFailover kills the leader's daemon (SIGKILL, link cut), measures how long until a
// write through another manager succeeds, checks the old leader shows Unreachable and
// Down while healthy nodes stay Ready, then restarts it and sees it Reachable again.
func (c *clusterLab) leaderFailover(t *testing.T) {
	view := c.agreedView(t, c.managers, 10*time.Second, func(v clusterView) error { return v.check(5, "", c.managers) })
	leader := view.leader()
	var others []string
	for _, m := range c.managers {
		if m != leader {
			others = append(others, m)
		}
	}
	via := others[0]
	// The write the test times must work before the leader goes.
	mustRun(t, c.l, via, "node", "update", "--label-add", "failover=before", "worker-1")

	logOffsets := map[string]int64{}
	for _, m := range others {
		if fi, err := os.Stat(node(t, c.l, m).Log); err == nil {
			logOffsets[m] = fi.Size()
		}
	}
	killed := time.Now()
	if err := c.l.Stop(leader, lab.StopOptions{DaemonOnly: true}); err != nil {
		t.Fatalf("stop %s: %v", leader, err)
	}
	attempts := 0
	var lastErr error
	for {
		attempts++
		// A write sent before the survivors elect a leader waits on the dead one; a short
		// deadline per attempt keeps the measurement close to the real failover time.
		_, lastErr = runTimeout(t, c.l, via, time.Second, "node", "update", "--label-add", "failover=after", "worker-1")
		if lastErr == nil {
			break
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("no write through %s succeeded within 30s of killing the leader %s (%d attempts): %v", via, leader, attempts, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	failover := time.Since(killed)
	t.Logf("failover: %s from kill -9 of the leader %s to the first successful write through %s (%d attempts)",
		failover.Round(time.Millisecond), leader, via, attempts)

	// The old leader is Down and Unreachable on the survivors, which agree on a new
	// leader; no healthy node is marked Down by the change of leader.
	var sawDown []string
	waited := c.eventuallyAgreed(t, others, 20*time.Second, "the old leader "+leader+" shown Down and Unreachable", func(v clusterView) error {
		for host, n := range v {
			if host != leader && n.Status != "Ready" && !slices.Contains(sawDown, host) {
				sawDown = append(sawDown, host)
			}
		}
		if err := v.check(5, leader, others); err != nil {
			return err
		}
		if old := v[leader]; old.Status != "Down" || old.ManagerStatus != "Unreachable" {
			return fmt.Errorf("old leader %s is %s/%s, want Down/Unreachable", leader, old.Status, old.ManagerStatus)
		}
		return nil
	})
	t.Logf("old leader %s shown Down/Unreachable %s after the kill; new leader %s", leader,
		(failover + waited).Round(time.Millisecond), c.view(t, via).leader())
	if len(sawDown) > 0 {
		t.Errorf("the change of leader marked healthy nodes not Ready: %v", sawDown)
	}
	// The survivors' logs since the kill name no node but the old leader as down (a node
	// marked Down and Ready again between two looks would escape the views above).
	time.Sleep(c.l.DispatcherHeartbeat())
	for _, m := range others {
		data, err := os.ReadFile(node(t, c.l, m).Log)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data[logOffsets[m]:]), "\n") {
			if strings.Contains(line, "node is down") && !strings.Contains(line, "node="+c.ids[leader]) {
				t.Errorf("after the leader change, %s marked a healthy node down: %s", m, line)
			}
		}
	}
	labels := c.inspect(t, via, "worker-1").Spec.Labels
	if labels["failover"] != "after" {
		t.Errorf("worker-1 labels after failover = %v, want failover=after", labels)
	}

	restarted := time.Now()
	if err := c.l.Start(context.Background(), leader); err != nil {
		t.Fatalf("start %s: %v", leader, err)
	}
	c.eventuallyAgreed(t, c.managers, 30*time.Second, "the old leader "+leader+" Ready and Reachable again", func(v clusterView) error {
		return v.check(5, "", c.managers)
	})
	t.Logf("old leader %s Ready and %s again %s after its restart", leader, c.view(t, via)[leader].ManagerStatus, time.Since(restarted).Round(time.Millisecond))
}

// killedWorker stops a worker's whole host and sees it Down within three heartbeat periods
// (plus slack for the check interval and the CLI), then Ready after it starts again.
func (c *clusterLab) killedWorker(t *testing.T) {
	hb := c.l.DispatcherHeartbeat()
	c.agreedView(t, c.managers, 10*time.Second, func(v clusterView) error { return v.check(5, "", c.managers) })
	stopped := time.Now()
	if err := c.l.Stop("worker-2", lab.StopOptions{}); err != nil {
		t.Fatalf("stop worker-2: %v", err)
	}
	c.eventuallyAgreed(t, c.managers, 3*hb+5*time.Second, "worker-2 Down", func(v clusterView) error {
		if s := v["worker-2"].Status; s != "Down" {
			return fmt.Errorf("worker-2 is %q", s)
		}
		return nil
	})
	t.Logf("down detection: worker-2 Down on every manager %s after it stopped (heartbeat %s, limit 3 periods = %s)",
		time.Since(stopped).Round(time.Millisecond), hb, 3*hb)
	if err := c.l.Start(context.Background(), "worker-2"); err != nil {
		t.Fatalf("start worker-2: %v", err)
	}
	ready := c.eventuallyAgreed(t, c.managers, 20*time.Second, "worker-2 Ready again", func(v clusterView) error {
		return v.check(5, "", c.managers)
	})
	t.Logf("worker-2 Ready again %s after its restart", ready.Round(time.Millisecond))
}

// promoteDemoteRemove: a promoted worker becomes a Reachable manager that answers node ls;
// demoted, it is a worker again that refuses; managers and up nodes are not removed
// without demotion or --force; a removed node is refused by the swarm.
func (c *clusterLab) promoteDemoteRemove(t *testing.T) {
	all := append(slices.Clone(c.managers), "worker-1")
	mustRun(t, c.l, "manager-1", "node", "promote", "worker-1")
	took := c.eventuallyAgreed(t, all, 60*time.Second, "worker-1 a Reachable manager on every manager and on itself", func(v clusterView) error {
		return v.check(5, "", all)
	})
	t.Logf("worker-1 promoted and answering node ls after %s", took.Round(time.Millisecond))
	if role := c.inspect(t, "manager-2", "worker-1").Spec.Role; role != swarm.NodeRoleManager {
		t.Errorf("worker-1's role after promotion = %q, want manager", role)
	}
	if got := infoField(t, c.l, "worker-1", "{{.Swarm.ControlAvailable}} {{.Swarm.Managers}}"); got != "true 4" {
		t.Errorf("info on worker-1 after promotion: ControlAvailable and Managers = %q, want \"true 4\"", got)
	}

	mustRun(t, c.l, "manager-1", "node", "demote", "worker-1")
	took = c.eventuallyAgreed(t, c.managers, 60*time.Second, "worker-1 a worker again", func(v clusterView) error {
		return v.check(5, "", c.managers)
	})
	eventually(t, 30*time.Second, "worker-1 refusing node ls after demotion", func() error {
		out, err := runTimeout(t, c.l, "worker-1", 10*time.Second, "node", "ls")
		if err == nil {
			return fmt.Errorf("node ls on worker-1 still answers:\n%s", out)
		}
		if !strings.Contains(err.Error(), "not a swarm manager") {
			return err
		}
		return nil
	})
	t.Logf("worker-1 demoted after %s", took.Round(time.Millisecond))
	if role := c.inspect(t, "manager-3", "worker-1").Spec.Role; role != swarm.NodeRoleWorker {
		t.Errorf("worker-1's role after demotion = %q, want worker", role)
	}
	if got := infoField(t, c.l, "manager-1", "{{.Swarm.Managers}}"); got != "3" {
		t.Errorf("managers after demotion = %s, want 3", got)
	}
	// The swarm still takes writes with its three managers.
	mustRun(t, c.l, "manager-2", "node", "update", "--label-add", "demoted=yes", "worker-1")

	expectRefused(t, c.l, "manager-1", "must be demoted", "node", "rm", "manager-2")
	expectRefused(t, c.l, "manager-1", "must be demoted", "node", "rm", "--force", "manager-3")
	expectRefused(t, c.l, "manager-1", "not down", "node", "rm", "worker-2")
	c.agreedView(t, c.managers, 10*time.Second, func(v clusterView) error { return v.check(5, "", c.managers) })

	removedID := c.ids["worker-2"]
	mustRun(t, c.l, "manager-1", "node", "rm", "--force", "worker-2")
	c.eventuallyAgreed(t, c.managers, 10*time.Second, "worker-2 gone from node ls", func(v clusterView) error {
		return v.check(4, "", c.managers)
	})
	expectRefused(t, c.l, "manager-2", "No such node: "+removedID, "node", "inspect", removedID)
	took = eventually(t, 15*time.Second, "worker-2 refused by the swarm", func() error {
		state := infoField(t, c.l, "worker-2", "{{.Swarm.LocalNodeState}}|{{.Swarm.Error}}")
		if !strings.HasPrefix(state, "error|") || !strings.Contains(state, "removed") {
			return fmt.Errorf("worker-2's LocalNodeState|Error = %q, want error|...removed...", state)
		}
		return nil
	})
	t.Logf("worker-2 knows it was removed %s after node rm: %s", took.Round(time.Millisecond),
		infoField(t, c.l, "worker-2", "{{.Swarm.Error}}"))
	logData, _ := os.ReadFile(node(t, c.l, "worker-2").Log)
	if !strings.Contains(string(logData), "was removed from the swarm") {
		t.Errorf("worker-2's log does not show the swarm refusing its certificate")
	}
}

// restartEveryDaemon kills every daemon, starts them all again, and checks the swarm kept
// node IDs, roles, labels and join tokens, elects a leader and has every node Ready.
func (c *clusterLab) restartEveryDaemon(t *testing.T) {
	mustRun(t, c.l, "manager-1", "node", "update", "--label-add", "keep=m2", "manager-2")
	mustRun(t, c.l, "manager-1", "node", "update", "--label-add", "keep=w1", "worker-1")
	before := c.identities(t, "manager-1")
	tokens := c.joinTokens(t, "manager-2")
	selfIDs := map[string]string{}
	for _, n := range c.l.Nodes() {
		selfIDs[n.Name] = infoField(t, c.l, n.Name, "{{.Swarm.NodeID}}")
	}

	stopped := time.Now()
	for _, n := range c.l.Nodes() {
		if err := c.l.Stop(n.Name, lab.StopOptions{DaemonOnly: true}); err != nil {
			t.Fatalf("stop %s: %v", n.Name, err)
		}
	}
	for _, n := range c.l.Nodes() {
		if err := c.l.Start(context.Background(), n.Name); err != nil {
			t.Fatalf("start %s: %v", n.Name, err)
		}
	}
	took := c.eventuallyAgreed(t, c.managers, 60*time.Second, "the swarm back with a leader and every node Ready", func(v clusterView) error {
		return v.check(4, "", c.managers)
	})
	t.Logf("every daemon restarted; swarm back with a leader and all nodes Ready %s after the first kill (%s after the last start)",
		time.Since(stopped).Round(time.Millisecond), took.Round(time.Millisecond))
	// Ready right after the restart may be the state from before it; past the new leader's
	// grace for nodes it has not heard from, Ready means every node reports to it.
	time.Sleep(time.Duration(dispatcher.LeaderChangeGrace+1) * c.l.DispatcherHeartbeat())
	if _, err := c.sameView(t, c.managers, func(v clusterView) error { return v.check(4, "", c.managers) }); err != nil {
		t.Errorf("after the new leader's grace period: %v", err)
	}

	for _, m := range c.managers {
		after := c.identities(t, m)
		if !slices.Equal(before, after) {
			t.Errorf("nodes as %s sees them after the restart differ from before:\nbefore: %v\nafter:  %v", m, before, after)
		}
	}
	if after := c.joinTokens(t, "manager-3"); after != tokens {
		t.Errorf("join tokens changed across the restart:\nbefore: %v\nafter:  %v", tokens, after)
	}
	for name, id := range selfIDs {
		if got := infoField(t, c.l, name, "{{.Swarm.NodeID}}"); got != id {
			t.Errorf("%s's node ID after the restart = %q, want %q", name, got, id)
		}
	}
	// The removed node stays refused across its restart.
	if state := infoField(t, c.l, "worker-2", "{{.Swarm.LocalNodeState}}"); state != "error" {
		t.Errorf("removed worker-2's LocalNodeState after the restart = %q, want error", state)
	}
	mustRun(t, c.l, "manager-3", "node", "update", "--label-add", "after=restart", "worker-1")
}

// nodeLine is one row of node ls.
type nodeLine struct {
	ID, Hostname, Status, Availability, ManagerStatus string
}

// clusterView is node ls as one manager shows it, by hostname.
type clusterView map[string]nodeLine

func (v clusterView) String() string {
	var lines []string
	for _, n := range v {
		lines = append(lines, fmt.Sprintf("%s %s %s %s %s", n.Hostname, n.ID, n.Status, n.Availability, n.ManagerStatus))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func (v clusterView) leader() string {
	for host, n := range v {
		if n.ManagerStatus == "Leader" {
			return host
		}
	}
	return ""
}

// check says whether v is a healthy swarm of size nodes whose managers are exactly
// managers, with one leader: every node but skip is Ready and Active, every manager but
// skip is Leader or Reachable.
func (v clusterView) check(size int, skip string, managers []string) error {
	if len(v) != size {
		return fmt.Errorf("%d nodes listed, want %d:\n%s", len(v), size, v)
	}
	leaders := 0
	for host, n := range v {
		isManager := slices.Contains(managers, host)
		if host == skip {
			isManager = true
		} else {
			if n.Status != "Ready" || n.Availability != "Active" {
				return fmt.Errorf("%s is %s/%s, want Ready/Active", host, n.Status, n.Availability)
			}
			if isManager && n.ManagerStatus != "Leader" && n.ManagerStatus != "Reachable" {
				return fmt.Errorf("manager %s has manager status %q, want Leader or Reachable", host, n.ManagerStatus)
			}
		}
		if !isManager && n.ManagerStatus != "" {
			return fmt.Errorf("worker %s has manager status %q", host, n.ManagerStatus)
		}
		if n.ManagerStatus == "Leader" {
			leaders++
		}
	}
	for _, m := range managers {
		if _, ok := v[m]; !ok {
			return fmt.Errorf("manager %s is not listed", m)
		}
	}
	if leaders != 1 {
		return fmt.Errorf("%d leaders, want 1:\n%s", leaders, v)
	}
	if skip != "" && v.leader() == skip {
		return fmt.Errorf("%s is still shown as leader", skip)
	}
	return nil
}

const nodeLineFormat = "{{.ID}}|{{.Hostname}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}"

// readView runs node ls on one node.
func (c *clusterLab) readView(t *testing.T, on string) (clusterView, error) {
	out, err := runTimeout(t, c.l, on, 10*time.Second, "node", "ls", "--format", nodeLineFormat)
	if err != nil {
		return nil, err
	}
	v := clusterView{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 5 {
			return nil, fmt.Errorf("node ls on %s: unexpected line %q", on, line)
		}
		n := nodeLine{ID: strings.TrimSuffix(strings.TrimSpace(f[0]), " *"), Hostname: f[1], Status: f[2], Availability: f[3], ManagerStatus: f[4]}
		if _, dup := v[n.Hostname]; dup {
			return nil, fmt.Errorf("node ls on %s lists %s twice:\n%s", on, n.Hostname, out)
		}
		v[n.Hostname] = n
	}
	return v, nil
}

func (c *clusterLab) view(t *testing.T, on string) clusterView {
	t.Helper()
	v, err := c.readView(t, on)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sameView reads node ls on every one of nodes and requires them to agree and pass check.
func (c *clusterLab) sameView(t *testing.T, nodes []string, check func(clusterView) error) (clusterView, error) {
	var first clusterView
	for _, on := range nodes {
		v, err := c.readView(t, on)
		if err != nil {
			return nil, err
		}
		if err := check(v); err != nil {
			return nil, fmt.Errorf("as %s sees it: %w", on, err)
		}
		if first == nil {
			first = v
		} else if v.String() != first.String() {
			return nil, fmt.Errorf("node ls differs between %s and %s:\n%s\n---\n%s", nodes[0], on, first, v)
		}
	}
	return first, nil
}

// eventuallyAgreed waits until every one of nodes shows the same node ls passing check.
func (c *clusterLab) eventuallyAgreed(t *testing.T, nodes []string, timeout time.Duration, what string, check func(clusterView) error) time.Duration {
	t.Helper()
	return eventually(t, timeout, what, func() error {
		_, err := c.sameView(t, nodes, check)
		return err
	})
}

// agreedView is eventuallyAgreed returning the view.
func (c *clusterLab) agreedView(t *testing.T, nodes []string, timeout time.Duration, check func(clusterView) error) clusterView {
	t.Helper()
	var v clusterView
	eventually(t, timeout, "the managers agree on a healthy swarm", func() error {
		var err error
		v, err = c.sameView(t, nodes, check)
		return err
	})
	return v
}

func (c *clusterLab) inspect(t *testing.T, on, ref string) swarm.Node {
	t.Helper()
	var nodes []swarm.Node
	decodeJSON(t, mustRun(t, c.l, on, "node", "inspect", ref), &nodes)
	if len(nodes) != 1 {
		t.Fatalf("node inspect %s on %s returned %d nodes", ref, on, len(nodes))
	}
	return nodes[0]
}

// identities lists every node as hostname, ID, role and labels, sorted.
func (c *clusterLab) identities(t *testing.T, on string) []string {
	t.Helper()
	ids := strings.Fields(mustRun(t, c.l, on, "node", "ls", "-q"))
	var nodes []swarm.Node
	decodeJSON(t, mustRun(t, c.l, on, append([]string{"node", "inspect"}, ids...)...), &nodes)
	var out []string
	for _, n := range nodes {
		labels, _ := json.Marshal(n.Spec.Labels)
		out = append(out, fmt.Sprintf("%s id=%s role=%s labels=%s", n.Description.Hostname, n.ID, n.Spec.Role, labels))
	}
	slices.Sort(out)
	return out
}

func (c *clusterLab) joinTokens(t *testing.T, on string) [2]string {
	t.Helper()
	var tokens [2]string
	for i, role := range []string{"worker", "manager"} {
		tokens[i] = strings.TrimSpace(mustRun(t, c.l, on, "swarm", "join-token", "-q", role))
		if !strings.HasPrefix(tokens[i], "SWMTKN-1-") {
			t.Fatalf("swarm join-token -q %s on %s = %q", role, on, tokens[i])
		}
	}
	return tokens
}

// runTimeout runs the shoal CLI against a node with its own deadline; the error carries
// stderr.
func runTimeout(t *testing.T, l *lab.Lab, nodeName string, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, shoalBin(t), args...)
	cmd.Env = append(os.Environ(), "SHOAL_HOST="+node(t, l, nodeName).Host())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("shoal %s on %s: %w: %s", strings.Join(args, " "), nodeName, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// expectRefused runs a command that must fail with a message containing want.
func expectRefused(t *testing.T, l *lab.Lab, nodeName, want string, args ...string) {
	t.Helper()
	out, errOut, err := run(t, l, nodeName, args...)
	if err == nil {
		t.Errorf("shoal %s on %s succeeded, want a refusal mentioning %q:\n%s", strings.Join(args, " "), nodeName, want, out)
		return
	}
	if !strings.Contains(errOut, want) {
		t.Errorf("shoal %s on %s: stderr %q does not mention %q", strings.Join(args, " "), nodeName, strings.TrimSpace(errOut), want)
	}
}

// infoField is `info --format` on a node, trimmed.
func infoField(t *testing.T, l *lab.Lab, nodeName, format string) string {
	t.Helper()
	return strings.TrimSpace(mustRun(t, l, nodeName, "info", "--format", format))
}

// TestLabDownLeavesNothing builds a small lab, leaves it as a failed test might (a stopped
// node, a stray process in a node, a mount under the lab's directory), takes it down, and
// looks for every kind of trace by name: processes, namespaces, links, mounts and state.
// It also checks, on the one-manager swarm, that the last manager cannot be demoted.
func TestLabDownLeavesNothing(t *testing.T) {
	const name = "e2edown"
	l := startLab(t, lab.Options{Name: name, Managers: 1, Workers: 1})
	dir := l.Dir()

	expectRefused(t, l, "manager-1", "last manager", "node", "demote", "manager-1")

	var st struct {
		HostLink    string
		SwitchNetns string
		Nodes       []lab.Node
	}
	data, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	decodeJSON(t, string(data), &st)
	if st.HostLink == "" || st.SwitchNetns == "" || len(st.Nodes) != 2 {
		t.Fatalf("lab.json lacks the lab's link, switch or nodes: %s", data)
	}
	if !strings.Contains(ipOut(t, "-o", "link", "show"), st.HostLink+"@") {
		t.Fatalf("the lab's link %s is not in the root namespace before down", st.HostLink)
	}
	// A failed test may leave a node stopped, a process in a node and a mount behind.
	if err := l.Stop("worker-1", lab.StopOptions{DaemonOnly: true}); err != nil {
		t.Fatal(err)
	}
	stray := l.Exec(context.Background(), "manager-1", "sleep", "3600")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	defer stray.Process.Kill()
	waited := make(chan struct{})
	go func() { _ = stray.Wait(); close(waited) }()
	mnt := filepath.Join(st.Nodes[0].DataRoot, "e2e-mount")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a tmpfs under the lab: %v", err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)

	if err := lab.Down(name); err != nil {
		t.Fatalf("lab down: %v", err)
	}

	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Errorf("a process left in manager-1's namespace survived lab down")
	}
	for _, ns := range strings.Fields(ipOut(t, "netns", "list")) {
		if strings.HasPrefix(ns, "shoal-"+name+"-") {
			t.Errorf("namespace %s left after lab down", ns)
		}
	}
	for _, n := range append([]string{st.SwitchNetns}, st.Nodes[0].Netns, st.Nodes[1].Netns) {
		if _, err := os.Lstat(filepath.Join("/run/netns", n)); err == nil {
			t.Errorf("/run/netns/%s left after lab down", n)
		}
		if _, err := os.Lstat(filepath.Join("/etc/netns", n)); err == nil {
			t.Errorf("/etc/netns/%s left after lab down", n)
		}
	}
	if links := ipOut(t, "-o", "link", "show"); strings.Contains(links, st.HostLink) {
		t.Errorf("link %s left in the root namespace after lab down:\n%s", st.HostLink, links)
	}
	if _, err := os.Lstat(dir); err == nil {
		t.Errorf("%s left after lab down", dir)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			t.Errorf("mount left under %s after lab down: %s", dir, line)
		}
	}
	for _, pid := range processesMentioning(t, dir) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		t.Errorf("process %d still runs after lab down: %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	}
	for _, n := range st.Nodes {
		if n.PID > 0 && syscall.Kill(n.PID, 0) == nil {
			if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", n.PID)); bytes.Contains(cmdline, []byte(dir)) {
				t.Errorf("%s's daemon (pid %d) still runs after lab down", n.Name, n.PID)
			}
		}
	}
	labs, err := lab.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range labs {
		if s.Name == name {
			t.Errorf("lab ls still lists %s (%s) after lab down", name, s.Status)
		}
	}
}

func ipOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// processesMentioning lists live processes whose command line contains s.
func processesMentioning(t *testing.T, s string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		if bytes.Contains(cmdline, []byte(s)) {
			if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(stat), ") Z ") {
				continue // a zombie holds nothing
			}
			pids = append(pids, pid)
		}
	}
	return pids
}

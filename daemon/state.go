package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// nodeState is what a node remembers of its swarm membership across restarts.
type nodeState struct {
	NodeID          string
	ClusterID       string
	Role            swarm.NodeRole // the role of the certificate the node holds
	ListenAddr      string
	AdvertiseAddr   string
	Managers        []swarm.Peer
	HeartbeatPeriod time.Duration
	// Removed is set when the swarm refused this node as removed.
	Removed string `json:",omitempty"`
}

func (d *Daemon) swarmDir() string { return filepath.Join(d.cfg.DataRoot, "swarm") }
func (d *Daemon) certDir() string  { return filepath.Join(d.swarmDir(), "certificates") }
func (d *Daemon) raftDir() string  { return filepath.Join(d.swarmDir(), "raft") }
func (d *Daemon) statePath() string {
	return filepath.Join(d.swarmDir(), "state.json")
}

// loadState reads the node state; (nil, nil) means the node is in no swarm.
func (d *Daemon) loadState() (*nodeState, error) {
	data, err := os.ReadFile(d.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading node state: %w", err)
	}
	var st nodeState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("node state %s is corrupt: %w", d.statePath(), err)
	}
	return &st, nil
}

// saveState writes the node state atomically, readable by root only.
func (d *Daemon) saveState(st *nodeState) error {
	if err := os.MkdirAll(d.swarmDir(), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.statePath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing node state: %w", err)
	}
	return os.Rename(tmp, d.statePath())
}

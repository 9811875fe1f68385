package raft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	hraft "github.com/hashicorp/raft"
)

// Defaults tuned for managers on one LAN. hashicorp/raft's own defaults are
// for WANs; these make a failover take about two seconds.
const (
	DefaultApplyTimeout       = 5 * time.Second
	DefaultHeartbeatTimeout   = 1 * time.Second
	DefaultElectionTimeout    = 1 * time.Second
	DefaultLeaderLeaseTimeout = 500 * time.Millisecond
	DefaultCommitTimeout      = 10 * time.Millisecond // also how soon followers learn of a commit: bounds read-your-writes after a forwarded write
	DefaultSnapshotThreshold  = 1024
	DefaultSnapshotInterval   = 30 * time.Second
	DefaultTrailingLogs       = 2048

	// snapshotsRetained is how many snapshots a FileSnapshotStore keeps.
	snapshotsRetained = 2
)

// Config says how to start a Node. ID, Addr (or a Transport that knows its
// address) and Transport are required; every other field has a default.
type Config struct {
	ID   string // node ID, the raft ServerID; stable across restarts
	Addr string // advertised raft address host:port (raft ServerAddress); "" = Transport.LocalAddr()

	// DataDir holds the raft log and stable store (raft-boltdb, DataDir/raft.db)
	// and snapshots (DataDir/snapshots, the newest 2 kept). "" keeps all of it
	// in memory, which only tests want.
	DataDir string

	// Transport carries raft RPCs: tests pass an InmemTransport, the daemon a
	// NetworkTransport over its mTLS stream layer. Shutdown closes it.
	Transport hraft.Transport

	// Bootstrap makes this node the only voter of a new cluster when it has
	// no raft state yet; with existing state it has no effect (a restart).
	Bootstrap bool

	// ForceNewCluster recovers a lone survivor: it rewrites the configuration
	// to this node alone, keeping every committed entry and snapshot, then
	// starts. It needs existing state and excludes Bootstrap. Set it for
	// one start only: on every start it drops all other members again.
	ForceNewCluster bool

	// Forward returns the log index the leader applied the write at, so the
	// follower can wait for it before answering (read-your-writes).
	// Forward hands a follower's proposal to the leader (the daemon: an mTLS
	// RPC that calls Propose on the leader) and returns the leader's answer.
	// nil makes Propose on a follower fail with a "not the leader" error.
	Forward func(ctx context.Context, leaderID, leaderAddr string, cmd []byte) (index uint64, err error)

	// ApplyTimeout bounds how long the leader waits to queue a proposal, and
	// Barrier without a context deadline. Default 5s.
	ApplyTimeout time.Duration

	// Raft timing; zero takes the Default* constant. Tests shorten them.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration

	// Snapshots and log compaction: every SnapshotInterval (jittered), if
	// SnapshotThreshold entries were committed since the last snapshot, take
	// one and drop all but TrailingLogs entries before it.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64

	// Logger receives raft's warnings and errors; nil = slog.Default().
	// VerboseLogs passes raft's info and debug lines too (they are chatty).
	Logger      *slog.Logger
	VerboseLogs bool
}

// withDefaults fills the zero fields of a copy of c.
func (c Config) withDefaults() Config {
	if c.Addr == "" && c.Transport != nil {
		c.Addr = string(c.Transport.LocalAddr())
	}
	setDuration(&c.ApplyTimeout, DefaultApplyTimeout)
	setDuration(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDuration(&c.ElectionTimeout, DefaultElectionTimeout)
	setDuration(&c.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	setDuration(&c.CommitTimeout, DefaultCommitTimeout)
	setDuration(&c.SnapshotInterval, DefaultSnapshotInterval)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// validate checks a config after withDefaults.
func (c Config) validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("raft config: ID is empty: every manager needs a stable node ID"))
	}
	if c.Transport == nil {
		errs = append(errs, errors.New("raft config: Transport is nil: pass an InmemTransport (tests) or a NetworkTransport"))
	}
	if c.Addr == "" {
		errs = append(errs, errors.New("raft config: Addr is empty and the transport has no local address: set the advertised host:port"))
	}
	if c.Bootstrap && c.ForceNewCluster {
		errs = append(errs, errors.New("raft config: Bootstrap and ForceNewCluster exclude each other: bootstrap starts a cluster with no state, force-new-cluster recovers existing state"))
	}
	if c.ApplyTimeout < 0 {
		errs = append(errs, fmt.Errorf("raft config: ApplyTimeout %s is negative", c.ApplyTimeout))
	}
	return errors.Join(errs...)
}

// hraftConfig translates c into hashicorp/raft's config and validates it
// (timing relations such as LeaderLeaseTimeout <= HeartbeatTimeout).
func (c Config) hraftConfig() (*hraft.Config, error) {
	hc := hraft.DefaultConfig()
	hc.LocalID = hraft.ServerID(c.ID)
	hc.HeartbeatTimeout = c.HeartbeatTimeout
	hc.ElectionTimeout = c.ElectionTimeout
	hc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	hc.CommitTimeout = c.CommitTimeout
	hc.SnapshotThreshold = c.SnapshotThreshold
	hc.SnapshotInterval = c.SnapshotInterval
	hc.TrailingLogs = c.TrailingLogs
	hc.Logger = NewHCLogger(c.Logger, c.VerboseLogs).Named("raft")
	if err := hraft.ValidateConfig(hc); err != nil {
		return nil, fmt.Errorf("raft config: %w", err)
	}
	return hc, nil
}

// soleVoter is the configuration of a cluster that has only this node.
func (c Config) soleVoter() hraft.Configuration {
	return hraft.Configuration{Servers: []hraft.Server{{
		Suffrage: hraft.Voter,
		ID:       hraft.ServerID(c.ID),
		Address:  hraft.ServerAddress(c.Addr),
	}}}
}

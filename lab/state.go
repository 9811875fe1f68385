package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// StateRoot holds one directory per lab: lab.json and a directory per node.
const StateRoot = "/var/lib/shoal/labs"

const (
	stateFile = "lab.json"
	lockFile  = ".lock"
)

// phase says how far Up got; a lab that is not ready was interrupted.
type phase string

const (
	phaseBuilding phase = "building"
	phaseReady    phase = "ready"
)

// state is what lab.json holds: everything Down, Stop and Start need to find the lab's
// pieces again.
type state struct {
	Name                string
	Phase               phase
	Created             time.Time
	Subnet              netip.Prefix
	HostAddr            netip.Addr // the machine's address on the lab segment
	HostLink            string     // root-namespace end of the veth into the switch
	SwitchNetns         string
	Bridge              string
	DispatcherHeartbeat duration
	CertExpiry          duration `json:",omitempty"`
	StartTimeout        duration
	Swarm               bool    // the nodes were joined into one cluster
	WaitPing            bool    // Start waits for a node's API to answer
	Builder             process `json:",omitzero"` // the process running Up, until the lab is ready
	Nodes               []Node
}

// process identifies a process by pid and start time, which survives pid reuse.
type process struct {
	PID   int
	Start uint64
}

// duration is a time.Duration written as "5s" in lab.json.
type duration time.Duration

func (d duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = duration(v)
	return err
}

func labDir(name string) string { return filepath.Join(StateRoot, name) }

// readState reads a lab's lab.json.
func readState(name string) (state, error) {
	var st state
	b, err := os.ReadFile(filepath.Join(labDir(name), stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, notExistError{fmt.Sprintf("lab %q does not exist (no %s)", name, filepath.Join(labDir(name), stateFile))}
	}
	if err != nil {
		return st, fmt.Errorf("read lab %q: %w", name, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read lab %q: %s is damaged: %w", name, filepath.Join(labDir(name), stateFile), err)
	}
	return st, nil
}

// notExistError says a lab is missing; it matches fs.ErrNotExist.
type notExistError struct{ msg string }

func (e notExistError) Error() string        { return e.msg }
func (e notExistError) Is(target error) bool { return target == fs.ErrNotExist }

// writeState replaces lab.json atomically.
func writeState(st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(labDir(st.Name), stateFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	return nil
}

// flock holds an exclusive lock on path (created if missing) until the returned function is
// called. Locks are per open file, so goroutines of one process exclude each other too.
func flock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// lockLabs serializes the choice of subnets and names across concurrent `lab up`s.
func lockLabs() (func(), error) {
	if err := os.MkdirAll(StateRoot, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", StateRoot, err)
	}
	return flock(filepath.Join(StateRoot, lockFile))
}

// labNames lists the labs that have a state directory.
func labNames() ([]string, error) {
	entries, err := os.ReadDir(StateRoot)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && ValidateName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// otherLabSubnets lists the subnets recorded by every lab but skip, so a new lab avoids
// them even before their addresses appear on the machine.
func otherLabSubnets(skip string) []takenPrefix {
	names, _ := labNames()
	var taken []takenPrefix
	for _, n := range names {
		if n == skip {
			continue
		}
		if st, err := readState(n); err == nil && st.Subnet.IsValid() {
			taken = append(taken, takenPrefix{Prefix: st.Subnet, Source: "lab " + n})
		}
	}
	return taken
}

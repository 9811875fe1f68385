package lab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// reserve claims a lab name and subnet: under the labs lock it checks that nothing of the
// lab exists yet, picks or checks the subnet against the machine and the other labs, and
// writes the lab's directory and lab.json before any kernel object exists. From then on
// Down can find and remove whatever Up makes.
func reserve(o Options) (state, error) {
	unlock, err := lockLabs()
	if err != nil {
		return state{}, err
	}
	defer unlock()
	if err := checkAbsent(o.Name); err != nil {
		return state{}, err
	}
	taken, err := machinePrefixes()
	if err != nil {
		return state{}, err
	}
	taken = append(taken, otherLabSubnets(o.Name)...)
	subnet, err := chooseSubnet(o.Subnet, taken)
	if err != nil {
		return state{}, err
	}
	p, err := planNodes(subnet, o.Managers, o.Workers)
	if err != nil {
		return state{}, err
	}
	st := newState(o, p)
	self := os.Getpid()
	start, _ := procStart(self)
	st.Builder = process{PID: self, Start: start}
	st.Created = time.Now().UTC()
	if err := createDirs(st); err != nil {
		os.RemoveAll(labDir(st.Name))
		return state{}, err
	}
	if err := writeState(st); err != nil {
		os.RemoveAll(labDir(st.Name))
		return state{}, err
	}
	return st, nil
}

// checkAbsent refuses a lab name that is in use or has leftovers.
func checkAbsent(name string) error {
	if _, err := os.Lstat(labDir(name)); err == nil {
		return fmt.Errorf("lab %q already exists (shoal lab down --name %s removes it)", name, name)
	}
	var left []string
	left = append(left, labNetns(name)...)
	if link := hostLinkName(name); rootLinkExists(link) {
		left = append(left, "link "+link)
	}
	if len(left) > 0 {
		return fmt.Errorf("leftovers of an earlier lab %q exist (%v): run shoal lab down --name %s first", name, left, name)
	}
	return nil
}

// chooseSubnet picks a free /24 for "" or "auto", or checks the user's choice.
func chooseSubnet(choice string, taken []takenPrefix) (netip.Prefix, error) {
	if choice == "" || choice == "auto" {
		return pickSubnet(taken)
	}
	p, err := parseSubnet(choice)
	if err != nil {
		return p, err
	}
	return p, checkSubnet(p, taken)
}

// newState lays out a lab from its options and address plan: names, paths and daemon
// commands. It is pure.
func newState(o Options, p plan) state {
	dir := labDir(o.Name)
	st := state{
		Name:                o.Name,
		Phase:               phaseBuilding,
		Subnet:              p.Subnet,
		HostAddr:            p.HostAddr,
		HostLink:            hostLinkName(o.Name),
		SwitchNetns:         switchNetnsName(o.Name),
		Bridge:              bridgeName,
		DispatcherHeartbeat: duration(o.DispatcherHeartbeat),
		CertExpiry:          duration(o.CertExpiry),
		StartTimeout:        duration(o.StartTimeout),
		WaitPing:            !o.SkipPing,
	}
	for _, spec := range p.Nodes {
		nodeDir := filepath.Join(dir, spec.Name)
		n := Node{
			Name:     spec.Name,
			Role:     spec.Role,
			Addr:     spec.Addr,
			Netns:    netnsName(o.Name, spec.Name),
			Link:     spec.Name,
			Dir:      nodeDir,
			DataRoot: filepath.Join(nodeDir, "data"),
			Socket:   filepath.Join(nodeDir, "shoal.sock"),
			Log:      filepath.Join(nodeDir, "daemon.log"),
		}
		n.Command = o.daemonCommand(n)
		st.Nodes = append(st.Nodes, n)
	}
	return st
}

func createDirs(st state) error {
	if err := os.Mkdir(labDir(st.Name), 0o700); err != nil {
		return fmt.Errorf("create lab directory: %w", err)
	}
	for _, n := range st.Nodes {
		if err := os.MkdirAll(n.DataRoot, 0o700); err != nil {
			return fmt.Errorf("create node directory: %w", err)
		}
	}
	return nil
}

package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"strings"
)

// Summary is one line of List.
type Summary struct {
	Name   string
	Nodes  int
	Subnet netip.Prefix // invalid when unknown
	// Status is running, degraded (k/n nodes up), stopped, building, incomplete (an
	// interrupted up), broken (lab.json unreadable) or leftover (namespaces without state).
	Status string
}

// List describes every lab on the machine, including leftovers that only Down can clear.
func List() ([]Summary, error) {
	names, err := labNames()
	if err != nil {
		return nil, fmt.Errorf("list labs: %w", err)
	}
	found := allLabNetns()
	var out []Summary
	for _, name := range names {
		delete(found, name)
		st, err := readState(name)
		if err != nil {
			status := "broken"
			if errors.Is(err, fs.ErrNotExist) {
				status = "incomplete"
			}
			out = append(out, Summary{Name: name, Status: status})
			continue
		}
		out = append(out, Summary{Name: name, Nodes: len(st.Nodes), Subnet: st.Subnet, Status: status(st)})
	}
	for name, ns := range found {
		nodes := 0
		for _, n := range ns {
			if _, node, _ := parseNetnsName(n); node != switchNode {
				nodes++
			}
		}
		out = append(out, Summary{Name: name, Nodes: nodes, Status: "leftover"})
	}
	slices.SortFunc(out, func(a, b Summary) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func status(st state) string {
	if st.Phase != phaseReady {
		if alive(st.Builder.PID, st.Builder.Start) {
			return "building"
		}
		return "incomplete"
	}
	up := 0
	for _, n := range st.Nodes {
		if alive(n.PID, n.PIDStart) && inNetns(n.PID, n.Netns) && nodeLinkUp(st, n) {
			up++
		}
	}
	switch up {
	case len(st.Nodes):
		return "running"
	case 0:
		return "stopped"
	}
	return fmt.Sprintf("degraded (%d/%d nodes up)", up, len(st.Nodes))
}

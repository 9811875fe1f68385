package dns

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// EndpointMode is how a service's name resolves: to its VIP, or to its tasks' addresses.
type EndpointMode string

const (
	EndpointVIP   EndpointMode = "vip"
	EndpointDNSRR EndpointMode = "dnsrr"
)

// Health is what a task's health check last said.
type Health int

const (
	// HealthNone means the task has no health check: it serves once it runs.
	HealthNone Health = iota
	HealthStarting
	HealthHealthy
	HealthUnhealthy
)

// Network names a network, so that "name.network" queries and PTR answers can use its name.
type Network struct {
	ID   string
	Name string
}

// Attachment is one address of a task or container on one network.
type Attachment struct {
	Network string // network ID
	IP      netip.Addr
}

// ServiceNetwork is a service's presence on one network.
type ServiceNetwork struct {
	Network string     // network ID
	VIP     netip.Addr // the zero Addr in dnsrr mode, or while the allocator has not given one
	// Aliases are further names of the service on this network only, as Docker's
	// --network name=webnet,alias=api.
	Aliases []string
}

// Service is a service as DNS sees it.
type Service struct {
	ID           string
	Name         string
	EndpointMode EndpointMode // "" means vip
	Networks     []ServiceNetwork
}

// Task is a task with a container on some network.
type Task struct {
	ID        string
	ServiceID string // links the task to its service: names are reused after service rm, IDs are not
	Slot      int    // 0 for a task of a global service
	NodeID    string // names a global service's task
	// Name is the container's name; empty means Docker's "<service>.<slot>.<task id>"
	// (or "<service>.<node id>.<task id>" for a global service).
	Name      string
	Hostname  string // the container's hostname, also a name of the task
	Addresses []Attachment
	// Running says the task's container runs (observed state RUNNING); only then do its names
	// resolve, since a stopped task's address may already belong to another task.
	Running bool
	Health  Health
	// Draining is set once the task is to be stopped on purpose (update, scale-down, drain,
	// rm): it leaves tasks.<service> and dnsrr answers at once, before its stop begins.
	Draining bool
}

// Serving says whether the task takes new work: running, healthy or without a health check,
// and not draining.
func (t Task) Serving() bool {
	return t.Running && !t.Draining && (t.Health == HealthNone || t.Health == HealthHealthy)
}

// Container is a container that is not a task (one attached to an attachable network).
type Container struct {
	ID        string
	Name      string
	Hostname  string
	Aliases   []string
	Addresses []Attachment
}

// Records is the input to a Table: what the cluster says now, plus the node's search domains.
type Records struct {
	Networks   []Network
	Services   []Service
	Tasks      []Task
	Containers []Container
	// SearchDomains are the search list of the node's resolv.conf (the tasks get the same list);
	// a name under one of them is also tried without it.
	SearchDomains []string
}

// Table is an immutable snapshot of the names this node answers for, indexed for Answer.
// It is safe for concurrent use.
type Table struct {
	networkName   map[string]string   // network ID → name (the ID when unnamed)
	networksNamed map[string][]string // lower-case network name → IDs
	services      map[string][]serviceName
	hosts         map[string][]*host
	ptrs          map[netip.Addr][]ptrRecord
	searchDomains []string // lower case, no leading or trailing dot
}

// serviceName is one name of a service: its own, on all its networks, or an alias on one.
type serviceName struct {
	svc     *service
	network string // "" for the service's own name
}

type service struct {
	name     string
	mode     EndpointMode
	vips     map[string]netip.Addr // network ID → VIP
	networks map[string]bool
	serving  map[string][]netip.Addr // network ID → serving tasks' addresses, sorted
}

// host is a running task or a container: something whose own names resolve to its addresses.
type host struct {
	addresses []Attachment
}

type ptrRecord struct {
	network string
	name    string // without the network suffix
	ttl     uint32
}

// NewTable indexes records. It refuses records that cannot come from a consistent cluster
// state (duplicate IDs or service names, unknown endpoint modes, non-IPv4 addresses), so a bug
// upstream shows as an error instead of as wrong answers.
func NewTable(r Records) (*Table, error) {
	t := &Table{
		networkName:   map[string]string{},
		networksNamed: map[string][]string{},
		services:      map[string][]serviceName{},
		hosts:         map[string][]*host{},
		ptrs:          map[netip.Addr][]ptrRecord{},
	}
	for _, n := range r.Networks {
		if n.ID == "" {
			return nil, fmt.Errorf("network %q: empty ID", n.Name)
		}
		if _, dup := t.networkName[n.ID]; dup {
			return nil, fmt.Errorf("network %s: listed twice", n.ID)
		}
		name := n.Name
		if name == "" {
			name = n.ID
		}
		t.networkName[n.ID] = name
		lower := strings.ToLower(name)
		t.networksNamed[lower] = append(t.networksNamed[lower], n.ID)
	}
	for _, d := range r.SearchDomains {
		d = strings.Trim(strings.ToLower(d), ".")
		if d != "" && !slices.Contains(t.searchDomains, d) {
			t.searchDomains = append(t.searchDomains, d)
		}
	}
	byID, err := t.addServices(r.Services)
	if err != nil {
		return nil, err
	}
	if err := t.addTasks(r.Tasks, byID); err != nil {
		return nil, err
	}
	if err := t.addContainers(r.Containers); err != nil {
		return nil, err
	}
	for _, svc := range byID {
		for _, addrs := range svc.serving {
			slices.SortFunc(addrs, netip.Addr.Compare)
		}
	}
	return t, nil
}

func (t *Table) addServices(services []Service) (map[string]*service, error) {
	byID := map[string]*service{}
	for _, s := range services {
		if s.ID == "" || s.Name == "" {
			return nil, fmt.Errorf("service %q (id %q): needs both a name and an ID", s.Name, s.ID)
		}
		if _, dup := byID[s.ID]; dup {
			return nil, fmt.Errorf("service %s (id %s): listed twice", s.Name, s.ID)
		}
		mode := s.EndpointMode
		if mode == "" {
			mode = EndpointVIP
		}
		if mode != EndpointVIP && mode != EndpointDNSRR {
			return nil, fmt.Errorf("service %s: endpoint mode %q: must be vip or dnsrr", s.Name, s.EndpointMode)
		}
		lower := strings.ToLower(s.Name)
		for _, other := range t.services[lower] {
			if other.network == "" {
				return nil, fmt.Errorf("service %s (id %s): another service has the same name", s.Name, s.ID)
			}
		}
		svc := &service{
			name:     s.Name,
			mode:     mode,
			vips:     map[string]netip.Addr{},
			networks: map[string]bool{},
			serving:  map[string][]netip.Addr{},
		}
		byID[s.ID] = svc
		t.services[lower] = append(t.services[lower], serviceName{svc: svc})
		for _, sn := range s.Networks {
			if sn.Network == "" {
				return nil, fmt.Errorf("service %s: a network with an empty ID", s.Name)
			}
			svc.networks[sn.Network] = true
			if sn.VIP.IsValid() && mode == EndpointVIP {
				if !sn.VIP.Is4() {
					return nil, fmt.Errorf("service %s: VIP %s on network %s: must be IPv4", s.Name, sn.VIP, sn.Network)
				}
				svc.vips[sn.Network] = sn.VIP
				t.ptrs[sn.VIP] = append(t.ptrs[sn.VIP], ptrRecord{network: sn.Network, name: s.Name, ttl: ServiceTTL})
			}
			for _, alias := range sn.Aliases {
				if alias == "" {
					continue
				}
				la := strings.ToLower(alias)
				t.services[la] = append(t.services[la], serviceName{svc: svc, network: sn.Network})
			}
		}
	}
	return byID, nil
}

func (t *Table) addTasks(tasks []Task, services map[string]*service) error {
	seen := map[string]bool{}
	for _, task := range tasks {
		if task.ID == "" {
			return fmt.Errorf("task %q: empty ID", task.Name)
		}
		if seen[task.ID] {
			return fmt.Errorf("task %s: listed twice", task.ID)
		}
		seen[task.ID] = true
		if err := checkAddresses("task "+task.ID, task.Addresses); err != nil {
			return err
		}
		svc := services[task.ServiceID]
		if svc != nil && task.Serving() {
			for _, a := range task.Addresses {
				if svc.networks[a.Network] {
					svc.serving[a.Network] = append(svc.serving[a.Network], a.IP)
				}
			}
		}
		if !task.Running {
			continue
		}
		name := task.Name
		if name == "" {
			if svc == nil {
				return fmt.Errorf("task %s: no name, and no service %q to name it after", task.ID, task.ServiceID)
			}
			name = taskName(svc.name, task)
		}
		t.addHost(&host{addresses: task.Addresses}, name, []string{task.Hostname})
	}
	return nil
}

// taskName is Docker's container name for a task: "<service>.<slot>.<task id>", with the node ID
// in place of the slot for a global service.
func taskName(service string, task Task) string {
	slot := task.NodeID
	if task.Slot > 0 {
		slot = strconv.Itoa(task.Slot)
	}
	return service + "." + slot + "." + task.ID
}

func (t *Table) addContainers(containers []Container) error {
	for _, c := range containers {
		if c.Name == "" && c.ID == "" {
			return fmt.Errorf("container with neither a name nor an ID")
		}
		if err := checkAddresses("container "+cmp.Or(c.Name, c.ID), c.Addresses); err != nil {
			return err
		}
		t.addHost(&host{addresses: c.Addresses}, cmp.Or(c.Name, c.ID), append([]string{c.Hostname}, c.Aliases...))
	}
	return nil
}

// addHost indexes h under its name and further names; PTRs give the name.
func (t *Table) addHost(h *host, name string, more []string) {
	names := []string{strings.ToLower(name)}
	for _, n := range more {
		if n = strings.ToLower(n); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		t.hosts[n] = append(t.hosts[n], h)
	}
	for _, a := range h.addresses {
		t.ptrs[a.IP] = append(t.ptrs[a.IP], ptrRecord{network: a.Network, name: name, ttl: TaskTTL})
	}
}

func checkAddresses(owner string, addrs []Attachment) error {
	for _, a := range addrs {
		if a.Network == "" {
			return fmt.Errorf("%s: an address with no network", owner)
		}
		if !a.IP.Is4() {
			return fmt.Errorf("%s: address %v on network %s: must be IPv4", owner, a.IP, a.Network)
		}
	}
	return nil
}

package runc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cpuPeriod is the CFS period a CPU limit is expressed in, as docker uses.
const cpuPeriod = 100000

// defaultCaps is docker's default capability set.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Paths docker hides or makes read-only inside containers.
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// runtimeSpec is everything a container's config.json is made from.
type runtimeSpec struct {
	Spec        *swarm.ContainerSpec
	Resources   *swarm.ResourceRequirements
	Args        []string
	Env         []string
	Cwd         string
	User        execUser
	Hostname    string
	NetnsPath   string
	CgroupsPath string
	// The container's own files, bind-mounted over the image's /etc/hosts, /etc/hostname
	// and /etc/resolv.conf.
	HostsPath, HostnamePath, ResolvConfPath string
}

// ociSpec builds a container's OCI runtime config: its own mount, pid, uts and ipc
// namespaces, the given network namespace, docker's default mounts, capabilities and masked
// paths, and cgroup limits from the task's resources. Resource limits (rlimits) are inherited
// from the daemon, as docker's containers inherit dockerd's. The root is "rootfs" in the bundle,
// which the caller has mounted.
func ociSpec(r runtimeSpec) (*specs.Spec, error) {
	caps, err := capabilities(r.Spec.CapabilityAdd, r.Spec.CapabilityDrop)
	if err != nil {
		return nil, err
	}
	procCaps := &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	if r.User.UID != 0 {
		// As docker: a user other than root keeps only the bounding set.
		procCaps.Effective, procCaps.Permitted = nil, nil
	}
	mounts, err := mounts(r)
	if err != nil {
		return nil, err
	}
	oom := int(r.Spec.OomScoreAdj)
	s := &specs.Spec{
		Version: "1.0.2",
		Process: &specs.Process{
			User: specs.User{
				UID:            r.User.UID,
				GID:            r.User.GID,
				AdditionalGids: r.User.Groups,
			},
			Args:         r.Args,
			Env:          r.Env,
			Cwd:          r.Cwd,
			Capabilities: procCaps,
			OOMScoreAdj:  &oom,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: r.Spec.ReadOnly},
		Hostname: r.Hostname,
		Mounts:   mounts,
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
				{Type: specs.NetworkNamespace, Path: r.NetnsPath},
			},
			CgroupsPath:   r.CgroupsPath,
			Resources:     resources(r.Resources),
			Sysctl:        r.Spec.Sysctls,
			MaskedPaths:   maskedPaths,
			ReadonlyPaths: readonlyPaths,
		},
	}
	return s, nil
}

// resources turns swarm limits into cgroup settings: NanoCPUs as a CFS quota, memory as a
// hard limit (and the reservation as the soft one), pids as the pids limit. Devices are
// denied but for the defaults runc always allows.
func resources(rr *swarm.ResourceRequirements) *specs.LinuxResources {
	res := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	if rr == nil {
		return res
	}
	if l := rr.Limits; l != nil {
		if l.NanoCPUs > 0 {
			quota := l.NanoCPUs * cpuPeriod / 1e9
			period := uint64(cpuPeriod)
			res.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
		}
		if l.MemoryBytes > 0 {
			limit := l.MemoryBytes
			res.Memory = &specs.LinuxMemory{Limit: &limit}
			if rr.SwapBytes != nil {
				swap := int64(-1)
				if *rr.SwapBytes >= 0 {
					swap = limit + *rr.SwapBytes
				}
				res.Memory.Swap = &swap
			}
		}
		if l.Pids > 0 {
			pids := l.Pids
			res.Pids = &specs.LinuxPids{Limit: &pids}
		}
	}
	if rv := rr.Reservations; rv != nil && rv.MemoryBytes > 0 {
		if res.Memory == nil {
			res.Memory = &specs.LinuxMemory{}
		}
		reservation := rv.MemoryBytes
		res.Memory.Reservation = &reservation
	}
	return res
}

// mounts is docker's default set (proc, a tmpfs /dev with pts, shm and mqueue, read-only
// sysfs and cgroups), the container's own hosts, hostname and resolv.conf files, then the
// task's bind and tmpfs mounts.
func mounts(r runtimeSpec) ([]specs.Mount, error) {
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		{Destination: "/etc/hosts", Type: "bind", Source: r.HostsPath, Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/hostname", Type: "bind", Source: r.HostnamePath, Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: r.ResolvConfPath, Options: []string{"rbind", "rprivate"}},
	}
	for _, m := range r.Spec.Mounts {
		if !strings.HasPrefix(m.Target, "/") {
			return nil, fmt.Errorf("invalid mount target %q: must be an absolute path", m.Target)
		}
		switch m.Type {
		case mount.TypeBind:
			if !strings.HasPrefix(m.Source, "/") {
				return nil, fmt.Errorf("invalid bind mount source %q: must be an absolute path on the node", m.Source)
			}
			opts := []string{"rbind", "rprivate"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			ms = append(ms, specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: opts})
		case mount.TypeTmpfs:
			opts := []string{"nosuid", "nodev"}
			if m.TmpfsOptions != nil && m.TmpfsOptions.SizeBytes > 0 {
				opts = append(opts, fmt.Sprintf("size=%d", m.TmpfsOptions.SizeBytes))
			}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			ms = append(ms, specs.Mount{Destination: m.Target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		default:
			return nil, fmt.Errorf("mount type %q of %s is not supported: use bind or tmpfs", m.Type, m.Target)
		}
	}
	return ms, nil
}

// capabilities applies a task's additions and removals to docker's default set.
func capabilities(add, drop []string) ([]string, error) {
	norm := func(c string) string {
		c = strings.ToUpper(c)
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		return c
	}
	caps := slices.Clone(defaultCaps)
	for _, c := range drop {
		if c = norm(c); c == "ALL" {
			caps = nil
			continue
		}
		caps = slices.DeleteFunc(caps, func(x string) bool { return x == c })
	}
	for _, c := range add {
		if c = norm(c); c == "ALL" {
			return nil, fmt.Errorf("capability ALL is not supported: name the capabilities to add")
		}
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	return caps, nil
}

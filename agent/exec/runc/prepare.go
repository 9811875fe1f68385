package runc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"golang.org/x/sys/unix"

	shoalexec "github.com/shoal/shoal/agent/exec"
)

// netnsName is the name of the network namespace the executor makes for a container.
func netnsName(id string) string { return "shoal-" + id[:min(len(id), 12)] }

// prepare makes the container's bundle: the overlay root over the image's layers, its own
// files for /etc/hosts, /etc/hostname and /etc/resolv.conf, its network namespace, the OCI
// config, and the output FIFOs; meta.json last, which marks it prepared. On failure it
// removes what it made.
func (c *controller) prepare(ctx context.Context) (err error) {
	e := c.e
	spec, err := shoalexec.ContainerSpec(c.task)
	if err != nil {
		return err
	}
	img, err := e.opts.Images.Image(spec.Image)
	if err != nil {
		return err
	}
	dir := e.dir(c.id)
	if err := os.MkdirAll(filepath.Dir(dir), 0o711); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o711); err != nil {
		return fmt.Errorf("container directory: %w", err)
	}
	m := meta{
		ID: c.id, TaskID: c.task.ID, ServiceID: c.task.ServiceID, Slot: c.task.Slot,
		Image: spec.Image, ImageID: img.ID,
		CgroupsPath: filepath.Join(e.opts.CgroupParent, c.id),
		CreatedAt:   e.opts.Clock.Now(),
	}
	defer func() {
		if err != nil {
			if cerr := e.cleanup(context.WithoutCancel(ctx), c.id, &m); cerr != nil {
				e.opts.Logger.Error("clean up failed prepare", "container", c.id, "err", cerr)
			}
		}
	}()

	// The root filesystem.
	for _, d := range []string{rootfsDir, upperDir, workDir} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	lowers := img.LayerDirs
	if len(lowers) == 0 {
		// An image with no layers: overlayfs still wants a lower directory.
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return err
		}
		lowers = []string{empty}
	}
	rootfs := filepath.Join(dir, rootfsDir)
	if err := mountOverlay(rootfs, lowers, filepath.Join(dir, upperDir), filepath.Join(dir, workDir)); err != nil {
		return err
	}

	// The process.
	args, err := shoalexec.Args(spec, img.Config)
	if err != nil {
		return err
	}
	cwd, err := shoalexec.WorkingDir(spec, img.Config)
	if err != nil {
		return err
	}
	if err := mkdirAllInRoot(rootfs, cwd); err != nil {
		return err
	}
	userSpec := spec.User
	if userSpec == "" {
		userSpec = img.Config.User
	}
	user, err := resolveUser(rootfs, userSpec, spec.Groups)
	if err != nil {
		return err
	}
	m.Hostname = spec.Hostname
	if m.Hostname == "" {
		m.Hostname = c.id[:min(len(c.id), 12)]
	}
	env := shoalexec.Env(img.Config.Env, spec.Env, m.Hostname)
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+user.Home)
	}
	m.Args, m.Env, m.Cwd, m.User, m.Groups, m.Labels = args, env, cwd, userSpec, spec.Groups, spec.Labels
	stopSignal, err := shoalexec.StopSignal(spec, img.Config)
	if err != nil {
		return err
	}
	m.StopSignal = int(stopSignal)
	if m.Healthcheck, err = shoalexec.Healthcheck(spec, img.Config); err != nil {
		return err
	}

	// The container's own /etc files.
	if err := os.WriteFile(filepath.Join(dir, hostnameFile), []byte(m.Hostname+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, hostsFile), hostsContent(spec.Hosts), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, resolvConfFile), e.resolvConf(spec.DNSConfig), 0o644); err != nil {
		return err
	}

	// The network namespace.
	if c.opts.NetnsPath != "" {
		m.NetnsPath = c.opts.NetnsPath
	} else {
		m.NetnsName = netnsName(c.id)
		if m.NetnsPath, err = createNetns(ctx, e.opts.IP, m.NetnsName); err != nil {
			return err
		}
	}

	cfg, err := ociSpec(runtimeSpec{
		Spec: spec, Resources: c.task.Spec.Resources,
		Args: args, Env: env, Cwd: cwd, User: user, Hostname: m.Hostname,
		NetnsPath: m.NetnsPath, CgroupsPath: m.CgroupsPath,
		HostsPath:      filepath.Join(dir, hostsFile),
		HostnamePath:   filepath.Join(dir, hostnameFile),
		ResolvConfPath: filepath.Join(dir, resolvConfFile),
	})
	if err != nil {
		return err
	}
	cfgJSON, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, configFile), cfgJSON, 0o600); err != nil {
		return err
	}
	for _, f := range []string{stdoutFIFO, stderrFIFO} {
		if err := unix.Mkfifo(filepath.Join(dir, f), 0o600); err != nil {
			return fmt.Errorf("make output FIFO: %w", err)
		}
	}
	metaJSON, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, metaFile), metaJSON, 0o600)
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// hostsContent is a container's /etc/hosts: loopback names and the task's extra hosts
// ("IP name [aliases...]", as swarm gives them).
func hostsContent(extra []string) []byte {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	for _, h := range extra {
		if f := strings.Fields(h); len(f) >= 2 {
			b.WriteString(strings.Join(f, "\t") + "\n")
		}
	}
	return b.Bytes()
}

// resolvConf is a container's /etc/resolv.conf: the task's DNS settings when it gives
// nameservers, else the executor's configured content, else the node's file.
func (e *Executor) resolvConf(dns *swarm.DNSConfig) []byte {
	if dns != nil && len(dns.Nameservers) > 0 {
		var b bytes.Buffer
		for _, ns := range dns.Nameservers {
			fmt.Fprintf(&b, "nameserver %s\n", ns)
		}
		if len(dns.Search) > 0 {
			fmt.Fprintf(&b, "search %s\n", strings.Join(dns.Search, " "))
		}
		if len(dns.Options) > 0 {
			fmt.Fprintf(&b, "options %s\n", strings.Join(dns.Options, " "))
		}
		return b.Bytes()
	}
	if e.opts.ResolvConf != nil {
		return e.opts.ResolvConf
	}
	b, _ := os.ReadFile("/etc/resolv.conf")
	return b
}

// cleanup removes everything a container may have left, whatever state it is in: runc's
// record, the overlay mount, its network namespace (when ours), its cgroups and its bundle.
// m may be nil when the container's meta is unreadable; then the names are derived from id.
// The bundle directory goes only once nothing is mounted under it.
func (e *Executor) cleanup(ctx context.Context, id string, m *meta) error {
	dir := e.dir(id)
	if m == nil {
		if rm, err := readMeta(dir); err == nil {
			m = &rm
		} else {
			// Names as Prepare makes them by default.
			m = &meta{NetnsName: netnsName(id), CgroupsPath: filepath.Join(e.opts.CgroupParent, id)}
		}
	}
	var errs []error
	if err := e.runc.delete(ctx, id); err != nil {
		errs = append(errs, err)
	}
	if err := unmountAll(dir); err != nil {
		errs = append(errs, err)
	}
	if m.NetnsName != "" {
		if err := deleteNetns(ctx, e.opts.IP, m.NetnsName); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeCgroups(ctx, e.opts.Clock, m.CgroupsPath); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitForStart waits until runc reports the container's process started (its pid file) or
// the wrapper ends first, which means it could not start.
func (c *controller) waitForStart(ctx context.Context, s *supervisor) error {
	initPID := filepath.Join(s.dir, initPIDFile)
	delay := 2 * time.Millisecond
	for {
		if _, err := os.Stat(initPID); err == nil {
			return nil
		}
		select {
		case <-s.exited:
			if _, err := os.Stat(initPID); err == nil {
				return nil // started and already done
			}
			msg := lastRuncError(filepath.Join(s.dir, runcLogFile))
			if msg == "" {
				msg = fmt.Sprintf("runc exited with status %d", s.exitStatus().Code)
			}
			return fmt.Errorf("starting container failed: %s", msg)
		case <-ctx.Done():
			return ctx.Err()
		case <-c.e.opts.Clock.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

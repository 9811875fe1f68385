package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/portspec"
	"github.com/shoal/shoal/network/lb"
	"github.com/shoal/shoal/network/netns"
)

// hostPorts are the ports one task publishes on its node (mode=host): each listens on
// every address of the node and forwards to the task only, from inside its namespace.
type hostPorts struct {
	balancers []*lb.Balancer
	cancel    context.CancelFunc
	done      chan struct{}
	// Published are the ports as served; a port published as 0 got one from the kernel.
	Published []swarm.PortConfig
	specs     []swarm.PortConfig // as asked for
}

// serves reports whether h serves exactly the ports asked for (nil serves none).
func (h *hostPorts) serves(want []swarm.PortConfig) bool {
	if h == nil {
		return len(want) == 0
	}
	return slices.Equal(h.specs, want)
}

// dialFrom dials from inside a network namespace: the socket lives there, whoever uses it.
func dialFrom(nsPath string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := netns.Do(nsPath, func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// publishHostPorts starts serving a task's host-mode ports. taskAddr is where the task
// is reached inside its namespace (its first network address, or loopback without one).
// A port the node already uses fails the whole task, as on Docker.
func publishHostPorts(taskID, nsPath string, taskAddr netip.Addr, ports []swarm.PortConfig, logger *slog.Logger) (*hostPorts, error) {
	h := &hostPorts{done: make(chan struct{}), specs: slices.Clone(ports)}
	for _, p := range ports {
		proto := portspec.Protocol(p)
		if proto != network.TCP {
			h.closeBalancers()
			return nil, fmt.Errorf("publishing %s ports is not implemented yet (port %d/%s): only tcp", proto, p.TargetPort, proto)
		}
		b, err := lb.New(lb.Config{
			Addr:   fmt.Sprintf("0.0.0.0:%d", p.PublishedPort),
			Mode:   lb.TCP,
			Logger: logger,
			Dial:   dialFrom(nsPath),
		})
		if err != nil {
			h.closeBalancers()
			return nil, fmt.Errorf("publishing port %d/%s on this node (mode=host): %w", p.PublishedPort, proto, err)
		}
		target := net.JoinHostPort(taskAddr.String(), strconv.Itoa(int(p.TargetPort)))
		if err := b.SetBackends([]lb.Backend{{ID: taskID, Addr: target}}); err != nil {
			b.Close()
			h.closeBalancers()
			return nil, err
		}
		served := p
		served.Protocol = proto
		served.PublishedPort = uint32(b.Addr().(*net.TCPAddr).Port)
		h.balancers = append(h.balancers, b)
		h.Published = append(h.Published, served)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		errs := make(chan error, len(h.balancers))
		for _, b := range h.balancers {
			go func() { errs <- b.Run(ctx) }()
		}
		for range h.balancers {
			if err := <-errs; err != nil && !errors.Is(err, context.Canceled) {
				logger.Warn("serving a host-mode port", "task", taskID, "err", err)
			}
		}
	}()
	return h, nil
}

func (h *hostPorts) closeBalancers() {
	for _, b := range h.balancers {
		b.Close()
	}
}

// drain stops sending the task new connections (they are refused); connections already
// made go on until they end (the drain waits for them) or close.
func (h *hostPorts) drain() {
	if h == nil {
		return
	}
	for _, b := range h.balancers {
		_ = b.SetBackends(nil)
	}
}

// close stops serving the task's ports and closes what still runs through them.
func (h *hostPorts) close() {
	if h == nil {
		return
	}
	h.cancel()
	<-h.done
}

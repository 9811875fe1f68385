package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/network/lb"
	"github.com/shoal/shoal/network/netns"
)

// ingressSandbox is the local endpoint that stands for the node itself on the ingress
// network: the routing mesh dials tasks from inside it.
const ingressSandbox = "ingress-sbox"

// meshListener is one published port served on this node.
type meshListener struct {
	port   clusterapi.MeshPort // as it was first served (protocol and published port)
	b      *lb.Balancer
	cancel context.CancelFunc
	done   chan struct{}
}

// updateMeshLocked wires the node's ingress endpoint and serves every published port on
// the node's own address, balancing over the service's running tasks wherever they run.
func (p *plumbing) updateMeshLocked(resp clusterapi.AssignmentsResponse) error {
	if resp.Ingress == nil {
		p.stopMeshLocked()
		return nil
	}
	if _, ok := p.local[ingressSandbox]; !ok {
		path, err := netns.CreateWithLoopback(p.cfg.NetnsPrefix + "ingress")
		if err != nil {
			return fmt.Errorf("making the ingress sandbox: %w", err)
		}
		p.sandboxPath = path
	}
	p.local[ingressSandbox] = localTask{
		netnsPath: p.sandboxPath,
		attachments: []swarm.NetworkAttachment{{
			Network:   swarm.Network{ID: resp.Ingress.NetworkID},
			Addresses: []netip.Prefix{resp.Ingress.Addr},
		}},
	}
	want := map[string]clusterapi.MeshPort{}
	for _, mp := range resp.Mesh {
		if mp.Protocol == "tcp" {
			want[strconv.Itoa(int(mp.PublishedPort))] = mp
		}
	}
	for key, ml := range p.mesh {
		if mp, ok := want[key]; !ok || mp.Balance != ml.port.Balance {
			ml.cancel()
			<-ml.done
			delete(p.mesh, key)
		}
	}
	var errs []error
	for key, mp := range want {
		ml, ok := p.mesh[key]
		if !ok {
			var err error
			if ml, err = p.startMeshListener(mp); err != nil {
				p.cfg.Logger.Warn("cannot serve a published port", "port", mp.PublishedPort, "service", mp.Service, "err", err)
				continue
			}
			p.mesh[key] = ml
		}
		var backends []lb.Backend
		for _, be := range mp.Backends {
			backends = append(backends, lb.Backend{ID: be.TaskID, Addr: net.JoinHostPort(be.IP.String(), strconv.Itoa(int(mp.TargetPort)))})
		}
		if err := ml.b.SetBackends(backends); err != nil {
			// The old set stays: report it, so the node does not claim routes it keeps.
			errs = append(errs, fmt.Errorf("updating the tasks behind port %d: %w", mp.PublishedPort, err))
		}
	}
	return errors.Join(errs...)
}

func (p *plumbing) startMeshListener(mp clusterapi.MeshPort) (*meshListener, error) {
	sandbox := p.sandboxPath
	b, err := lb.New(lb.Config{
		Addr:   fmt.Sprintf("0.0.0.0:%d", mp.PublishedPort),
		Mode:   balanceMode(mp.Balance),
		Logger: p.cfg.Logger,
		// Tasks are reached over the ingress network, from the node's own endpoint on it.
		Dial: dialFrom(sandbox),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	ml := &meshListener{port: mp, b: b, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(ml.done); _ = b.Run(ctx) }()
	return ml, nil
}

func (p *plumbing) stopMeshLocked() {
	for key, ml := range p.mesh {
		ml.cancel()
		<-ml.done
		delete(p.mesh, key)
	}
}

// close stops the node's listeners and resolvers (the worker is stopping); the kernel
// state stays, for the next worker to take over.
func (p *plumbing) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopMeshLocked()
	for id, r := range p.servers {
		r.cancel()
		<-r.done
		delete(p.servers, id)
	}
}

// balanceMode is the balancer mode for a published port's balance setting: per request for
// HTTP (so keep-alive clients follow the tasks as they change), per connection otherwise.
func balanceMode(balance string) lb.Mode {
	switch balance {
	case clusterapi.MeshBalanceHTTP:
		return lb.HTTP
	case clusterapi.MeshBalanceTCP:
		return lb.TCP
	}
	return lb.Auto
}

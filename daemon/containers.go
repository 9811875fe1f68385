package daemon

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/container"

	"github.com/shoal/shoal/agent/exec"
)

// This file is the Docker view of the containers this node runs for its tasks (docker ps,
// docker inspect, the lookup docker exec starts with). Only this node's executor is asked:
// a container on another node is "No such container", as with docker exec.

// containerView is one container of this node with what Docker shows of it.
type containerView struct {
	exec.ContainerInfo
	Name        string // "web.1.<task id>", without the leading "/"
	ServiceName string // empty when this node cannot tell (a worker does not hold services)
	NodeID      string
}

// nodeContainers lists this node's containers, named as Docker names swarm tasks'.
func (d *Daemon) nodeContainers(ctx context.Context) ([]containerView, error) {
	if d.executor == nil {
		return nil, nil
	}
	infos, err := d.executor.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list this node's containers: %w", err)
	}
	names, nodeID := d.serviceNames(infos), d.nodeID()
	out := make([]containerView, 0, len(infos))
	for _, info := range infos {
		if info.State == exec.ContainerMissing {
			continue
		}
		v := containerView{ContainerInfo: info, ServiceName: names[info.ServiceID], NodeID: nodeID}
		v.Name = containerName(v)
		out = append(out, v)
	}
	return out, nil
}

// serviceNames finds the names of the containers' services: the node's assignments name
// the services of its tasks; a manager also reads its store (for a container whose task
// is gone).
func (d *Daemon) serviceNames(infos []exec.ContainerInfo) map[string]string {
	d.mu.Lock()
	m, err := d.managerLocked()
	d.mu.Unlock()
	wk := d.worker.Load()
	names := map[string]string{}
	for _, info := range infos {
		if _, done := names[info.ServiceID]; done || info.ServiceID == "" {
			continue
		}
		if wk != nil {
			if name := wk.ServiceName(info.ServiceID); name != "" {
				names[info.ServiceID] = name
				continue
			}
		}
		if err == nil {
			if svc, err := m.Store().Service(info.ServiceID); err == nil {
				names[info.ServiceID] = svc.Spec.Name
			}
		}
	}
	return names
}

func (d *Daemon) nodeID() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == nil {
		return ""
	}
	return d.state.NodeID
}

// findContainer is resolveContainer over this node's containers.
func (d *Daemon) findContainer(ctx context.Context, ref string) (containerView, error) {
	list, err := d.nodeContainers(ctx)
	if err != nil {
		return containerView{}, err
	}
	return resolveContainer(list, ref)
}

// ContainerList lists this node's containers; all adds the ones that do not run.
func (d *Daemon) ContainerList(ctx context.Context, all bool) ([]container.Summary, error) {
	list, err := d.nodeContainers(ctx)
	if err != nil {
		return nil, err
	}
	now := d.cfg.Clock.Now()
	out := []container.Summary{}
	for _, c := range list {
		if all || c.State == exec.ContainerRunning {
			out = append(out, containerSummary(c, now))
		}
	}
	return out, nil
}

// ContainerInspect describes one of this node's containers.
func (d *Daemon) ContainerInspect(ctx context.Context, ref string) (container.InspectResponse, error) {
	c, err := d.findContainer(ctx, ref)
	if err != nil {
		return container.InspectResponse{}, err
	}
	return containerInspect(c), nil
}

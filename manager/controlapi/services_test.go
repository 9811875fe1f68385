package controlapi

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/manager/orchestrator"
	"github.com/shoal/shoal/manager/store"
)

// loopback applies proposals to its store at once, as a one-manager Raft would.
type loopback struct {
	mu    sync.Mutex
	index uint64
	st    *store.Store
}

func (l *loopback) Propose(_ context.Context, cmd []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.index++
	return l.st.Apply(l.index, cmd)
}

// TestUpdateServiceStatus checks which updates start a rolling update: those that replace
// tasks do; a pure scale does not, and clears the last update's status (as swarmkit does),
// so that clients waiting for convergence count tasks instead of an instant "completed".
func TestUpdateServiceStatus(t *testing.T) {
	replicas := func(n uint64) *swarm.ServiceMode {
		return &swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}}
	}
	tests := []struct {
		name       string
		dirtyTask  bool // one live task runs an older template
		change     func(*swarm.ServiceSpec)
		wantUpdate bool
	}{
		{"scale", false, func(s *swarm.ServiceSpec) { s.Mode = *replicas(5) }, false},
		{"image", false, func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Image = "sleepy:2" }, true},
		{"image and scale", false, func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Image = "sleepy:2"
			s.Mode = *replicas(5)
		}, true},
		{"label", false, func(s *swarm.ServiceSpec) { s.Labels = map[string]string{"a": "b"} }, true},
		{"scale while a task is out of date", true, func(s *swarm.ServiceSpec) { s.Mode = *replicas(5) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := store.New(nil, time.Now)
			st.SetProposer(&loopback{st: st})
			a := New(st, time.Now, nil)
			spec := validSpec()
			spec.Mode = *replicas(3)
			id, err := a.CreateService(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := st.Service(id)
			if err != nil {
				t.Fatal(err)
			}
			var actions []store.Action
			for slot := 1; slot <= 3; slot++ {
				task := orchestrator.NewTask(svc, slot, "", time.Now())
				task.ID = "task" + strconv.Itoa(slot)
				if tt.dirtyTask && slot == 1 {
					task.Spec.ContainerSpec.Image = "sleepy:0"
				}
				actions = append(actions, store.Action{Op: store.OpCreate, Task: &task})
			}
			if err := st.Write(ctx, actions...); err != nil {
				t.Fatal(err)
			}

			next := svc.Spec
			cs := *svc.Spec.TaskTemplate.ContainerSpec // the change must not reach the stored service
			next.TaskTemplate.ContainerSpec = &cs
			tt.change(&next)
			if err := a.UpdateService(ctx, id, svc.Version.Index, next, false); err != nil {
				t.Fatal(err)
			}
			got, err := st.Service(id)
			if err != nil {
				t.Fatal(err)
			}
			if updating := got.UpdateStatus != nil && got.UpdateStatus.State == swarm.UpdateStateUpdating; updating != tt.wantUpdate {
				t.Errorf("UpdateStatus after the update: %+v; want a rolling update: %v", got.UpdateStatus, tt.wantUpdate)
			}
		})
	}
}

// TestPublishedPortClashes: an ingress port is served on every node, so it clashes with the
// same port of any other service; two services' host-mode ports do not (the scheduler
// keeps them on different nodes).
func TestPublishedPortClashes(t *testing.T) {
	ingress := swarm.PortConfigPublishModeIngress
	host := swarm.PortConfigPublishModeHost
	tests := []struct {
		first, second swarm.PortConfigPublishMode
		clash         bool
	}{
		{ingress, ingress, true},
		{ingress, host, true},
		{host, ingress, true},
		{host, host, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.first)+"-"+string(tt.second), func(t *testing.T) {
			ctx := context.Background()
			st := store.New(nil, time.Now)
			st.SetProposer(&loopback{st: st})
			a := New(st, time.Now, nil)
			first := validSpec()
			first.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080, PublishMode: tt.first}}}
			if _, err := a.CreateService(ctx, first); err != nil {
				t.Fatal(err)
			}
			second := validSpec()
			second.Name = "other"
			second.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080, PublishMode: tt.second}}}
			_, err := a.CreateService(ctx, second)
			if tt.clash && (err == nil || !strings.Contains(err.Error(), "port 8080/tcp is already published by service web")) {
				t.Fatalf("got %v, want the clash refused", err)
			}
			if !tt.clash && err != nil {
				t.Fatalf("host-mode ports of two services refused: %v", err)
			}
		})
	}
}

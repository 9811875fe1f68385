package controlapi

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/apierr"
)

func validSpec() swarm.ServiceSpec {
	return swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "web"},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "sleepy:1"}},
	}
}

func TestValidateServiceSpec(t *testing.T) {
	neg := -time.Second
	tests := []struct {
		name   string
		change func(*swarm.ServiceSpec)
		want   string // substring of the error; "" = valid
	}{
		{"valid", func(*swarm.ServiceSpec) {}, ""},
		{"bad name", func(s *swarm.ServiceSpec) { s.Name = "-web" }, "invalid service name"},
		{"no container", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec = nil }, "no ContainerSpec"},
		{"no image", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Image = "" }, "names no image"},
		{"both modes", func(s *swarm.ServiceSpec) {
			s.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{}, Global: &swarm.GlobalService{}}
		}, "either replicated or global"},
		{"update order", func(s *swarm.ServiceSpec) { s.UpdateConfig = &swarm.UpdateConfig{Order: "fast"} }, `invalid --update-order "fast": must be start-first or stop-first`},
		{"rollback failure action", func(s *swarm.ServiceSpec) {
			s.RollbackConfig = &swarm.UpdateConfig{FailureAction: swarm.UpdateFailureActionRollback}
		}, "must be pause or continue"},
		{"failure ratio", func(s *swarm.ServiceSpec) { s.UpdateConfig = &swarm.UpdateConfig{MaxFailureRatio: 2} }, "between 0 and 1"},
		{"negative delay", func(s *swarm.ServiceSpec) { s.UpdateConfig = &swarm.UpdateConfig{Delay: -time.Second} }, "must be 0 or more"},
		{"negative grace", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.StopGracePeriod = &neg }, "stop grace period"},
		{"restart condition", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: "sometimes"}
		}, "must be none, on-failure or any"},
		{"tiny memory", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 1024}}
		}, "minimum is 6MB"},
		{"constraints", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"bogus"}}
		}, "bad constraint"},
		{"job mode", func(s *swarm.ServiceSpec) { s.Mode = swarm.ServiceMode{GlobalJob: &swarm.GlobalJob{}} }, "not implemented yet"},
		{"host port", func(s *swarm.ServiceSpec) {
			s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080, PublishMode: swarm.PortConfigPublishModeHost}}}
		}, ""},
		{"host port picked by the node", func(s *swarm.ServiceSpec) {
			s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishMode: swarm.PortConfigPublishModeHost}}}
		}, ""},
		{"no target port", func(s *swarm.ServiceSpec) {
			s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{PublishedPort: 8080}}}
		}, "target port must be 1-65535"},
		{"udp port", func(s *swarm.ServiceSpec) {
			s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 53, Protocol: "udp"}}}
		}, "publishing udp ports is not implemented yet"},
		{"bad protocol", func(s *swarm.ServiceSpec) {
			s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 53, Protocol: "icmp"}}}
		}, `invalid protocol "icmp"`},
		{"mesh balance", func(s *swarm.ServiceSpec) {
			s.Labels = map[string]string{"com.shoal.mesh.balance": "tcp"}
		}, ""},
		{"bad mesh balance", func(s *swarm.ServiceSpec) {
			s.Labels = map[string]string{"com.shoal.mesh.balance": "udp"}
		}, `invalid label com.shoal.mesh.balance="udp"`},
		{"published twice", func(s *swarm.ServiceSpec) {
			s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080}, {TargetPort: 81, PublishedPort: 8080, PublishMode: swarm.PortConfigPublishModeHost}}}
		}, "port 8080/tcp is published twice"},
		{"bad publish mode", func(s *swarm.ServiceSpec) {
			s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 53, PublishMode: "everywhere"}}}
		}, `invalid publish mode "everywhere"`},
	}
	parse := func(cs []string) error {
		for _, c := range cs {
			if !strings.Contains(c, "==") && !strings.Contains(c, "!=") {
				return errors.New("bad constraint " + c)
			}
		}
		return nil
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := validSpec()
			tc.change(&spec)
			err := ValidateServiceSpec(&spec, parse)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid spec refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if k := apierr.KindOf(err); k != apierr.KindInvalid && k != apierr.KindNotImplemented {
				t.Fatalf("error kind %v, want invalid or not implemented", k)
			}
		})
	}
}

func TestDefaultsAndUpdateChecks(t *testing.T) {
	s := WithDefaults(validSpec())
	if *s.Mode.Replicated.Replicas != 1 || *s.TaskTemplate.RestartPolicy.Delay != 5*time.Second ||
		s.TaskTemplate.RestartPolicy.Condition != swarm.RestartPolicyConditionAny ||
		s.UpdateConfig.Order != swarm.UpdateOrderStopFirst || s.UpdateConfig.FailureAction != swarm.UpdateFailureActionPause ||
		s.UpdateConfig.Monitor != 5*time.Second || *s.TaskTemplate.ContainerSpec.StopGracePeriod != 10*time.Second {
		t.Fatalf("defaults differ from the reference: %+v", s)
	}
	renamed := validSpec()
	renamed.Name = "other"
	if err := CheckUpdate(validSpec(), renamed); err == nil || !strings.Contains(err.Error(), "renaming services is not supported") {
		t.Fatalf("rename: %v", err)
	}
	global := validSpec()
	global.Mode.Global = &swarm.GlobalService{}
	if err := CheckUpdate(s, global); err == nil || !strings.Contains(err.Error(), "mode change is not allowed") {
		t.Fatalf("mode change: %v", err)
	}
}

package daemon

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/internal/apierr"
)

func TestNodeFilters(t *testing.T) {
	n := &swarm.Node{
		ID:          "abc123",
		Spec:        swarm.NodeSpec{Role: swarm.NodeRoleWorker, Annotations: swarm.Annotations{Labels: map[string]string{"zone": "a"}}},
		Description: swarm.NodeDescription{Hostname: "worker-1", Engine: swarm.EngineDescription{Labels: map[string]string{"disk": "ssd"}}},
	}
	tests := []struct {
		name string
		f    api.NodeListFilters
		want bool
	}{
		{"no filters", api.NodeListFilters{}, true},
		{"id prefix", api.NodeListFilters{ID: []string{"abc"}}, true},
		{"other id", api.NodeListFilters{ID: []string{"x"}}, false},
		{"one of several ids", api.NodeListFilters{ID: []string{"x", "abc1"}}, true},
		{"name", api.NodeListFilters{Name: []string{"worker"}}, true},
		{"role", api.NodeListFilters{Role: []string{"manager"}}, false},
		{"role and name", api.NodeListFilters{Role: []string{"worker"}, Name: []string{"worker-1"}}, true},
		{"node label key", api.NodeListFilters{NodeLabel: []string{"zone"}}, true},
		{"node label value", api.NodeListFilters{NodeLabel: []string{"zone=b"}}, false},
		{"engine label", api.NodeListFilters{Label: []string{"disk=ssd"}}, true},
		{"membership", api.NodeListFilters{Membership: []string{"pending"}}, false},
	}
	for _, tc := range tests {
		if got := nodeMatches(n, tc.f); got != tc.want {
			t.Errorf("%s: nodeMatches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestResolveAddrs(t *testing.T) {
	tests := []struct {
		listen, advertise   string
		wantListen, wantAdv string
		wantErr             bool
	}{
		{"", "192.0.2.5", "0.0.0.0:2377", "192.0.2.5:2377", false},
		{"0.0.0.0:4000", "192.0.2.5", "0.0.0.0:4000", "192.0.2.5:4000", false},
		{"", "192.0.2.5:5000", "0.0.0.0:2377", "192.0.2.5:5000", false},
		{"192.0.2.9:2377", "", "192.0.2.9:2377", "192.0.2.9:2377", false},
		{"0.0.0.0:99999", "192.0.2.5", "", "", true},
		{"", "not-an-interface-or-ip", "", "", true},
	}
	for _, tc := range tests {
		l, a, err := resolveAddrs(tc.listen, tc.advertise, "")
		if (err != nil) != tc.wantErr {
			t.Errorf("resolveAddrs(%q, %q): err = %v, wantErr %v", tc.listen, tc.advertise, err, tc.wantErr)
			continue
		}
		if err != nil {
			if apierr.KindOf(err) != apierr.KindInvalid {
				t.Errorf("resolveAddrs(%q, %q): error kind %v, want invalid", tc.listen, tc.advertise, apierr.KindOf(err))
			}
			continue
		}
		if l != tc.wantListen || a != tc.wantAdv {
			t.Errorf("resolveAddrs(%q, %q) = %q, %q; want %q, %q", tc.listen, tc.advertise, l, a, tc.wantListen, tc.wantAdv)
		}
	}
}

func TestValidateSpec(t *testing.T) {
	neg := int64(-1)
	tests := []struct {
		name string
		spec swarm.Spec
		kind apierr.Kind
	}{
		{"defaults", swarm.Spec{}, apierr.KindUnknown},
		{"heartbeat too short", swarm.Spec{Dispatcher: swarm.DispatcherConfig{HeartbeatPeriod: time.Millisecond}}, apierr.KindInvalid},
		{"negative heartbeat", swarm.Spec{Dispatcher: swarm.DispatcherConfig{HeartbeatPeriod: -time.Second}}, apierr.KindInvalid},
		{"cert expiry too short", swarm.Spec{CAConfig: swarm.CAConfig{NodeCertExpiry: time.Second}}, apierr.KindInvalid},
		{"negative history", swarm.Spec{Orchestration: swarm.OrchestrationConfig{TaskHistoryRetentionLimit: &neg}}, apierr.KindInvalid},
		{"autolock", swarm.Spec{EncryptionConfig: swarm.EncryptionConfig{AutoLockManagers: true}}, apierr.KindNotImplemented},
	}
	for _, tc := range tests {
		err := validateSpec(tc.spec)
		if got := apierr.KindOf(err); got != tc.kind || (tc.kind == apierr.KindUnknown) != (err == nil) {
			t.Errorf("%s: validateSpec = %v (kind %v), want kind %v", tc.name, err, got, tc.kind)
		}
	}
	spec := withSpecDefaults(swarm.Spec{})
	if spec.Dispatcher.HeartbeatPeriod != 5*time.Second || *spec.Orchestration.TaskHistoryRetentionLimit != 5 || spec.CAConfig.NodeCertExpiry != 90*24*time.Hour {
		t.Errorf("defaults = %+v, want the reference's (5s heartbeat, history 5, 90 day certificates)", spec)
	}
}

func TestCheckAvailability(t *testing.T) {
	for in, want := range map[swarm.NodeAvailability]swarm.NodeAvailability{"": "active", "active": "active", "pause": "pause", "drain": "drain"} {
		if got, err := checkAvailability(in); err != nil || got != want {
			t.Errorf("checkAvailability(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := checkAvailability("fast"); apierr.KindOf(err) != apierr.KindInvalid {
		t.Errorf("checkAvailability(fast) = %v, want an invalid-value error", err)
	}
}

package image

import (
	"reflect"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal/shoal/internal/apierr"
)

func TestParseChanges(t *testing.T) {
	cfg := func(c ocispec.ImageConfig) dockerspec.DockerOCIImageConfig {
		return dockerspec.DockerOCIImageConfig{ImageConfig: c}
	}
	ports := func(ps ...string) map[string]struct{} {
		m := map[string]struct{}{}
		for _, p := range ps {
			m[p] = struct{}{}
		}
		return m
	}
	tests := []struct {
		name    string
		changes []string
		want    dockerspec.DockerOCIImageConfig
	}{
		{"none", nil, cfg(ocispec.ImageConfig{})},
		{"cmd exec form", []string{`CMD ["/sleepy", "-v"]`}, cfg(ocispec.ImageConfig{Cmd: []string{"/sleepy", "-v"}})},
		{"cmd shell form", []string{`CMD echo hi && sleep 1`}, cfg(ocispec.ImageConfig{Cmd: []string{"/bin/sh", "-c", "echo hi && sleep 1"}})},
		{"cmd bad json is shell form", []string{`CMD [oops`}, cfg(ocispec.ImageConfig{Cmd: []string{"/bin/sh", "-c", "[oops"}})},
		{"lower-case instruction", []string{`cmd ["sh"]`}, cfg(ocispec.ImageConfig{Cmd: []string{"sh"}})},
		{"entrypoint", []string{`ENTRYPOINT ["/bin/app"]`, `CMD ["--flag"]`}, cfg(ocispec.ImageConfig{Entrypoint: []string{"/bin/app"}, Cmd: []string{"--flag"}})},
		{"env pairs and quotes", []string{`ENV A=1 B="two words" C='x y' D=a\ b`}, cfg(ocispec.ImageConfig{Env: []string{"A=1", "B=two words", "C=x y", "D=a b"}})},
		{"env legacy form", []string{`ENV GREETING hello   big world`}, cfg(ocispec.ImageConfig{Env: []string{"GREETING=hello   big world"}})},
		{"env empty value", []string{`ENV EMPTY=`}, cfg(ocispec.ImageConfig{Env: []string{"EMPTY="}})},
		{"env override keeps last", []string{`ENV A=1`, `ENV B=2`, `ENV A=3`}, cfg(ocispec.ImageConfig{Env: []string{"B=2", "A=3"}})},
		{"env no expansion", []string{`ENV P=$PATH:/x`}, cfg(ocispec.ImageConfig{Env: []string{"P=$PATH:/x"}})},
		{"workdir", []string{`WORKDIR /srv`, `WORKDIR app/../data`}, cfg(ocispec.ImageConfig{WorkingDir: "/srv/data"})},
		{"user", []string{`USER 1000:1000`}, cfg(ocispec.ImageConfig{User: "1000:1000"})},
		{"expose", []string{`EXPOSE 8080 53/udp 9000-9002/TCP`}, cfg(ocispec.ImageConfig{ExposedPorts: ports("8080/tcp", "53/udp", "9000/tcp", "9001/tcp", "9002/tcp")})},
		{"label", []string{`LABEL a=b "c d"=e`}, cfg(ocispec.ImageConfig{Labels: map[string]string{"a": "b", "c d": "e"}})},
		{"stopsignal", []string{`STOPSIGNAL SIGINT`}, cfg(ocispec.ImageConfig{StopSignal: "SIGINT"})},
		{"volume", []string{`VOLUME ["/data", "/logs/"]`}, cfg(ocispec.ImageConfig{Volumes: map[string]struct{}{"/data": {}, "/logs": {}}})},
		{"several lines in one change", []string{"CMD [\"sh\"]\n\n# comment\nUSER nobody"}, cfg(ocispec.ImageConfig{Cmd: []string{"sh"}, User: "nobody"})},
		{"healthcheck", []string{`HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD wget -q -O- localhost:8080/healthz`}, dockerspec.DockerOCIImageConfig{
			DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{Healthcheck: &dockerspec.HealthcheckConfig{
				Test: []string{"CMD-SHELL", "wget -q -O- localhost:8080/healthz"}, Interval: 5 * time.Second, Timeout: 2 * time.Second, Retries: 4,
			}},
		}},
		{"healthcheck exec", []string{`HEALTHCHECK CMD ["/sleepy", "-check"]`}, dockerspec.DockerOCIImageConfig{
			DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{Healthcheck: &dockerspec.HealthcheckConfig{Test: []string{"CMD", "/sleepy", "-check"}}},
		}},
		{"healthcheck none", []string{`HEALTHCHECK NONE`}, dockerspec.DockerOCIImageConfig{
			DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{Healthcheck: &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChanges(tt.changes)
			if err != nil {
				t.Fatalf("ParseChanges(%q): %v", tt.changes, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseChanges(%q)\n got %+v\nwant %+v", tt.changes, got, tt.want)
			}
		})
	}
}

func TestParseChangesRefusesBadInput(t *testing.T) {
	tests := []struct {
		change string
		want   string // in the message
	}{
		{`RUN apt-get update`, `unsupported --change instruction "RUN": supported are CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR`},
		{`ONBUILD CMD x`, `unsupported --change instruction "ONBUILD"`},
		{`FROM scratch`, `unsupported`},
		{`CMD`, `a command is required`},
		{`ENTRYPOINT   `, `a command is required`},
		{`ENV`, `needs key=value`},
		{`ENV ONLYKEY`, `"ONLYKEY" needs a value`},
		{`ENV A=1 B`, `"B" is not key=value`},
		{`ENV =x`, `empty key`},
		{`ENV A="unterminated`, `unterminated double quote`},
		{`LABEL a='x`, `unterminated single quote`},
		{`EXPOSE`, `needs at least one port`},
		{`EXPOSE 0`, `not a port number`},
		{`EXPOSE 70000`, `not a port number`},
		{`EXPOSE http`, `not a port number`},
		{`EXPOSE 80/icmp`, `protocol must be tcp, udp or sctp`},
		{`EXPOSE 90-80`, `ends before it starts`},
		{`WORKDIR`, `needs a directory`},
		{`USER`, `needs one user`},
		{`USER a b`, `needs one user`},
		{`STOPSIGNAL`, `needs one signal`},
		{`VOLUME relative/path`, `must be an absolute path`},
		{`VOLUME ["/ok", 1]`, `not a JSON array`},
		{`HEALTHCHECK`, `expected CMD or NONE`},
		{`HEALTHCHECK CMD`, `needs a command`},
		{`HEALTHCHECK --interval 5s CMD true`, `needs a value`},
		{`HEALTHCHECK --interval=-5s CMD true`, `must be 0 or at least 1ms`},
		{`HEALTHCHECK --interval=fast CMD true`, `invalid duration`},
		{`HEALTHCHECK --retries=-1 CMD true`, `--retries=-1`},
		{`HEALTHCHECK --color=red CMD true`, `unknown HEALTHCHECK option --color`},
		{`HEALTHCHECK --retries=2 NONE`, `takes no options`},
	}
	for _, tt := range tests {
		t.Run(tt.change, func(t *testing.T) {
			_, err := ParseChanges([]string{tt.change})
			if err == nil {
				t.Fatalf("ParseChanges(%q) = nil error; want one containing %q", tt.change, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseChanges(%q) = %q; want it to contain %q", tt.change, err, tt.want)
			}
			if apierr.KindOf(err) != apierr.KindInvalid {
				t.Errorf("ParseChanges(%q) error kind = %v; want invalid input", tt.change, apierr.KindOf(err))
			}
		})
	}
}

package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/swarm"
	"github.com/shoal/shoal/internal/apierr"
)

// The fake's ServiceBackend side. Like the node methods, each records its call, fails with
// f.err when set, and answers from the canned services and tasks.

func (f *fakeBackend) ServiceCreate(_ context.Context, spec swarm.ServiceSpec) (swarm.ServiceCreateResponse, error) {
	if err := f.record("ServiceCreate", spec); err != nil {
		return swarm.ServiceCreateResponse{}, err
	}
	return swarm.ServiceCreateResponse{ID: "s-new"}, nil
}

func (f *fakeBackend) ServiceList(_ context.Context, filters ServiceListFilters, withStatus bool) ([]swarm.Service, error) {
	if err := f.record("ServiceList", filters, withStatus); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]swarm.Service(nil), f.services...)
	if withStatus {
		for i := range out {
			out[i].ServiceStatus = &swarm.ServiceStatus{RunningTasks: 1, DesiredTasks: 1}
		}
	}
	return out, nil
}

func (f *fakeBackend) findService(idOrName string) (swarm.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.services {
		if s.ID == idOrName || s.Spec.Name == idOrName {
			return s, nil
		}
	}
	return swarm.Service{}, apierr.NotFoundf("service %s not found", idOrName)
}

func (f *fakeBackend) ServiceInspect(_ context.Context, idOrName string, insertDefaults bool) (swarm.Service, error) {
	if err := f.record("ServiceInspect", idOrName, insertDefaults); err != nil {
		return swarm.Service{}, err
	}
	return f.findService(idOrName)
}

func (f *fakeBackend) ServiceUpdate(_ context.Context, idOrName string, version uint64, spec swarm.ServiceSpec, opts ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	if err := f.record("ServiceUpdate", idOrName, version, spec, opts); err != nil {
		return swarm.ServiceUpdateResponse{}, err
	}
	_, err := f.findService(idOrName)
	return swarm.ServiceUpdateResponse{Warnings: []string{"image sleepy:1 could not be pinned"}}, err
}

func (f *fakeBackend) ServiceRemove(_ context.Context, idOrName string) error {
	if err := f.record("ServiceRemove", idOrName); err != nil {
		return err
	}
	_, err := f.findService(idOrName)
	return err
}

func (f *fakeBackend) ServiceLogs(ctx context.Context, idOrName string, opts LogsOptions, w io.Writer) error {
	if err := f.record("ServiceLogs", idOrName, opts); err != nil {
		return err
	}
	if _, err := f.findService(idOrName); err != nil {
		return err
	}
	return f.writeLogs(ctx, opts, w)
}

func (f *fakeBackend) TaskLogs(ctx context.Context, taskID string, opts LogsOptions, w io.Writer) error {
	if err := f.record("TaskLogs", taskID, opts); err != nil {
		return err
	}
	if _, err := f.findTask(taskID); err != nil {
		return err
	}
	return f.writeLogs(ctx, opts, w)
}

func (f *fakeBackend) writeLogs(ctx context.Context, opts LogsOptions, w io.Writer) error {
	f.mu.Lock()
	logs := f.logs
	f.mu.Unlock()
	if logs != nil {
		return logs(ctx, opts, w)
	}
	line := "hello from web.1\n"
	if opts.Details {
		// The docker CLI reads the task and node from the details; it fails without them.
		line = "com.docker.swarm.node.id=n2,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 " + line
	}
	return writeStdcopyFrame(w, stdcopy.Stdout, []byte(line))
}

func (f *fakeBackend) TaskList(_ context.Context, filters TaskListFilters) ([]swarm.Task, error) {
	if err := f.record("TaskList", filters); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]swarm.Task(nil), f.tasks...), nil
}

func (f *fakeBackend) findTask(id string) (swarm.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tasks {
		if t.ID == id {
			return t, nil
		}
	}
	return swarm.Task{}, apierr.NotFoundf("task %s not found", id)
}

func (f *fakeBackend) TaskInspect(_ context.Context, id string) (swarm.Task, error) {
	if err := f.record("TaskInspect", id); err != nil {
		return swarm.Task{}, err
	}
	return f.findTask(id)
}

func TestServiceAndTaskRouting(t *testing.T) {
	spec := `{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"sleepy:1"}},"Mode":{"Replicated":{"Replicas":2}}}`
	checkRoutes(t, []routeCase{
		{"POST", "/services/create", spec, 201, "ServiceCreate"},
		{"POST", "/v1.44/services/create", spec, 201, "ServiceCreate"},
		{"GET", "/services", "", 200, "ServiceList"},
		{"GET", `/v1.56/services?status=1&filters={"mode":{"replicated":true}}`, "", 200, "ServiceList"},
		{"GET", "/services/web", "", 200, "ServiceInspect"},
		{"HEAD", "/v1.41/services/s1", "", 200, "ServiceInspect"},
		{"GET", "/services/s1?insertDefaults=true", "", 200, "ServiceInspect"},
		{"POST", "/services/s1/update?version=7", spec, 200, "ServiceUpdate"},
		{"POST", "/v1.51/services/web/update?version=7&rollback=previous&registryAuthFrom=previous-spec", spec, 200, "ServiceUpdate"},
		{"DELETE", "/services/web", "", 200, "ServiceRemove"},
		{"DELETE", "/v1.51/services/s1", "", 200, "ServiceRemove"},
		{"GET", "/services/web/logs?stdout=1", "", 200, "ServiceLogs"},
		{"GET", "/v1.51/services/web/logs?stdout=1&stderr=1&tail=10&since=1700000000.5", "", 200, "ServiceLogs"},
		{"GET", "/tasks", "", 200, "TaskList"},
		{"GET", `/v1.51/tasks?filters={"service":{"web":true},"desired-state":{"running":true}}`, "", 200, "TaskList"},
		{"GET", "/tasks/t1", "", 200, "TaskInspect"},
		{"GET", "/v1.51/tasks/t1/logs?stderr=1&tail=", "", 200, "TaskLogs"},

		{"GET", "/services/ghost", "", 404, "ServiceInspect"},
		{"GET", "/services/ghost/logs?stdout=1", "", 404, "ServiceLogs"},
		{"GET", "/tasks/ghost", "", 404, "TaskInspect"},
		{"GET", "/services/web/tasks", "", 404, ""},
		{"GET", "/services/", "", 404, ""},

		{"PUT", "/services/web", "", 405, ""},
		{"POST", "/services/web", "", 405, ""},
		{"GET", "/services/web/update", "", 405, ""},
		{"POST", "/tasks", "", 405, ""},
		{"DELETE", "/v1.51/tasks/t1", "", 405, ""},
	})
}

func TestAllowHeaderListsTheMethodsOfThePath(t *testing.T) {
	h := NewHandler(newFakeBackend(), Options{})
	for target, want := range map[string]string{
		"/services/web":        "GET, HEAD, DELETE",
		"/services/create":     "GET, HEAD, POST, DELETE", // also /services/{id}, as in Docker
		"/v1.51/tasks":         "GET, HEAD",
		"/images/sleepy:1":     "GET, HEAD, DELETE",
		"/images/load":         "GET, HEAD, POST, DELETE",
		"/distribution/a/json": "GET, HEAD",
	} {
		rec := do(t, h, "PUT", target, "")
		if rec.Code != 405 || rec.Header().Get("Allow") != want {
			t.Errorf("PUT %s: status %d, Allow %q; want 405, %q", target, rec.Code, rec.Header().Get("Allow"), want)
		}
	}
}

// withoutWorkloads hides the fake's ServiceBackend and ImageBackend methods: only the
// Backend interface's methods are promoted.
type withoutWorkloads struct{ Backend }

func TestServicesAndImagesNotImplemented(t *testing.T) {
	tests := []struct{ method, target, body, wantMsg string }{
		{"POST", "/services/create", `{"Name":"web"}`, "services are not implemented yet"},
		{"POST", "/services/create", `{"Name":`, "services are not implemented yet"},
		{"GET", "/v1.51/services", "", "services are not implemented yet"},
		{"GET", "/services/web", "", "services are not implemented yet"},
		{"POST", "/services/web/update?version=1", `{}`, "services are not implemented yet"},
		{"DELETE", "/services/web", "", "services are not implemented yet"},
		{"GET", "/services/web/logs?stdout=1", "", "services are not implemented yet"},
		{"GET", "/tasks", "", "services are not implemented yet"},
		{"GET", "/tasks/t1", "", "services are not implemented yet"},
		{"GET", "/tasks/t1/logs", "", "services are not implemented yet"},
		{"POST", "/images/create?fromSrc=-", "tar", "images are not implemented yet"},
		{"POST", "/images/load", "tar", "images are not implemented yet"},
		{"GET", "/v1.51/images/json", "", "images are not implemented yet"},
		{"DELETE", "/images/library/sleepy:1", "", "images are not implemented yet"},
		{"GET", "/distribution/library/sleepy:1/json", "", "images are not implemented yet"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			fake := newFakeBackend()
			rec := do(t, NewHandler(withoutWorkloads{fake}, Options{}), tt.method, tt.target, tt.body)
			if rec.Code != http.StatusNotImplemented {
				t.Fatalf("status = %d, want 501 (body %q)", rec.Code, rec.Body.String())
			}
			if msg := errorMessage(t, rec); msg != tt.wantMsg {
				t.Errorf("message = %q, want %q", msg, tt.wantMsg)
			}
			if fake.callCount() != 0 {
				t.Errorf("backend was called: %+v", fake.calls)
			}
		})
	}
	// The swarm endpoints are unaffected.
	if rec := do(t, NewHandler(withoutWorkloads{newFakeBackend()}, Options{}), "GET", "/nodes", ""); rec.Code != 200 {
		t.Errorf("GET /nodes without workloads: status %d, want 200", rec.Code)
	}
}

func TestServiceRequestsReachBackendIntact(t *testing.T) {
	fake := newFakeBackend()
	h := NewHandler(fake, Options{})

	req := httptest.NewRequest("POST", "/v1.51/services/create",
		strings.NewReader(`{"Name":"web","Labels":{"tier":"front"},"TaskTemplate":{"ContainerSpec":{"Image":"sleepy:1","Args":["-d"]}},"Mode":{"Replicated":{"Replicas":3}},"Unknown":1}`))
	req.Header.Set("X-Registry-Auth", "e30=")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: status %d, want 201 (body %q)", rec.Code, rec.Body.String())
	}
	var created swarm.ServiceCreateResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.ID != "s-new" {
		t.Errorf("create body = %q, want ID s-new", rec.Body.String())
	}
	spec := fake.callsTo("ServiceCreate")[0][0].(swarm.ServiceSpec)
	if spec.Name != "web" || spec.Labels["tier"] != "front" || spec.TaskTemplate.ContainerSpec.Image != "sleepy:1" ||
		*spec.Mode.Replicated.Replicas != 3 {
		t.Errorf("ServiceCreate got %+v", spec)
	}

	do(t, h, "GET", `/services?status=true&filters=`+urlQueryEscape(`{"name":{"web":true,"api":true},"label":["tier=front"],"mode":{"Global":true}}`), "")
	wantFilters := ServiceListFilters{Name: []string{"api", "web"}, Label: []string{"tier=front"}, Mode: []string{"global"}}
	if calls := fake.callsTo("ServiceList"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], wantFilters) || calls[0][1] != true {
		t.Errorf("ServiceList calls = %+v, want %+v with status", calls, wantFilters)
	}

	do(t, h, "GET", "/services/web?insertDefaults=1", "")
	do(t, h, "GET", "/services/web", "")
	if calls := fake.callsTo("ServiceInspect"); len(calls) != 2 || calls[0][1] != true || calls[1][1] != false {
		t.Errorf("ServiceInspect calls = %+v, want insertDefaults true then false", calls)
	}

	rec = do(t, h, "POST", "/services/web/update?version=7&rollback=none", `{"Name":"web","TaskTemplate":{"ForceUpdate":2}}`)
	var updated swarm.ServiceUpdateResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &updated); err != nil || len(updated.Warnings) != 1 {
		t.Errorf("update body = %q, want the backend's warning", rec.Body.String())
	}
	do(t, h, "POST", "/services/web/update?version=8&rollback=previous&registryAuthFrom=previous-spec", `{"Name":"web"}`)
	calls := fake.callsTo("ServiceUpdate")
	if len(calls) != 2 {
		t.Fatalf("ServiceUpdate calls = %+v", calls)
	}
	if calls[0][0] != "web" || calls[0][1] != uint64(7) || calls[0][2].(swarm.ServiceSpec).TaskTemplate.ForceUpdate != 2 ||
		calls[0][3] != (ServiceUpdateOptions{RegistryAuthFrom: "spec"}) {
		t.Errorf("first update = %+v", calls[0])
	}
	if calls[1][1] != uint64(8) || calls[1][3] != (ServiceUpdateOptions{Rollback: "previous", RegistryAuthFrom: "previous-spec"}) {
		t.Errorf("rollback update = %+v", calls[1])
	}

	do(t, h, "GET", "/services/web/logs?follow=1&stdout=1&stderr=0&timestamps=true&details=1&since=1700000000.000000001&tail=5", "")
	wantLogs := LogsOptions{Follow: true, Stdout: true, Timestamps: true, Details: true, Since: time.Unix(1700000000, 1).UTC(), Tail: 5}
	if calls := fake.callsTo("ServiceLogs"); len(calls) != 1 || calls[0][0] != "web" || !reflect.DeepEqual(calls[0][1], wantLogs) {
		t.Errorf("ServiceLogs calls = %+v, want %+v", calls, wantLogs)
	}
	do(t, h, "GET", "/tasks/t1/logs?stdout=1&stderr=1&tail=&since=0", "")
	wantLogs = LogsOptions{Stdout: true, Stderr: true, Tail: -1}
	if calls := fake.callsTo("TaskLogs"); len(calls) != 1 || calls[0][0] != "t1" || !reflect.DeepEqual(calls[0][1], wantLogs) {
		t.Errorf("TaskLogs calls = %+v, want %+v", calls, wantLogs)
	}

	do(t, h, "GET", "/tasks?filters="+urlQueryEscape(`{"service":["web"],"node":{"worker-1":true},"desired-state":{"Running":true,"shutdown":true}}`), "")
	wantTasks := TaskListFilters{Service: []string{"web"}, Node: []string{"worker-1"}, DesiredState: []string{"running", "shutdown"}}
	if calls := fake.callsTo("TaskList"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], wantTasks) {
		t.Errorf("TaskList calls = %+v, want %+v", calls, wantTasks)
	}

	fake.set(func(f *fakeBackend) { f.services, f.tasks = nil, nil })
	for _, target := range []string{"/services", "/tasks"} {
		if rec := do(t, h, "GET", target, ""); strings.TrimSpace(rec.Body.String()) != "[]" {
			t.Errorf("GET %s with none: body %q, want []", target, rec.Body.String())
		}
	}
}

func urlQueryEscape(s string) string {
	return strings.NewReplacer(`"`, "%22", "{", "%7B", "}", "%7D", " ", "%20", "[", "%5B", "]", "%5D").Replace(s)
}

// TestRefusedServiceRequestsNeverReachBackend is TestRefusedRequestsNeverReachBackend for
// the service and task endpoints.
func TestRefusedServiceRequestsNeverReachBackend(t *testing.T) {
	big := `{"Name":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	checkRefused(t, []refusedCase{
		{"oversized spec", "POST", "/services/create", big, "request body too large (limit 1 MiB)"},
		{"oversized update", "POST", "/services/web/update?version=1", big, "request body too large (limit 1 MiB)"},
		{"empty spec", "POST", "/services/create", "", "empty request body: expected a JSON object (service spec)"},
		{"truncated spec", "POST", "/services/create", `{"Name":"web","TaskTemplate":{`, "unexpected end of JSON input"},
		{"wrong type", "POST", "/services/create", `{"Mode":{"Replicated":{"Replicas":-1}}}`, "field Mode.Replicated.Replicas must be a non-negative integer"},
		{"array spec", "POST", "/v1.51/services/create", `[]`, "expected a JSON object (service spec), got an array"},
		{"null secret", "POST", "/services/create", `{"TaskTemplate":{"ContainerSpec":{"Secrets":[null]}}}`, "TaskTemplate.ContainerSpec.Secrets[0] is null"},
		{"null config in update", "POST", "/services/web/update?version=1", `{"TaskTemplate":{"ContainerSpec":{"Configs":[{},null]}}}`, "TaskTemplate.ContainerSpec.Configs[1] is null"},
		{"trailing garbage", "POST", "/services/create", `{"Name":"web"}x`, "unexpected content after the JSON object"},
		{"missing version", "POST", "/services/web/update", `{}`, "the version query parameter is required"},
		{"bad version", "POST", "/services/web/update?version=v7", `{}`, `invalid version "v7"`},
		{"bad rollback", "POST", "/services/web/update?version=1&rollback=yes", `{}`, `invalid rollback "yes": must be previous or none`},
		{"bad auth source", "POST", "/services/web/update?version=1&registryAuthFrom=env", `{}`, `invalid registryAuthFrom "env": must be spec or previous-spec`},
		{"bad status", "GET", "/services?status=all", "", `invalid value "all" for query parameter status`},
		{"bad insertDefaults", "GET", "/services/web?insertDefaults=please", "", "insertDefaults"},
		{"unknown service filter", "GET", `/services?filters={"node":{"n1":true}}`, "", "invalid filter 'node'"},
		{"bad mode", "GET", `/services?filters={"mode":{"job":true}}`, "", "invalid filter 'mode=job': mode must be replicated or global"},
		{"bad filters json", "GET", `/services?filters={"name":"web"}`, "", "values of 'name' must be an object"},
		{"unknown task filter", "GET", `/tasks?filters={"up-to-date":{"true":true}}`, "", "invalid filter 'up-to-date'"},
		{"bad desired state", "GET", `/v1.51/tasks?filters={"desired-state":{"paused":true}}`, "", "desired-state must be running or shutdown or accepted"},
		{"no stream", "GET", "/services/web/logs", "", "choose at least one stream"},
		{"no stream for task", "GET", "/tasks/t1/logs?stdout=0&stderr=false", "", "choose at least one stream"},
		{"bad follow", "GET", "/services/web/logs?stdout=1&follow=forever", "", `invalid value "forever" for query parameter follow`},
		{"bad since", "GET", "/services/web/logs?stdout=1&since=yesterday", "", `invalid since "yesterday": must be a Unix time in seconds`},
		{"rfc3339 since", "GET", "/tasks/t1/logs?stdout=1&since=2024-01-02T03:04:05Z", "", "invalid since"},
		{"long fraction", "GET", "/tasks/t1/logs?stdout=1&since=1.0000000001", "", "invalid since"},
		{"bad tail", "GET", "/services/web/logs?stdout=1&tail=last", "", `invalid tail "last": must be a non-negative number of lines or all`},
		{"negative tail", "GET", "/tasks/t1/logs?stdout=1&tail=-3", "", `invalid tail "-3"`},
	})
}

// readFrame reads one stdcopy frame from r.
func readFrame(t *testing.T, r io.Reader) (stdcopy.StdType, string) {
	t.Helper()
	var header [8]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		t.Fatalf("reading a frame header: %v", err)
	}
	payload := make([]byte, binary.BigEndian.Uint32(header[4:]))
	if _, err := io.ReadFull(r, payload); err != nil {
		t.Fatalf("reading a frame payload: %v", err)
	}
	return stdcopy.StdType(header[0]), string(payload)
}

// TestLogsFollowStreamsAndStopsOnDisconnect follows logs over a real connection: the
// header arrives as soon as the backend flushes, each frame arrives when written (not when
// the stream ends), and the backend is stopped when the client hangs up.
func TestLogsFollowStreamsAndStopsOnDisconnect(t *testing.T) {
	for _, target := range []string{"/v1.51/services/web/logs", "/tasks/t1/logs"} {
		t.Run(target, func(t *testing.T) {
			fake := newFakeBackend()
			next := make(chan string)
			returned := make(chan error, 1)
			fake.set(func(f *fakeBackend) {
				f.logs = func(ctx context.Context, opts LogsOptions, w io.Writer) error {
					w.(http.Flusher).Flush() // open the stream before there is anything to say
					for {
						select {
						case line := <-next:
							if err := writeStdcopyFrame(w, stdcopy.Stderr, []byte(line)); err != nil {
								returned <- err
								return err
							}
						case <-ctx.Done():
							returned <- ctx.Err()
							return ctx.Err()
						}
					}
				}
			})
			srv := httptest.NewServer(NewHandler(fake, Options{}))
			defer srv.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			reqCtx, hangUp := context.WithCancel(ctx)
			req, _ := http.NewRequestWithContext(reqCtx, "GET", srv.URL+target+"?follow=1&stdout=1&stderr=1", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("request: %v (the header must come with the backend's Flush)", err)
			}
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/vnd.docker.multiplexed-stream" {
				t.Fatalf("status %d, Content-Type %q; want 200 and the multiplexed stream type", resp.StatusCode, ct)
			}
			for _, line := range []string{"first\n", "second\n"} {
				select {
				case next <- line:
				case <-ctx.Done():
					t.Fatal("backend stopped taking lines")
				}
				if stream, got := readFrame(t, resp.Body); stream != stdcopy.Stderr || got != line {
					t.Fatalf("frame = %d %q, want stderr %q", stream, got, line)
				}
			}

			hangUp()
			select {
			case err := <-returned:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("backend returned %v, want context.Canceled", err)
				}
			case <-ctx.Done():
				t.Fatal("the backend was not stopped when the client disconnected")
			}
		})
	}
}

func TestLogsErrors(t *testing.T) {
	t.Run("before output: a status", func(t *testing.T) {
		rec := do(t, NewHandler(newFakeBackend(), Options{}), "GET", "/services/ghost/logs?stdout=1", "")
		if rec.Code != 404 || errorMessage(t, rec) != "service ghost not found" {
			t.Errorf("status %d body %q, want 404 service ghost not found", rec.Code, rec.Body.String())
		}
	})
	t.Run("after output: a system-error frame", func(t *testing.T) {
		fake := newFakeBackend()
		fake.set(func(f *fakeBackend) {
			f.logs = func(_ context.Context, _ LogsOptions, w io.Writer) error {
				if err := writeStdcopyFrame(w, stdcopy.Stdout, []byte("partial\n")); err != nil {
					return err
				}
				return apierr.Unavailablef("node worker-1 went away")
			}
		})
		rec := do(t, NewHandler(fake, Options{}), "GET", "/services/web/logs?stdout=1", "")
		if rec.Code != 200 {
			t.Fatalf("status %d, want 200: the stream had started", rec.Code)
		}
		var stdout, stderr bytes.Buffer
		_, err := stdcopy.StdCopy(&stdout, &stderr, rec.Body)
		if err == nil || !strings.Contains(err.Error(), "error from daemon in stream: node worker-1 went away") {
			t.Errorf("StdCopy err = %v, want the backend's error from the stream", err)
		}
		if stdout.String() != "partial\n" {
			t.Errorf("stdout = %q, want the output before the error", stdout.String())
		}
	})
	t.Run("no output: an empty stream", func(t *testing.T) {
		fake := newFakeBackend()
		fake.set(func(f *fakeBackend) {
			f.logs = func(context.Context, LogsOptions, io.Writer) error { return nil }
		})
		rec := do(t, NewHandler(fake, Options{}), "GET", "/tasks/t1/logs?stdout=1", "")
		if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "application/vnd.docker.multiplexed-stream" {
			t.Errorf("status %d, Content-Type %q, body %q; want 200, the stream type, empty", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
		}
	})
	t.Run("writes after return are refused", func(t *testing.T) {
		fake := newFakeBackend()
		var leaked io.Writer
		fake.set(func(f *fakeBackend) {
			f.logs = func(_ context.Context, _ LogsOptions, w io.Writer) error { leaked = w; return nil }
		})
		do(t, NewHandler(fake, Options{}), "GET", "/tasks/t1/logs?stdout=1", "")
		if _, err := leaked.Write([]byte("late")); !errors.Is(err, errStreamClosed) {
			t.Errorf("late write err = %v, want errStreamClosed", err)
		}
	})
}

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal/shoal/lab"
)

// loadResult is what a load run saw.
type loadResult struct {
	ok, failed int
	versions   map[string]int
	errors     []string
}

// loadDuring sends total requests from clients concurrent clients, each request on a new
// connection (as `ab -c clients -n total` does), to url, and runs action once the load is
// under way. It returns when both are done.
func loadDuring(t *testing.T, url string, total, clients int, action func()) loadResult {
	t.Helper()
	return runLoad(t, total, clients, &http.Transport{DisableKeepAlives: true}, func() (*http.Request, error) {
		return http.NewRequest(http.MethodGet, url, nil)
	}, action)
}

// keepAliveLoadDuring is loadDuring with each client holding one keep-alive connection
// for all its requests (as `ab -k` does). The requests are POSTs whose body cannot be
// replayed, so Go's client never quietly retries one on a new connection: an error the
// platform causes reaches the count.
func keepAliveLoadDuring(t *testing.T, url string, total, clients int, action func()) loadResult {
	t.Helper()
	return runLoad(t, total, clients, &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, url, io.NopCloser(strings.NewReader("ping")))
		if req != nil {
			req.GetBody = nil
			req.ContentLength = 4
		}
		return req, err
	}, action)
}

func runLoad(t *testing.T, total, clients int, transport *http.Transport, newRequest func() (*http.Request, error), action func()) loadResult {
	t.Helper()
	var (
		next int64
		mu   sync.Mutex
		res  = loadResult{versions: map[string]int{}}
		wg   sync.WaitGroup
	)
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: 30 * time.Second, Transport: transport}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&next, 1) <= int64(total) {
				req, err := newRequest()
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := client.Do(req)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				switch {
				case err != nil:
					res.failed++
					res.errors = append(res.errors, time.Now().Format("15:04:05.000")+" "+err.Error())
				case resp.StatusCode != 200 || !sleepyAnswered(string(body)):
					res.failed++
					res.errors = append(res.errors, fmt.Sprintf("%s %q", resp.Status, body))
				default:
					res.ok++
					res.versions[resp.Header.Get("X-Sleepy-Version")]++
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(3 * time.Second) // the load is under way
	action()
	wg.Wait()
	return res
}

// TestHeadlineNoDroppedRequests is the experiment the reference fails: while 10 clients
// send 500 requests (a new connection each) to a node that runs no web task, the service
// is updated, rolled out start-first, scaled up and down: not one request fails. Then the
// same update with keep-alive clients, each holding one connection throughout.
func TestHeadlineNoDroppedRequests(t *testing.T) {
	l := startLab(t, lab.Options{Name: "e2eheadline", Managers: 1, Workers: 3})
	images := sampleImages(t)
	for _, n := range l.Nodes() {
		for _, img := range []string{"sleepy-1.docker.tar", "sleepy-2.docker.tar"} {
			mustRun(t, l, n.Name, "image", "load", "-q", "-i", filepath.Join(images, img))
		}
	}
	mustRun(t, l, "manager-1", "service", "create", "-d", "--name", "web", "--replicas", "3",
		"--constraint", "node.role==worker", "-p", "8080:8080", "sleepy:1")
	url := "http://" + node(t, l, "manager-1").Addr.String() + ":8080/"
	eventually(t, 60*time.Second, "web answering through the mesh on the manager", func() error {
		if _, err := httpGet(url); err != nil {
			return err
		}
		if out := mustRun(t, l, "manager-1", "service", "ls", "--filter", "name=web", "--format", "{{.Replicas}}"); !strings.HasPrefix(strings.TrimSpace(out), "3/3") {
			return fmt.Errorf("replicas %s", out)
		}
		return nil
	})

	check := func(name string, res loadResult, wantVersions ...string) {
		t.Helper()
		t.Logf("%s: %d complete, %d failed, versions %v", name, res.ok, res.failed, res.versions)
		if res.failed != 0 || res.ok != 500 {
			t.Errorf("%s: %d of 500 failed; first errors: %v", name, res.failed, res.errors[:min(5, len(res.errors))])
		}
		for _, v := range wantVersions {
			if res.versions[v] == 0 {
				t.Errorf("%s: version %s never answered (%v)", name, v, res.versions)
			}
		}
	}
	res := loadDuring(t, url, 500, 10, func() {
		mustRun(t, l, "manager-1", "service", "update", "--image", "sleepy:2", "web")
	})
	check("update stop-first", res, "1", "2")

	res = loadDuring(t, url, 500, 10, func() {
		mustRun(t, l, "manager-1", "service", "update", "--update-order", "start-first", "--image", "sleepy:1", "web")
	})
	check("update start-first", res, "1", "2")

	res = loadDuring(t, url, 500, 10, func() {
		mustRun(t, l, "manager-1", "service", "scale", "web=6")
		mustRun(t, l, "manager-1", "service", "scale", "web=2")
	})
	check("scale 6 then 2", res)

	// Keep-alive clients are not cut: the mesh balances their requests one by one, so a
	// client holding one connection across an update never sees an error (promise 4).
	res = keepAliveLoadDuring(t, url, 500, 10, func() {
		mustRun(t, l, "manager-1", "service", "update", "--image", "sleepy:2", "web")
	})
	check("keep-alive, update stop-first", res, "1", "2")
	checkDrainsConfirmed(t, l)
}

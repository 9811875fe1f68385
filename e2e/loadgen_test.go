package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal/shoal/network/netns"
)

// dialFunc makes the connections of a load run; it decides where the client's sockets live.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// httpLoad is what one load run (or several, added up) measured.
type httpLoad struct {
	requests  int             // answered 200 in full
	elapsed   time.Duration   // wall time of the runs
	latencies []time.Duration // per answered request, from sending it (dial included) to its last byte
	dials     int             // connections made
	failed    int
	errors    []string // the first few failures
}

func (r httpLoad) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// add merges another run into r.
func (r *httpLoad) add(o httpLoad) {
	r.requests += o.requests
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
	r.dials += o.dials
	r.failed += o.failed
	r.errors = append(r.errors, o.errors[:min(len(o.errors), max(0, 5-len(r.errors)))]...)
}

// sendHTTPLoad sends n GET requests for url from clients concurrent workers, as
// `ab -c clients -n n [-k]` does: with keepAlive each worker holds one connection for all
// its requests, without it every request has a connection of its own. Every connection
// comes from dial. A request fails unless it answers 200 with its whole body.
func sendHTTPLoad(url string, n, clients int, keepAlive bool, dial dialFunc) httpLoad {
	var (
		next  atomic.Int64
		dials atomic.Int64
		mu    sync.Mutex
		res   httpLoad
		wg    sync.WaitGroup
	)
	counted := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return dial(ctx, network, addr)
	}
	start := time.Now()
	for range clients {
		wg.Go(func() {
			// A transport per worker: with keep-alive, the worker's one pooled connection.
			tr := &http.Transport{DialContext: counted, DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			lat := make([]time.Duration, 0, n/clients+1)
			var failures []string
			for next.Add(1) <= int64(n) {
				t := time.Now()
				err := getAll(c, url)
				if err != nil {
					failures = append(failures, time.Now().Format("15:04:05.000")+" "+err.Error())
					continue
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			defer mu.Unlock()
			res.add(httpLoad{requests: len(lat), latencies: lat, failed: len(failures), errors: failures})
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.dials = int(dials.Load())
	return res
}

// getAll GETs url and reads the whole answer, which must be a 200.
func getAll(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// streamGet downloads url over one new connection from dial and returns the bytes read and
// the time from sending the request to the last byte.
func streamGet(url string, dial dialFunc) (int64, time.Duration, error) {
	tr := &http.Transport{DialContext: dial, DisableKeepAlives: true, DisableCompression: true}
	defer tr.CloseIdleConnections()
	start := time.Now()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("status %s", resp.Status)
	}
	// Large reads keep the client's share of the CPU small: it shares the machine with the
	// balancer and the task.
	buf := make([]byte, 1<<20)
	var total int64
	for {
		n, err := resp.Body.Read(buf)
		total += int64(n)
		if err == io.EOF {
			return total, time.Since(start), nil
		}
		if err != nil {
			return total, time.Since(start), err
		}
	}
}

// nsDialer dials TCP from inside a network namespace. Its sockets are made by goroutines
// that netns.Do keeps locked into the namespace for the dialer's whole life, so a dial
// costs a channel hand-off and no namespace switch: a client that lives in the namespace.
type nsDialer struct {
	path string
	reqs chan nsDial
	wg   sync.WaitGroup
}

type nsDial struct {
	ctx           context.Context
	network, addr string
	reply         chan<- nsDialed // buffered: the dialing goroutine never waits on it
}

type nsDialed struct {
	conn net.Conn
	err  error
}

// newNSDialer starts threads dialing goroutines in the namespace at path; threads bounds
// the dials under way at once. Close stops them.
func newNSDialer(path string, threads int) (*nsDialer, error) {
	d := &nsDialer{path: path, reqs: make(chan nsDial)}
	started := make(chan error, threads)
	for range threads {
		d.wg.Go(func() {
			entered := false
			err := netns.Do(path, func() error {
				entered = true
				started <- nil
				for r := range d.reqs {
					var nd net.Dialer
					c, err := nd.DialContext(r.ctx, r.network, r.addr)
					r.reply <- nsDialed{c, err}
				}
				return nil
			})
			if !entered {
				started <- err
			}
		})
	}
	var firstErr error
	for range threads {
		if err := <-started; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		d.Close()
		return nil, fmt.Errorf("dialing from network namespace %s: %w", path, firstErr)
	}
	return d, nil
}

// DialContext is a dialFunc whose sockets belong to the dialer's namespace.
func (d *nsDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	reply := make(chan nsDialed, 1)
	select {
	case d.reqs <- nsDial{ctx: ctx, network: network, addr: addr, reply: reply}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r := <-reply
	return r.conn, r.err
}

// Close stops the dialing goroutines; no dial may be under way or follow.
func (d *nsDialer) Close() {
	close(d.reqs)
	d.wg.Wait()
}

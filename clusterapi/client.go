package clusterapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/shoal/shoal/internal/apierr"
)

// DefaultCallTimeout bounds a call whose context has no deadline.
const DefaultCallTimeout = 10 * time.Second

// Client calls one manager's cluster API. TLS decides who we are and whom we trust: a
// joining node uses a pinned config, a member its node certificate.
type Client struct {
	http *http.Client
}

// NewClient makes a client that speaks over TLS configured by tlsConfig (its NextProtos
// are set to ProtoAPI).
func NewClient(tlsConfig *tls.Config) *Client {
	cfg := tlsConfig.Clone()
	cfg.NextProtos = []string{ProtoAPI}
	dialer := &net.Dialer{Timeout: 2 * time.Second} // managers and nodes share a LAN
	tr := &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			td := &tls.Dialer{NetDialer: dialer, Config: cfg}
			return td.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{http: &http.Client{Transport: tr}}
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// MisdirectedError says the request must go to the leader at LeaderAddr.
type MisdirectedError struct{ LeaderAddr string }

func (e *MisdirectedError) Error() string {
	if e.LeaderAddr == "" {
		return "this manager is not the leader and knows no leader"
	}
	return "this manager is not the leader; the leader is at " + e.LeaderAddr
}

// Call posts req to path on the manager at addr and decodes the answer into resp.
// Error statuses come back as *apierr.Error of the matching kind, or *MisdirectedError.
func (c *Client) Call(ctx context.Context, addr, path string, req, resp any) error {
	if _, ok := ctx.Deadline(); !ok {
		// A manager that vanished without closing its connections would otherwise
		// hold the call forever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encoding %s request: %w", path, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return apierr.Unavailablef("cannot reach manager %s: %w", addr, unwrapURLError(err))
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, 16<<20))
	if err != nil {
		return apierr.Unavailablef("reading answer from manager %s: %v", addr, err)
	}
	if hresp.StatusCode/100 != 2 {
		var e ErrorResponse
		_ = json.Unmarshal(data, &e)
		if e.Message == "" {
			e.Message = fmt.Sprintf("manager %s answered %s", addr, hresp.Status)
		}
		if hresp.StatusCode == http.StatusMisdirectedRequest {
			return &MisdirectedError{LeaderAddr: e.LeaderAddr}
		}
		return statusError(hresp.StatusCode, e.Message)
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("decoding answer of manager %s to %s: %w", addr, path, err)
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

func statusError(code int, msg string) error {
	switch code {
	case http.StatusBadRequest:
		return apierr.Invalidf("%s", msg)
	case http.StatusNotFound:
		return apierr.NotFoundf("%s", msg)
	case http.StatusConflict:
		return apierr.Conflictf("%s", msg)
	case http.StatusForbidden, http.StatusUnauthorized:
		return apierr.Forbiddenf("%s", msg)
	case http.StatusServiceUnavailable:
		return apierr.Unavailablef("%s", msg)
	case http.StatusNotImplemented:
		return apierr.NotImplementedf("%s", msg)
	}
	return errors.New(msg)
}

package clusterapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Stream posts req to path on the node at addr and returns the answer's body for the
// caller to read as it arrives (and close). ctx bounds the whole stream.
func (c *Client) Stream(ctx context.Context, addr, path string, req any) (io.ReadCloser, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding %s request: %w", path, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("cannot reach node %s: %v", addr, unwrapURLError(err))
	}
	if hresp.StatusCode/100 != 2 {
		defer hresp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(hresp.Body, 1<<20))
		var e ErrorResponse
		_ = json.Unmarshal(data, &e)
		if e.Message == "" {
			e.Message = fmt.Sprintf("node %s answered %s", addr, hresp.Status)
		}
		return nil, statusError(hresp.StatusCode, e.Message)
	}
	return hresp.Body, nil
}

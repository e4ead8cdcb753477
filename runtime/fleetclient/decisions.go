package fleetclient

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/publisher"
)

// DecisionTail is a live stream of policy decisions from the publisher.
type DecisionTail struct {
	body io.ReadCloser
	dec  *json.Decoder
}

// TailDecisions opens GET /v1/decisions/tail. It returns once the
// publisher reads the stream, so every decision made after it returns is
// seen by Next. Close it (or end ctx) to stop.
func (c *Client) TailDecisions(ctx context.Context, f publisher.DecisionFilter) (*DecisionTail, error) {
	q := url.Values{}
	if f.Route != "" {
		q.Set("route", f.Route)
	}
	if f.Deny {
		q.Set("deny", "true")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.URL, "/")+"/v1/decisions/tail?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("publisher %s: %w", c.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e publisher.ErrorAnswer
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("publisher answered %s", resp.Status)
		}
		return nil, &APIError{Status: resp.StatusCode, Message: e.Error}
	}
	return &DecisionTail{body: resp.Body, dec: json.NewDecoder(bufio.NewReader(resp.Body))}, nil
}

// Next waits for the next decision. It fails when the stream ends (io.EOF
// when the publisher closed it).
func (t *DecisionTail) Next() (*edge.DecisionRecord, error) {
	var d edge.DecisionRecord
	if err := t.dec.Decode(&d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Close ends the stream.
func (t *DecisionTail) Close() error { return t.body.Close() }

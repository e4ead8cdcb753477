// Package fleetclient is the publisher's HTTP API as the CLI calls it.
package fleetclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/publisher"
)

// Client talks to a publisher's API; the CLI is built on it.
type Client struct {
	URL    string // e.g. http://127.0.0.1:9900
	Token  string
	Author string // recorded with each revision
	HTTP   *http.Client
}

// APIError is an error answer from the publisher.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if c.Author != "" {
		req.Header.Set(publisher.AuthorHeader, c.Author)
	}
	if body != nil && method != http.MethodPut {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("publisher %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e publisher.ErrorAnswer
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("publisher answered %s", resp.Status)
		}
		return &APIError{Status: resp.StatusCode, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		body = bytes.NewReader(fleet.MustJSON(in))
	}
	return c.do(ctx, http.MethodPost, path, body, out)
}

// Upload stores the artifacts the publisher lacks and reports how many were
// uploaded and how many it had already.
func (c *Client) Upload(ctx context.Context, artifacts map[string][]byte) (uploaded, skipped int, err error) {
	digests := make([]string, 0, len(artifacts))
	for d := range artifacts {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	var resp struct {
		Missing []string `json:"missing"`
	}
	if err := c.post(ctx, "/v1/artifacts/missing", map[string][]string{"digests": digests}, &resp); err != nil {
		return 0, 0, err
	}
	for _, d := range resp.Missing {
		data, ok := artifacts[d]
		if !ok {
			continue
		}
		if err := c.do(ctx, http.MethodPut, "/v1/artifacts/"+d, bytes.NewReader(data), nil); err != nil {
			return uploaded, 0, fmt.Errorf("upload %s: %w", d, err)
		}
		uploaded++
	}
	return uploaded, len(digests) - uploaded, nil
}

// Apply validates and publishes doc (its artifacts uploaded first).
func (c *Client) Apply(ctx context.Context, doc *fleet.Document, canary string) (*publisher.RevisionSummary, error) {
	return c.ApplyRequest(ctx, publisher.ApplyRequest{Document: doc, Canary: canary})
}

// ApplyRequest is Apply with every option (a gated canary's bake and bounds).
func (c *Client) ApplyRequest(ctx context.Context, req publisher.ApplyRequest) (*publisher.RevisionSummary, error) {
	var out publisher.RevisionSummary
	return &out, c.post(ctx, "/v1/apply", req, &out)
}

// Diff reports what doc changes against the running stable revision. The
// artifacts need not be uploaded: filters and policies compare by digest.
func (c *Client) Diff(ctx context.Context, doc *fleet.Document) (*publisher.Diff, error) {
	var out publisher.Diff
	return &out, c.post(ctx, "/v1/diff", publisher.ApplyRequest{Document: doc}, &out)
}

// History returns a page of the history, newest first: up to limit entries
// older than entry before (0: from the newest).
func (c *Client) History(ctx context.Context, before uint64, limit int) (*publisher.HistoryPage, error) {
	var out publisher.HistoryPage
	path := fmt.Sprintf("/v1/history?limit=%d", limit)
	if before > 0 {
		path += fmt.Sprintf("&before=%d", before)
	}
	return &out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// Promote makes the canary stable.
func (c *Client) Promote(ctx context.Context) (*publisher.RevisionSummary, error) {
	var out publisher.RevisionSummary
	return &out, c.post(ctx, "/v1/rollout/promote", nil, &out)
}

// Abort returns canary nodes to stable and reports the aborted revision.
func (c *Client) Abort(ctx context.Context) (int64, error) {
	var out struct {
		Aborted int64 `json:"aborted"`
	}
	return out.Aborted, c.post(ctx, "/v1/rollout/abort", nil, &out)
}

// Rollback republishes revision rev (0: the stable one before the current).
func (c *Client) Rollback(ctx context.Context, rev int64) (*publisher.RevisionSummary, error) {
	var out publisher.RevisionSummary
	return &out, c.post(ctx, "/v1/rollback", map[string]int64{"revision": rev}, &out)
}

// Status reads the fleet's status.
func (c *Client) Status(ctx context.Context) (*publisher.FleetStatus, error) {
	var out publisher.FleetStatus
	return &out, c.do(ctx, http.MethodGet, "/v1/status", nil, &out)
}

// CreateToken issues a token named name with role (read, deploy or admin);
// the answer carries the token, which the publisher never shows again.
func (c *Client) CreateToken(ctx context.Context, name, role string) (*publisher.NewToken, error) {
	var out publisher.NewToken
	return &out, c.post(ctx, "/v1/tokens", map[string]string{"name": name, "role": role}, &out)
}

// Tokens lists the publisher's tokens (names and roles, never the tokens).
func (c *Client) Tokens(ctx context.Context) ([]publisher.TokenInfo, error) {
	var out struct {
		Tokens []publisher.TokenInfo `json:"tokens"`
	}
	return out.Tokens, c.do(ctx, http.MethodGet, "/v1/tokens", nil, &out)
}

// RevokeToken removes the token named name; it is refused from then on.
func (c *Client) RevokeToken(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(name), nil, nil)
}

// WhoAmI returns the name and role of the client's token.
func (c *Client) WhoAmI(ctx context.Context) (*publisher.TokenInfo, error) {
	var out publisher.TokenInfo
	return &out, c.do(ctx, http.MethodGet, "/v1/whoami", nil, &out)
}

// NodeCreds has the publisher sign node id's NATS user JWT for publicKey
// (U...), allowed to announce the given services, expiring after expires
// (0: never; the publisher refuses what fleet.CheckNodeCredsExpiry does).
func (c *Client) NodeCreds(ctx context.Context, id, publicKey string, announce []string, expires time.Duration) (*publisher.NodeCreds, error) {
	req := publisher.NodeCredsRequest{PublicKey: publicKey, Announce: announce}
	if expires != 0 {
		req.Expires = expires.String()
	}
	var out publisher.NodeCreds
	return &out, c.post(ctx, "/v1/nodes/"+url.PathEscape(id)+"/creds", req, &out)
}

// RevokeNode has the publisher revoke node id's NATS user key publicKey,
// or every key it signed for the node when publicKey is "".
func (c *Client) RevokeNode(ctx context.Context, id, publicKey string) (*publisher.NodeRevocation, error) {
	var out publisher.NodeRevocation
	return &out, c.post(ctx, "/v1/nodes/"+url.PathEscape(id)+"/revoke", publisher.NodeRevokeRequest{PublicKey: publicKey}, &out)
}

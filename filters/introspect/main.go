// Command introspect authenticates a request by asking an OAuth 2.0 token
// introspection endpoint (RFC 7662) about its bearer token, through
// Sluice's outbound calls: an active token goes on with its subject in
// X-Auth-Subject, anything else is answered 401, and an introspection
// service that is down or slow is answered 503.
package main

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"

	sluice "github.com/sluicegw/sluice/sdk"
)

func main() {} // never called: a filter runs from init (see the SDK docs)

func init() { sluice.HandleNew(newIntrospect) }

// config is the filter's `config:`.
type config struct {
	// Upstream names the introspection service: an upstream of the config
	// that the filter's `upstreams:` allow-list holds.
	Upstream string `json:"upstream"`
	// Path is the introspection endpoint's path.
	Path string `json:"path"`
	// SubjectHeader carries the token's subject to the upstream.
	SubjectHeader string `json:"subject_header"`
}

type introspect struct{ config }

func newIntrospect() (sluice.Filter, error) {
	c := config{Path: "/introspect", SubjectHeader: "X-Auth-Subject"}
	if err := sluice.Config(&c); err != nil {
		return nil, err
	}
	if c.Upstream == "" {
		return nil, errors.New("config: upstream is required (the introspection service's upstream)")
	}
	if !strings.HasPrefix(c.Path, "/") {
		return nil, errors.New("config: path must start with /")
	}
	return sluice.RequestFunc((&introspect{c}).handle), nil
}

// answer is the part of an introspection response the filter reads.
type answer struct {
	Active bool   `json:"active"`
	Sub    string `json:"sub"`
}

func (f *introspect) handle(req sluice.Request, resp sluice.Response) bool {
	// The client must not choose its own subject.
	req.Header().Remove(f.SubjectHeader)
	auth, _ := req.Header().Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return deny(resp, "a bearer token is required")
	}
	res, err := sluice.Call(f.Upstream, sluice.CallRequest{
		Method: "POST",
		URI:    f.Path,
		Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}},
		Body:   []byte(url.Values{"token": {token}}.Encode()),
	})
	if err != nil {
		sluice.Log(sluice.LevelWarn, "introspect: "+err.Error())
		return fail(resp, "token introspection unavailable")
	}
	if res.StatusCode != 200 {
		sluice.Log(sluice.LevelWarn, "introspect: the introspection service answered "+strconv.Itoa(res.StatusCode))
		return fail(resp, "token introspection unavailable")
	}
	var a answer
	if err := json.Unmarshal(res.Body, &a); err != nil {
		sluice.Log(sluice.LevelWarn, "introspect: not an introspection answer: "+err.Error())
		return fail(resp, "token introspection unavailable")
	}
	if !a.Active {
		return deny(resp, "the token is not active")
	}
	req.Header().Set(f.SubjectHeader, a.Sub)
	return true
}

func deny(resp sluice.Response, reason string) bool {
	resp.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	return errorAnswer(resp, 401, reason)
}

func fail(resp sluice.Response, reason string) bool { return errorAnswer(resp, 503, reason) }

func errorAnswer(resp sluice.Response, status int, reason string) bool {
	resp.SetStatusCode(status)
	resp.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(map[string]string{"error": reason})
	resp.Body().Write(append(b, '\n'))
	return false
}

package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"
)

// The checks' HTTP clients: HTTP/1.1, and h2c by prior knowledge (what
// h2load speaks). Neither follows redirects or keeps cookies.
func newClients() (h1, h2c *http.Client) {
	t1 := &http.Transport{}
	t1.Protocols = new(http.Protocols)
	t1.Protocols.SetHTTP1(true)
	t2 := &http.Transport{}
	t2.Protocols = new(http.Protocols)
	t2.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: t1, Timeout: 5 * time.Second}, &http.Client{Transport: t2, Timeout: 5 * time.Second}
}

// get fetches url with the given "Name: value" headers; the body is read whole.
func get(ctx context.Context, c *http.Client, url string, headers []string) (status int, h http.Header, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	for _, line := range headers {
		name, value, _ := strings.Cut(line, ":")
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

package filter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// URLUpstream is an Upstream that sends to one base URL with client, for
// the tools that run a filter without a gateway (`sluice filter test
// --upstream NAME=URL`): no pool, no balancing, no retries. A node always
// goes through its snapshot's pools instead. The request's path and query
// are appended to base's path.
func URLUpstream(base *url.URL, client *http.Client) Upstream {
	return func(w http.ResponseWriter, r *http.Request, timeout time.Duration) error {
		ctx := r.Context()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		out := r.Clone(ctx)
		u := *base
		u.Path = strings.TrimSuffix(base.Path, "/") + r.URL.Path
		u.RawPath = ""
		u.RawQuery = r.URL.RawQuery
		out.URL, out.Host, out.RequestURI = &u, "", ""
		resp, err := client.Do(out)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("response body: %w", err)
		}
		return nil
	}
}

package edge

import (
	"net/http"
	"strings"
	"testing"
)

// TestStampFiltersInEveryLanguage runs the Go, C and AssemblyScript stamps
// (filters/stamp*, one behaviour in three SDKs) on a node: each stamps the
// request and the response, answers TRACE itself, and is stateless.
func TestStampFiltersInEveryLanguage(t *testing.T) {
	up := startUpstream(t, "u", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("upstream saw X-Stamp=" + r.Header.Get("X-Stamp")))
	}))
	langs := map[string]string{"go": "stamp", "c": "stamp-c", "as": "stamp-as"}
	n := startNode(t, render(t, `
upstreams: {u: {endpoints: ["{{.up}}"]}}
filters:
  go: {module: "{{.go}}"}
  c: {module: "{{.c}}"}
  as: {module: "{{.as}}"}
routes:
  - {name: go, match: {path_prefix: /go}, upstream: u, filters: [go]}
  - {name: c, match: {path_prefix: /c}, upstream: u, filters: [c]}
  - {name: as, match: {path_prefix: /as}, upstream: u, filters: [as]}
`, map[string]string{"up": up.url, "go": exampleFilter(t, langs["go"]), "c": exampleFilter(t, langs["c"]), "as": exampleFilter(t, langs["as"])}))
	for lang := range langs {
		t.Run(lang, func(t *testing.T) {
			resp, body := get(t, n.url+"/"+lang+"/x")
			if resp.StatusCode != 200 || string(body) != "upstream saw X-Stamp=on" || resp.Header.Get("X-Stamp") != "on" {
				t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
			}
			req, _ := http.NewRequest("TRACE", n.url+"/"+lang+"/x", nil)
			tr, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			tr.Body.Close()
			if tr.StatusCode != 405 || !strings.HasPrefix(tr.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("TRACE: %d %v", tr.StatusCode, tr.Header)
			}
			if n.Current().modules[lang].Pinned() {
				t.Error("the filter's stateless declaration did not reach the host")
			}
		})
	}
}

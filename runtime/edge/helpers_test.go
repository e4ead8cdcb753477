package edge

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// testDataDir is shared by every test node and test process, so wazero's
// on-disk compilation cache compiles each filter once: compiling a Go guest
// takes ~1 s, and ~18 s under -race. `make test` warms it without -race
// first (TestEveryExampleFilterLoads).
var testDataDir = filepath.Join(os.TempDir(), "sluice-test-data")

// upstream is a real HTTP server on loopback that answers with its name and
// what it received.
type upstream struct {
	name string
	url  string
	srv  *http.Server
}

func startUpstream(t *testing.T, name string, h http.Handler) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		h = echoHandler(name)
	}
	u := &upstream{name: name, url: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h}}
	go u.srv.Serve(ln)
	t.Cleanup(func() { u.srv.Close() })
	return u
}

// echoed is what echoHandler answers.
type echoed struct {
	Upstream string              `json:"upstream"`
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	Query    string              `json:"query"`
	Host     string              `json:"host"`
	Header   map[string][]string `json:"header"`
	BodyLen  int                 `json:"body_len"`
}

func echoHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(echoed{name, r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header, int(n)})
	})
}

// testNode is a node serving on loopback, with its admin listener.
type testNode struct {
	*Node
	url, adminURL string
	logs          *testkit.SyncBuffer
	cancel        context.CancelFunc
	done          chan error
}

// testEngine is the HTTP/1.1 engine the edge tests run on: fasthttp by
// default, net/http with SLUICE_TEST_ENGINE=net/http (`make test` runs the
// package once with each).
var testEngine = func() Engine {
	e, err := ParseEngine(os.Getenv("SLUICE_TEST_ENGINE"))
	if err != nil {
		panic(err)
	}
	return e
}()

func startNode(t *testing.T, yamlText string, opts ...func(*Options, *Listeners)) *testNode {
	t.Helper()
	logs := &testkit.SyncBuffer{}
	o := Options{
		Engine:          testEngine,
		NodeID:          "test",
		DataDir:         testDataDir,
		Logger:          slog.New(slog.NewJSONHandler(logs, nil)),
		AccessLog:       logs,
		ShutdownTimeout: 5 * time.Second,
	}
	data, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls := Listeners{Data: data, Admin: admin}
	for _, f := range opts {
		f(&o, &ls)
	}
	n := NewNode(o)
	if _, err := n.Apply(mustParse(t, yamlText)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{Node: n, url: "http://" + data.Addr().String(), adminURL: "http://" + admin.Addr().String(), logs: logs, cancel: cancel, done: make(chan error, 1)}
	if ls.TLS != nil {
		tn.url = "https://" + data.Addr().String()
	}
	go func() { tn.done <- n.Run(ctx, ls) }()
	t.Cleanup(tn.stop)
	return tn
}

func (tn *testNode) stop() {
	tn.cancel()
	<-tn.done
	tn.done <- nil // let a second stop return
}

func mustParse(t *testing.T, yamlText string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yamlText), "test.yaml")
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	return cfg
}

// render fills a YAML template with upstream URLs and other values.
func render(t *testing.T, text string, data any) string {
	t.Helper()
	var b strings.Builder
	if err := template.Must(template.New("").Parse(text)).Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var testClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp, body
}

func decodeEcho(t *testing.T, body []byte) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not an echo: %s", body)
	}
	return e
}

type errorBody struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id"`
}

func decodeError(t *testing.T, resp *http.Response, body []byte) errorBody {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" || e.RequestID == "" {
		t.Fatalf("not a JSON error with request_id: %s", body)
	}
	return e
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return v
}

func mustParseB(b *testing.B, yamlText string) *config.Config {
	b.Helper()
	cfg, err := config.Parse([]byte(yamlText), "bench.yaml")
	if err != nil {
		b.Fatalf("config:\n%v", err)
	}
	return cfg
}

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

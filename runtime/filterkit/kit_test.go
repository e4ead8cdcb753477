package filterkit

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/filter"
)

// sdkDir is this checkout's SDK, which scaffolded filters use.
var sdkDir = filepath.Join("..", "..", "sdk")

// testCacheDir is the compilation cache the other packages' tests share:
// compiling a Go guest under -race takes ~18 s, from the cache ~25 ms.
var testCacheDir = filepath.Join(os.TempDir(), "sluice-test-data", "wasm-cache")

func newRuntime(t *testing.T) *filter.Runtime {
	t.Helper()
	rt, err := filter.NewRuntime(context.Background(), filter.RuntimeOptions{CacheDir: testCacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

// The whole path a new filter author takes: scaffold, go test natively,
// build to wasm, load as a gateway would, run on requests.
func TestScaffoldedFilterBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	dir := filepath.Join(t.TempDir(), "stamp")
	if err := Scaffold(dir, "stamp", sdkDir); err != nil {
		t.Fatal(err)
	}
	test := exec.Command("go", "test", "-count=1", "./...")
	test.Dir = dir
	if out, err := test.CombinedOutput(); err != nil {
		t.Fatalf("go test in the new filter: %v\n%s", err, out)
	}
	wasmPath, err := Build(context.Background(), BuildOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(wasmPath) != "stamp.wasm" {
		t.Errorf("built %s, want DIR/stamp.wasm", wasmPath)
	}
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t)
	ctx := context.Background()
	if err := Check(ctx, rt, "stamp", wasm, nil); err != nil {
		t.Fatalf("the built filter does not load: %v", err)
	}

	res, err := Try(ctx, rt, wasm, TryOptions{
		Config:   []byte(`{"header": "X-Seen", "value": "yes"}`),
		Request:  []byte("POST /orders?id=7 HTTP/1.1\nHost: shop.example\n\n{\"qty\": 2}"),
		Response: []byte("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\r\n{\"ok\":true}"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Next {
		t.Fatal("the filter answered a POST instead of passing it on")
	}
	if got := res.Upstream.Header.Get("X-Seen"); got != "yes" {
		t.Errorf("upstream request X-Seen = %q, want yes", got)
	}
	if res.Upstream.URL.RequestURI() != "/orders?id=7" || string(res.UpstreamBody) != `{"qty": 2}` {
		t.Errorf("upstream got %s %q", res.Upstream.URL.RequestURI(), res.UpstreamBody)
	}
	if res.Response.Status != 201 || res.Response.Header.Get("X-Seen") != "yes" || string(res.Response.Body) != `{"ok":true}` {
		t.Errorf("client response %d %v %q", res.Response.Status, res.Response.Header, res.Response.Body)
	}

	res, err = Try(ctx, rt, wasm, TryOptions{Request: []byte("TRACE / HTTP/1.1\r\nHost: x\r\n\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Next || res.Response.Status != 405 {
		t.Errorf("TRACE: next=%v status=%d, want the filter's own 405", res.Next, res.Response.Status)
	}

	var out strings.Builder
	Print(&out, res)
	if !strings.Contains(out.String(), "answered by the filter") || !strings.Contains(out.String(), "HTTP/1.1 405") {
		t.Errorf("printed:\n%s", out.String())
	}

	// A config the filter refuses fails the load, with the guest's reason.
	_, err = Try(ctx, rt, wasm, TryOptions{Config: []byte(`{"hedaer": "x"}`), Request: []byte("GET / HTTP/1.1\nHost: x\n\n")})
	if err == nil || !strings.Contains(err.Error(), "hedaer") {
		t.Errorf("a bad config: %v, want an error naming the unknown key", err)
	}
}

func TestBuildReportsCompilerErrors(t *testing.T) {
	dir := t.TempDir()
	if err := Scaffold(dir, "broken", sdkDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), BuildOptions{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") {
		t.Fatalf("err = %v, want the compiler's message", err)
	}
}

func TestScaffoldRefusesBadNamesAndNonEmptyDirs(t *testing.T) {
	for _, name := range []string{"", "Upper", "9lives", "has space", "dot.name", "../up"} {
		if err := Scaffold(t.TempDir(), name, sdkDir); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Scaffold(dir, "ok", sdkDir); !errors.Is(err, ErrExists) {
		t.Errorf("non-empty dir: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "keep.txt")); string(b) != "mine" {
		t.Error("a file in the target dir was changed")
	}
}

func TestFindSDK(t *testing.T) {
	t.Setenv("SLUICE_SDK", "")
	nested := filepath.Join(sdkDir, "sluicetest")
	got, err := FindSDK("", nested)
	if err != nil {
		t.Fatal(err)
	}
	if !isSDK(got) {
		t.Errorf("FindSDK = %s, not the SDK", got)
	}
	if _, err := FindSDK("", filepath.Join("..", "..")); err != nil {
		t.Errorf("from the checkout root: %v", err)
	}
	if _, err := FindSDK(t.TempDir()); err == nil {
		t.Error("an explicit directory without the SDK was accepted")
	}
	if _, err := FindSDK("", t.TempDir()); !errors.Is(err, ErrNoSDK) {
		t.Errorf("nothing around a temp dir: %v, want ErrNoSDK", err)
	}
	t.Setenv("SLUICE_SDK", sdkDir)
	if got, err := FindSDK("", t.TempDir()); err != nil || got != sdkDir {
		t.Errorf("SLUICE_SDK: %s, %v", got, err)
	}
}

func TestParseRequest(t *testing.T) {
	cases := []struct {
		raw, method, uri, host, body string
	}{
		{"GET /a?b=1 HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/a?b=1", "h", ""},
		{"POST /p HTTP/1.1\nHost: h\n\nline1\nline2\n", "POST", "/p", "h", "line1\nline2\n"},
		{"PUT /x HTTP/1.1\nHost: h\nContent-Length: 3\n\nabcdef", "PUT", "/x", "h", "abc"},
		{"DELETE /d HTTP/1.1\nHost: h", "DELETE", "/d", "h", ""},
	}
	for _, c := range cases {
		r, err := ParseRequest([]byte(c.raw))
		if err != nil {
			t.Errorf("%q: %v", c.raw, err)
			continue
		}
		body := make([]byte, 100)
		n, _ := r.Body.Read(body)
		if r.Method != c.method || r.URL.RequestURI() != c.uri || r.Host != c.host || string(body[:n]) != c.body {
			t.Errorf("%q: %s %s host %s body %q", c.raw, r.Method, r.URL.RequestURI(), r.Host, body[:n])
		}
		if r.ContentLength != int64(len(c.body)) {
			t.Errorf("%q: ContentLength %d, want %d", c.raw, r.ContentLength, len(c.body))
		}
	}
	for _, bad := range []string{"", "not http\n\n", "GET\n\n"} {
		if _, err := ParseRequest([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseResponse(t *testing.T) {
	resp, body, err := ParseResponse(nil)
	if err != nil || resp.StatusCode != 200 || len(body) != 0 {
		t.Errorf("default: %v %v %q", err, resp, body)
	}
	resp, body, err = ParseResponse([]byte("HTTP/1.1 404 Not Found\nContent-Type: text/plain\n\nnope"))
	if err != nil || resp.StatusCode != 404 || string(body) != "nope" || resp.Header.Get("Content-Length") != "4" {
		t.Errorf("404: %v %+v %q", err, resp, body)
	}
	if _, _, err := ParseResponse([]byte("HTTX 200\n\n")); err == nil {
		t.Error("a bad status line was accepted")
	}
}

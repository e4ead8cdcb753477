//go:build !wasip1

package sluice_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	sluice "github.com/sluicegw/sluice/sdk"
	"github.com/sluicegw/sluice/sdk/sluicetest"
)

// funcs is a Filter made of two optional functions.
type funcs struct {
	req  func(sluice.Request, sluice.Response) bool
	resp func(sluice.Request, sluice.Response, bool)
}

func (f funcs) HandleRequest(req sluice.Request, resp sluice.Response) bool {
	if f.req == nil {
		return true
	}
	return f.req(req, resp)
}

func (f funcs) HandleResponse(req sluice.Request, resp sluice.Response, isError bool) {
	if f.resp != nil {
		f.resp(req, resp, isError)
	}
}

func onRequest(fn func(sluice.Request, sluice.Response) bool) sluicetest.Option {
	return sluicetest.WithFilter(sluice.RequestFunc(fn))
}

func TestRequestFields(t *testing.T) {
	var got []string
	h := sluicetest.New(t, onRequest(func(req sluice.Request, _ sluice.Response) bool {
		got = append(got, req.Method(), req.URI(), req.ProtocolVersion(), req.SourceAddr())
		req.SetMethod("PURGE")
		req.SetURI("/rewritten?x=1")
		got = append(got, req.Method(), req.URI())
		return true
	}))
	req := sluicetest.NewRequest("GET", "/users/42?limit=10")
	req.SourceAddr = "[2001:db8::1]:5555"
	res := h.Do(req, nil)
	want := []string{"GET", "/users/42?limit=10", "HTTP/1.1", "[2001:db8::1]:5555", "PURGE", "/rewritten?x=1"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !res.Next || res.Request.Method != "PURGE" || res.Request.URI != "/rewritten?x=1" {
		t.Fatalf("upstream got %+v (next %v)", res.Request, res.Next)
	}
}

func TestHeaders(t *testing.T) {
	type seen struct {
		v      string
		ok     bool
		values []string
		names  []string
	}
	var s []seen
	h := sluicetest.New(t, onRequest(func(req sluice.Request, _ sluice.Response) bool {
		hd := req.Header()
		look := func(name string) {
			v, ok := hd.Get(name)
			s = append(s, seen{v, ok, hd.Values(name), hd.Names()})
		}
		look("x-multi")
		look("X-Absent")
		look("x-empty")
		hd.Set("X-Multi", "one")
		hd.Add("x-added", "a")
		hd.Add("X-Added", "b")
		hd.Remove("x-empty")
		look("X-ADDED")
		return true
	}))
	req := sluicetest.NewRequest("GET", "/")
	req.Header.Add("X-Multi", "1")
	req.Header.Add("X-Multi", "2")
	req.Header["X-Empty"] = []string{""}
	res := h.Do(req, nil)

	if !s[0].ok || s[0].v != "1" || !slices.Equal(s[0].values, []string{"1", "2"}) {
		t.Errorf("x-multi: %+v", s[0])
	}
	if !slices.Equal(s[0].names, []string{"x-empty", "x-multi"}) {
		t.Errorf("names: %q", s[0].names)
	}
	if s[1].ok || s[1].v != "" || s[1].values != nil {
		t.Errorf("absent: %+v", s[1])
	}
	if !s[2].ok || s[2].v != "" || !slices.Equal(s[2].values, []string{""}) {
		t.Errorf("empty value: %+v", s[2])
	}
	if !slices.Equal(s[3].values, []string{"a", "b"}) || !slices.Equal(s[3].names, []string{"x-added", "x-multi"}) {
		t.Errorf("after changes: %+v", s[3])
	}
	if got := res.Request.Header.Values("X-Multi"); !slices.Equal(got, []string{"one"}) {
		t.Errorf("upstream X-Multi = %q", got)
	}
}

// TestLongValues exercises the buffer protocol: values longer than the
// shared buffer are retried with a bigger one, values longer than its cap get
// their own buffer, and the shared buffer still works afterwards.
func TestLongValues(t *testing.T) {
	for _, n := range []int{0, 1, 2047, 2048, 2049, 5000, 64 << 10, 200 << 10} {
		long := strings.Repeat("v", n)
		var got, uri string
		var vals []string
		h := sluicetest.New(t, onRequest(func(req sluice.Request, _ sluice.Response) bool {
			got, _ = req.Header().Get("X-Long")
			vals = req.Header().Values("X-Long")
			uri = req.URI()
			return true
		}))
		req := sluicetest.NewRequest("GET", "/"+long)
		req.Header.Add("X-Long", long)
		req.Header.Add("X-Long", "short")
		h.Do(req, nil)
		if got != long || uri != "/"+long || !slices.Equal(vals, []string{long, "short"}) {
			t.Fatalf("n=%d: got %d bytes, uri %d bytes, values %d", n, len(got), len(uri), len(vals))
		}
	}
}

func TestAnswerInRequestPhase(t *testing.T) {
	h := sluicetest.New(t, onRequest(func(req sluice.Request, resp sluice.Response) bool {
		resp.SetStatusCode(418)
		resp.Header().Set("Content-Type", "text/plain")
		resp.Body().WriteString("short ")
		resp.Body().Write([]byte("and stout"))
		return false
	}))
	res := h.Do(sluicetest.NewRequest("GET", "/teapot"), sluicetest.NewResponse(200, "upstream"))
	if res.Next || res.Response.StatusCode != 418 || string(res.Response.Body) != "short and stout" ||
		res.Response.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("got next=%v %d %q %v", res.Next, res.Response.StatusCode, res.Response.Body, res.Response.Header)
	}
}

func TestRequestBody(t *testing.T) {
	for _, buffered := range []bool{false, true} {
		var read []byte
		h := sluicetest.New(t, onRequest(func(req sluice.Request, _ sluice.Response) bool {
			if buffered {
				sluice.EnableFeatures(sluice.FeatureBufferRequest)
			}
			buf := make([]byte, 4) // several reads
			n, err := io.ReadFull(req.Body(), buf)
			read = buf[:n]
			if err != nil {
				t.Errorf("read: %v", err)
			}
			return true
		}))
		req := sluicetest.NewRequest("POST", "/")
		req.Body = []byte("abcdefgh")
		res := h.Do(req, nil)
		want := "efgh" // the rest of a consumed stream
		if buffered {
			want = "abcdefgh"
		}
		if string(read) != "abcd" || string(res.Request.Body) != want {
			t.Errorf("buffered=%v: read %q, upstream gets %q", buffered, read, res.Request.Body)
		}
	}
}

func TestReadAllAndReplaceRequestBody(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 10000)
	var all []byte
	h := sluicetest.New(t, onRequest(func(req sluice.Request, _ sluice.Response) bool {
		sluice.EnableFeatures(sluice.FeatureBufferRequest)
		var err error
		if all, err = io.ReadAll(req.Body()); err != nil {
			t.Error(err)
		}
		req.Body().WriteString("replaced")
		return true
	}))
	req := sluicetest.NewRequest("POST", "/")
	req.Body = big
	res := h.Do(req, nil)
	if !bytes.Equal(all, big) || string(res.Request.Body) != "replaced" {
		t.Fatalf("read %d bytes, upstream body %q", len(all), res.Request.Body)
	}
}

func TestResponsePhase(t *testing.T) {
	var isErr []bool
	h := sluicetest.New(t, sluicetest.WithFilter(funcs{
		req: func(sluice.Request, sluice.Response) bool {
			sluice.EnableFeatures(sluice.FeatureBufferResponse)
			return true
		},
		resp: func(req sluice.Request, resp sluice.Response, isError bool) {
			isErr = append(isErr, isError)
			b, err := io.ReadAll(resp.Body())
			if err != nil {
				t.Error(err)
			}
			ua, _ := req.Header().Get("User-Agent")
			ct, _ := resp.Header().Get("Content-Type")
			resp.Header().Set("X-Was", ct)
			resp.SetStatusCode(resp.StatusCode() + 1)
			resp.Body().Write(bytes.ToUpper(b))
			resp.Body().WriteString(" for " + ua)
		},
	}))
	req := sluicetest.NewRequest("GET", "/")
	req.Header.Set("User-Agent", "curl")
	up := sluicetest.NewResponse(200, "hello")
	up.Header.Set("Content-Type", "text/plain")
	res := h.Do(req, up)
	if res.Response.StatusCode != 201 || string(res.Response.Body) != "HELLO for curl" || res.Response.Header.Get("X-Was") != "text/plain" {
		t.Fatalf("got %d %q %v", res.Response.StatusCode, res.Response.Body, res.Response.Header)
	}
	if !res.Features.Has(sluice.FeatureBufferResponse) {
		t.Errorf("features %v", res.Features)
	}
	if string(up.Body) != "hello" {
		t.Errorf("Do changed the caller's upstream response: %q", up.Body)
	}
	h.HandleResponse(req, sluicetest.NewResponse(502, ""), true)
	if !slices.Equal(isErr, []bool{false, true}) {
		t.Errorf("isError: %v", isErr)
	}
}

func TestTrailers(t *testing.T) {
	h := sluicetest.New(t, onRequest(func(req sluice.Request, resp sluice.Response) bool {
		got := sluice.EnableFeatures(sluice.FeatureTrailers)
		if !got.Has(sluice.FeatureTrailers) {
			t.Error("trailers unsupported")
		}
		v, _ := req.Trailers().Get("Grpc-Status")
		resp.Trailers().Set("X-Echo", v)
		return false
	}))
	req := sluicetest.NewRequest("POST", "/")
	req.Trailer.Set("Grpc-Status", "0")
	res := h.Do(req, nil)
	if res.Response.Trailer.Get("X-Echo") != "0" {
		t.Fatalf("trailers %v", res.Response.Trailer)
	}
}

type cfg struct {
	Header string   `json:"header"`
	List   []string `json:"list"`
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		config  any
		want    cfg
		wantErr string
	}{
		{config: nil, want: cfg{Header: "default"}},
		{config: "", want: cfg{Header: "default"}},
		{config: "null", want: cfg{Header: "default"}},
		{config: `{"header":"X-Id","list":["a"]}`, want: cfg{Header: "X-Id", List: []string{"a"}}},
		{config: map[string]any{"list": []string{"b"}}, want: cfg{Header: "default", List: []string{"b"}}},
		{config: `{"headr":"X"}`, wantErr: `unknown field "headr"`},
		{config: `{"header":1}`, wantErr: "cannot unmarshal number"},
		{config: `{} {}`, wantErr: "trailing data"},
	} {
		c := cfg{Header: "default"}
		var err error
		sluicetest.New(t, sluicetest.WithConfig(tc.config), onRequest(func(sluice.Request, sluice.Response) bool { return true }))
		err = sluice.Config(&c)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("config %v: err %v, want %q", tc.config, err, tc.wantErr)
			}
			continue
		}
		if err != nil || c.Header != tc.want.Header || !slices.Equal(c.List, tc.want.List) {
			t.Errorf("config %v: got %+v, %v", tc.config, c, err)
		}
	}
}

func TestHandleNewErrors(t *testing.T) {
	t.Run("constructor error", func(t *testing.T) {
		sluice.HandleNew(func() (sluice.Filter, error) {
			var c cfg
			if err := sluice.Config(&c); err != nil {
				return nil, err
			}
			if c.Header == "" {
				return nil, errors.New("header is required")
			}
			return sluice.RequestFunc(func(req sluice.Request, _ sluice.Response) bool {
				req.Header().Set(c.Header, "yes")
				return true
			}), nil
		})
		if _, err := sluicetest.Load(t); err == nil || !strings.Contains(err.Error(), "header is required") {
			t.Fatalf("err = %v", err)
		}
		if _, err := sluicetest.Load(t, sluicetest.WithConfig(`{"nope":1}`)); err == nil || !strings.Contains(err.Error(), "unknown field") {
			t.Fatalf("err = %v", err)
		}
		h := sluicetest.New(t, sluicetest.WithConfig(`{"header":"X-Built"}`))
		if res := h.Do(sluicetest.NewRequest("GET", "/"), nil); res.Request.Header.Get("X-Built") != "yes" {
			t.Fatalf("headers %v", res.Request.Header)
		}
	})
	t.Run("nil filter", func(t *testing.T) {
		sluice.HandleNew(func() (sluice.Filter, error) { return nil, nil })
		if _, err := sluicetest.Load(t); err == nil || !strings.Contains(err.Error(), "nil Filter") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestLog(t *testing.T) {
	h := sluicetest.New(t, sluicetest.WithLogLevel(sluice.LevelWarn), onRequest(func(sluice.Request, sluice.Response) bool {
		if sluice.LogEnabled(sluice.LevelInfo) || !sluice.LogEnabled(sluice.LevelWarn) || sluice.LogEnabled(sluice.LevelNone) {
			t.Error("LogEnabled disagrees with the host's level")
		}
		sluice.Log(sluice.LevelInfo, "dropped")
		sluice.Log(sluice.LevelError, "kept")
		sluice.Logf(sluice.LevelWarn, "n=%d", 3)
		sluice.Logf(sluice.LevelDebug, "n=%d", 4)
		return true
	}))
	h.Do(sluicetest.NewRequest("GET", "/"), nil)
	want := []sluicetest.Log{{Level: sluice.LevelError, Message: "kept"}, {Level: sluice.LevelWarn, Message: "n=3"}}
	if got := h.Logs(); !slices.Equal(got, want) {
		t.Fatalf("logs %v", got)
	}
}

func TestStrings(t *testing.T) {
	if s := (sluice.FeatureBufferRequest | sluice.FeatureTrailers | 16).String(); s != "buffer_request|trailers|0x10" {
		t.Error(s)
	}
	if s := sluice.Features(0).String(); s != "none" {
		t.Error(s)
	}
	if s := sluice.LevelWarn.String() + sluice.Level(7).String(); s != "warnlevel(7)" {
		t.Error(s)
	}
}

// fatalT records Fatalf instead of ending the test, so tests can check
// that the harness fails a filter that breaks the ABI's rules.
type fatalT struct {
	*testing.T
	msg string
}

type fataled struct{}

func (f *fatalT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fataled{})
}

func expectFatal(t *testing.T, want string, run func(tb testing.TB)) {
	t.Helper()
	ft := &fatalT{T: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fataled); !ok {
					panic(r)
				}
			}
		}()
		run(ft)
	}()
	if !strings.Contains(ft.msg, want) {
		t.Errorf("fatal %q, want it to contain %q", ft.msg, want)
	}
}

func TestHarnessStrictness(t *testing.T) {
	respFilter := func(fn func(sluice.Response)) sluicetest.Option {
		return sluicetest.WithFilter(funcs{resp: func(_ sluice.Request, resp sluice.Response, _ bool) { fn(resp) }})
	}
	cases := []struct {
		name, want string
		opt        sluicetest.Option
	}{
		{"status without buffering", "set_status_code in handle_response needs FeatureBufferResponse",
			respFilter(func(r sluice.Response) { r.SetStatusCode(500) })},
		{"read without buffering", "reading the response body in handle_response needs FeatureBufferResponse",
			respFilter(func(r sluice.Response) { io.ReadAll(r.Body()) })},
		{"write without buffering", "writing the response body in handle_response needs FeatureBufferResponse",
			respFilter(func(r sluice.Response) { r.Body().WriteString("x") })},
		{"trailers without the feature", "writing trailers needs FeatureTrailers",
			onRequest(func(_ sluice.Request, r sluice.Response) bool { r.Trailers().Set("a", "b"); return true })},
		{"invalid status", "invalid status code 42",
			onRequest(func(_ sluice.Request, r sluice.Response) bool { r.SetStatusCode(42); return false })},
		{"filter panic", "filter panicked: boom",
			onRequest(func(sluice.Request, sluice.Response) bool { panic("boom") })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectFatal(t, tc.want, func(tb testing.TB) {
				sluicetest.New(tb, tc.opt).Do(sluicetest.NewRequest("GET", "/"), nil)
			})
		})
	}
	t.Run("headers in the response phase need no buffering", func(t *testing.T) {
		h := sluicetest.New(t, respFilter(func(r sluice.Response) { r.Header().Set("X-Late", "ok") }))
		if res := h.Do(sluicetest.NewRequest("GET", "/"), nil); res.Response.Header.Get("X-Late") != "ok" {
			t.Fatal(res.Response.Header)
		}
	})
	t.Run("features enabled in init hold for every request", func(t *testing.T) {
		h := sluicetest.New(t, sluicetest.WithFilter(funcs{resp: func(_ sluice.Request, r sluice.Response, _ bool) { r.SetStatusCode(299) }}))
		sluice.EnableFeatures(sluice.FeatureBufferResponse) // still the init phase
		for range 2 {
			if res := h.Do(sluicetest.NewRequest("GET", "/"), nil); res.Response.StatusCode != 299 {
				t.Fatal(res.Response.StatusCode)
			}
		}
	})
}

func TestNestedHosts(t *testing.T) {
	sluicetest.New(t, sluicetest.WithConfig(`{"header":"outer"}`), onRequest(func(sluice.Request, sluice.Response) bool { return true }))
	t.Run("inner", func(t *testing.T) {
		sluicetest.New(t, sluicetest.WithConfig(`{"header":"inner"}`), onRequest(func(sluice.Request, sluice.Response) bool { return true }))
		if b := sluice.ConfigBytes(); string(b) != `{"header":"inner"}` {
			t.Fatalf("%s", b)
		}
	})
	if b := sluice.ConfigBytes(); string(b) != `{"header":"outer"}` {
		t.Fatalf("outer config after the subtest: %s", b)
	}
}

// TestStateless: a RequestFunc is declared stateless, a filter with a
// response phase only when it calls Stateless while initialising; a call
// inside a request declares nothing.
func TestStateless(t *testing.T) {
	if !sluicetest.New(t, onRequest(func(sluice.Request, sluice.Response) bool { return true })).Stateless() {
		t.Error("a RequestFunc is not declared stateless")
	}
	h := sluicetest.New(t, sluicetest.WithFilter(funcs{}))
	if h.Stateless() {
		t.Error("a filter with a response phase is stateless without declaring it")
	}
	sluice.Stateless() // as from its init function: the host is still initialising
	if !h.Stateless() {
		t.Error("Stateless during initialisation did not declare it")
	}

	late := sluicetest.New(t, sluicetest.WithFilter(funcs{req: func(sluice.Request, sluice.Response) bool {
		sluice.Stateless()
		return true
	}}))
	res := late.Do(sluicetest.NewRequest("GET", "/"), nil)
	if late.Stateless() || res.Features.Has(sluice.FeatureStateless) {
		t.Errorf("Stateless in HandleRequest declared it (features %v)", res.Features)
	}
	if got := sluice.FeatureStateless.String(); got != "stateless" {
		t.Errorf("FeatureStateless.String() = %q", got)
	}
}

package sluice_test

import (
	"errors"
	"io"
	"net/http"
	"testing"

	sluice "github.com/sluicegw/sluice/sdk"
	"github.com/sluicegw/sluice/sdk/sluicetest"
)

// TestCall sends a call through the in-memory host: method, URI, headers
// and body reach the stub upstream; its status, headers and body come back.
func TestCall(t *testing.T) {
	var got *sluice.CallResponse
	var callErr error
	h := sluicetest.New(t, sluicetest.WithUpstream("echo", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Add("X-Seen", r.Method+" "+r.URL.RequestURI())
		w.Header().Add("X-Token", r.Header.Get("x-token"))
		w.Header().Add("X-Token", "second")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write(append([]byte("got "), b...))
	})), sluicetest.WithFilter(sluice.RequestFunc(func(sluice.Request, sluice.Response) bool {
		got, callErr = sluice.Call("echo", sluice.CallRequest{
			Method: "PUT", URI: "/a?b=c", Header: map[string][]string{"X-Token": {"t1"}}, Body: []byte("hi"),
		})
		return true
	})))
	h.Do(sluicetest.NewRequest("GET", "/"), nil)
	if callErr != nil {
		t.Fatal(callErr)
	}
	if got.StatusCode != 418 || string(got.Body) != "got hi" || got.HeaderValue("x-seen") != "PUT /a?b=c" {
		t.Fatalf("%+v", got)
	}
	if vs := got.Header["x-token"]; len(vs) != 2 || vs[0] != "t1" || vs[1] != "second" {
		t.Fatalf("x-token = %q", vs)
	}
}

// TestCallErrors: each failure is its kind, with the reason in the text.
func TestCallErrors(t *testing.T) {
	var errs []error
	h := sluicetest.New(t, sluicetest.WithUpstreamError("slow", sluice.ErrCallTimeout), sluicetest.WithFilter(sluice.RequestFunc(func(sluice.Request, sluice.Response) bool {
		_, e1 := sluice.Call("slow", sluice.CallRequest{})
		_, e2 := sluice.Call("unlisted", sluice.CallRequest{})
		_, e3 := sluice.Call("slow", sluice.CallRequest{URI: "no-slash"})
		errs = append(errs, e1, e2, e3)
		return true
	})))
	h.Do(sluicetest.NewRequest("GET", "/"), nil)
	for i, want := range []error{sluice.ErrCallTimeout, sluice.ErrNotAllowed, sluice.ErrInvalidCall} {
		var ce *sluice.CallError
		if !errors.Is(errs[i], want) || !errors.As(errs[i], &ce) || ce.Reason == "" {
			t.Errorf("call %d: %v, want %v with a reason", i, errs[i], want)
		}
	}
}

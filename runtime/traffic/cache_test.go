package traffic

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestCacheBoundedBytes(t *testing.T) {
	c := NewCache(time.Minute, CacheOptions{MaxBytes: 10 * 1300, MaxBodyBytes: 4096})
	origin := func(w http.ResponseWriter, r *http.Request) error {
		w.Write(bytes.Repeat([]byte("x"), 1000))
		return nil
	}
	for i := range 100 {
		r := httptest.NewRequest("GET", "/k"+strconv.Itoa(i), nil)
		if err := c.Serve(httptest.NewRecorder(), r, false, t0, origin); err != nil {
			t.Fatal(err)
		}
		if s := c.Stats(); s.Bytes > 10*1300 {
			t.Fatalf("after %d puts: %+v", i+1, s)
		}
	}
	s := c.Stats()
	if s.Keys < 5 || s.Keys > 10 {
		t.Fatalf("%+v: want the most recent ~10 kept", s)
	}
	// The most recent key is still there, the first is gone.
	w := httptest.NewRecorder()
	c.Serve(w, httptest.NewRequest("GET", "/k99", nil), false, t0, origin)
	if w.Header().Get("X-Cache") != "HIT" {
		t.Error("latest key evicted")
	}
	w = httptest.NewRecorder()
	c.Serve(w, httptest.NewRequest("GET", "/k0", nil), false, t0, origin)
	if w.Header().Get("X-Cache") != "MISS" {
		t.Error("oldest key kept")
	}
	if n := c.PurgeAll(); n == 0 || c.Stats().Bytes != 0 {
		t.Fatalf("purge all: %d, %+v", n, c.Stats())
	}
}

func TestFreshness(t *testing.T) {
	ttl := 30 * time.Second
	for _, c := range []struct {
		code int
		hdr  http.Header
		auth bool
		want time.Duration
		ok   bool
	}{
		{200, http.Header{}, false, ttl, true},
		{201, http.Header{}, false, 0, false},
		{404, http.Header{}, false, ttl, true},
		{200, http.Header{"Cache-Control": {"max-age=10"}}, false, 10 * time.Second, true},
		{200, http.Header{"Cache-Control": {"max-age=10, s-maxage=20"}}, false, 20 * time.Second, true},
		{200, http.Header{"Cache-Control": {"max-age=100"}}, false, ttl, true},
		{200, http.Header{"Cache-Control": {"max-age=0"}}, false, 0, false},
		{200, http.Header{"Cache-Control": {"max-age=20"}, "Age": {"15"}}, false, 5 * time.Second, true},
		{200, http.Header{"Cache-Control": {"max-age=abc"}}, false, 0, false},
		{200, http.Header{"Cache-Control": {`private="Set-Cookie"`}}, false, 0, false},
		{200, http.Header{"Cache-Control": {"no-cache"}}, false, 0, false},
		{200, http.Header{"Cache-Control": {"No-Store"}}, false, 0, false},
		{200, http.Header{}, true, 0, false},
		{200, http.Header{"Cache-Control": {"public"}}, true, ttl, true},
		{200, http.Header{"Cache-Control": {"s-maxage=5"}}, true, 5 * time.Second, true},
		{200, http.Header{"Vary": {"*"}}, false, 0, false},
		{200, http.Header{"Expires": {"0"}}, false, 0, false},
		{200, http.Header{"Expires": {t0.Add(10 * time.Second).Format(http.TimeFormat)}, "Date": {t0.Format(http.TimeFormat)}}, false, 10 * time.Second, true},
		{200, http.Header{"Content-Type": {"text/event-stream"}}, false, 0, false},
	} {
		got, ok := freshness(c.code, c.hdr, c.auth, ttl, t0)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%d %v auth=%v: %v %v, want %v %v", c.code, c.hdr, c.auth, got, ok, c.want, c.ok)
		}
	}
}

func FuzzCacheControl(f *testing.F) {
	f.Add("public, max-age=60, s-maxage=\"30\", no-cache=\"Set-Cookie\"")
	f.Add("max-age=99999999999999999999")
	f.Fuzz(func(t *testing.T, v string) {
		cc := parseCacheControl([]string{v})
		if cc.maxAge < -1 || cc.sMaxAge < -1 {
			t.Fatalf("negative age from %q: %+v", v, cc)
		}
		h := http.Header{"Cache-Control": {v}, "Expires": {v}, "Age": {v}, "Vary": {v}}
		if life, ok := freshness(200, h, false, time.Minute, t0); ok && (life <= 0 || life > time.Minute) {
			t.Fatalf("lifetime %v from %q", life, v)
		}
	})
}

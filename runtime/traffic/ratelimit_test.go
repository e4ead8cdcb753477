package traffic

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/auth"
	"github.com/sluicegw/sluice/runtime/config"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestLimiterBucket(t *testing.T) {
	l := NewLimiter(10, time.Second, 5, 0) // 15 at once, then one per 100ms
	k := HashKey("10.0.0.1")
	for i := range 15 {
		d := l.Allow(k, t0)
		if !d.Allowed || d.Remaining != 14-i || d.Limit != 15 {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d := l.Allow(k, t0)
	if d.Allowed || d.RetryAfter != 100*time.Millisecond || d.Remaining != 0 {
		t.Fatalf("16th request: %+v", d)
	}
	if d := l.Allow(HashKey("10.0.0.2"), t0); !d.Allowed {
		t.Fatal("another key shares the bucket")
	}
	if d := l.Allow(k, t0.Add(99*time.Millisecond)); d.Allowed {
		t.Fatal("admitted before a token came back")
	}
	if d := l.Allow(k, t0.Add(100*time.Millisecond)); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("a token after 100ms: %+v", d)
	}
	// An idle key's bucket is full again, never fuller.
	d = l.Allow(k, t0.Add(time.Hour))
	if !d.Allowed || d.Remaining != 14 || d.Reset != 100*time.Millisecond {
		t.Fatalf("after an hour: %+v", d)
	}
}

// TestLimiterRate checks the long-run rate under saturation: over 60 s of
// clock, a client hammering every millisecond gets requests*60 + the bucket.
func TestLimiterRate(t *testing.T) {
	l := NewLimiter(100, time.Second, 20, 0)
	k := HashKey("k")
	admitted := 0
	for ms := range 60_000 {
		if l.Allow(k, t0.Add(time.Duration(ms)*time.Millisecond)).Allowed {
			admitted++
		}
	}
	if want := 100*60 + 120; admitted < want-1 || admitted > want {
		t.Fatalf("admitted %d in 60s, want ~%d", admitted, want)
	}
}

func TestLimiterBoundedMemory(t *testing.T) {
	const maxKeys = 64 * 1000
	l := NewLimiter(1, time.Minute, 0, maxKeys)
	for i := range 1_000_000 {
		l.Allow(uint64(i)*0x9e3779b97f4a7c15, t0)
	}
	if n := l.Len(); n > maxKeys {
		t.Fatalf("%d keys remembered, bound %d", n, maxKeys)
	}
	// Keys whose bucket is full again are the first to go, and forgetting
	// them changes no answer.
	l.Allow(1, t0.Add(2*time.Minute))
	if n := l.Len(); n > maxKeys {
		t.Fatalf("%d keys after a sweep", n)
	}
}

// rateKey parses spec as the config does: the stage takes what
// config.ParseRateKey returns, never a string.
func rateKey(t testing.TB, spec string) config.RateKey {
	t.Helper()
	k, err := config.ParseRateKey(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyFor(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[2001:db8::7]:5678"
	r.Header.Set("X-User", "alice")
	id := &auth.Identity{Subject: "bob", Claims: map[string]any{"tenant": "acme", "n": 7}}
	for spec, want := range map[string]string{
		"client_ip":     "2001:db8::7",
		"header:x-user": "alice",
		"header:X-None": "",
		"claim:tenant":  "acme",
		"claim:n":       "7",
		"claim:none":    "",
		"consumer":      "bob",
	} {
		f, err := KeyFor(rateKey(t, spec))
		if err != nil {
			t.Fatal(err)
		}
		if got := f(r, id); got != want {
			t.Errorf("%s = %q, want %q", spec, got, want)
		}
	}
	r.RemoteAddr = "10.1.2.3:80"
	if got := clientIPKey(r, nil); got != "10.1.2.3" {
		t.Errorf("client_ip of %s = %q", r.RemoteAddr, got)
	}
	if got := consumerKey(r, &auth.Identity{Consumer: "acme", Subject: "acme"}); got != "acme" {
		t.Errorf("consumer = %q", got)
	}
	for _, k := range []config.RateKey{{Kind: "cookie", Name: "x"}, {}} {
		if _, err := KeyFor(k); err == nil {
			t.Errorf("%+v, which config.Parse never hands over, accepted", k)
		}
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	l := NewLimiter(1_000_000_000, time.Second, 0, 0)
	keys := make([]uint64, 1024)
	for i := range keys {
		keys[i] = HashKey("10.0.0." + strconv.Itoa(i))
	}
	now := t0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(keys[i&1023], now)
		i++
	}
}

// BenchmarkRateLimitCheck is the whole check a request pays: key from the
// request, hash, bucket.
func BenchmarkRateLimitCheck(b *testing.B) {
	l := NewLimiter(1_000_000_000, time.Second, 0, 0)
	key, _ := KeyFor(rateKey(b, "client_ip"))
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.33:41234"
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(HashKey(key(r, nil)), now)
	}
}

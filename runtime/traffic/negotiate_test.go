package traffic

import "testing"

func TestNegotiate(t *testing.T) {
	all := []Encoding{Zstd, Brotli, Gzip}
	for _, c := range []struct {
		accept string
		offer  []Encoding
		want   Encoding
	}{
		{"", all, Identity},
		{"gzip", all, Gzip},
		{"gzip, br", all, Brotli}, // tie: the route's order
		{"gzip, br, zstd", all, Zstd},
		{"gzip;q=1.0, br;q=0.8, zstd;q=0.5", all, Gzip},
		{"zstd;q=0, gzip", all, Gzip}, // q=0 refuses
		{"*", all, Zstd},
		{"*;q=0.5, br", all, Brotli},
		{"br;q=0, *", all, Zstd},
		{"zstd;q=0, br;q=0, *", all, Gzip},
		{"*;q=0", all, Identity},
		{"gzip;q=0", all, Identity},
		{"deflate, compress", all, Identity},
		{"GZIP", all, Gzip},
		{"x-gzip", all, Gzip},
		{"gzip;q=2", all, Identity}, // malformed: ignored
		{"gzip;q=abc, br", all, Brotli},
		{"gzip ; q=0.001", all, Gzip},
		{"br", []Encoding{Gzip}, Identity}, // not offered by the route
		{"br, gzip", []Encoding{Gzip, Brotli}, Gzip},
		{" , ,gzip,", all, Gzip},
	} {
		if got := Negotiate([]string{c.accept}, c.offer); got != c.want {
			t.Errorf("Accept-Encoding %q, offer %v: %v, want %v", c.accept, c.offer, got, c.want)
		}
	}
	// Several header lines count as one list.
	if got := Negotiate([]string{"gzip;q=0.5", "br;q=0.9"}, all); got != Brotli {
		t.Errorf("two lines: %v", got)
	}
	if n := testing.AllocsPerRun(100, func() { Negotiate([]string{"gzip, deflate, br;q=0.9, zstd;q=0.8"}, all) }); n != 0 {
		t.Errorf("Negotiate allocates %v times", n)
	}
}

func FuzzNegotiate(f *testing.F) {
	f.Add("gzip;q=0.5, br, *;q=0")
	f.Fuzz(func(t *testing.T, accept string) {
		e := Negotiate([]string{accept}, []Encoding{Zstd, Brotli, Gzip})
		if e >= numEncodings {
			t.Fatalf("encoding %d", e)
		}
	})
}

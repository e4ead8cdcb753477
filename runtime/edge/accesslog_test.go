package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

// TestAccessLogMatchesSlog: the hand-written line decodes to what slog's
// JSONHandler writes for the same fields, for values a client controls
// (quotes, backslashes, control bytes, invalid UTF-8, non-ASCII).
func TestAccessLogMatchesSlog(t *testing.T) {
	for _, path := range []string{"/plain", "/q\"uo\\te", "/ctl\x00\x01\x1f\t\n\r", "/bad\xff\xfeutf8", "/caf\u00e9/\u2028/\U0001F600"} {
		for _, failed := range []error{nil, errors.New("upstream \"u\" failed\n")} {
			var got bytes.Buffer
			n := &Node{opts: Options{AccessLog: &got}}
			r := httptest.NewRequest("GET", "http://h\"ost/x", nil)
			rec := &recorder{status: 502, bytes: 1234, err: failed}
			f := logFields{route: "r\x7f", upstream: "u", path: path, requestID: "id-1",
				method: r.Method, host: r.Host, proto: r.Proto, remote: r.RemoteAddr, status: rec.status}
			n.accessLog(rec, f, 1500*time.Microsecond)

			var want bytes.Buffer
			attrs := []slog.Attr{
				slog.String("request_id", f.requestID), slog.String("method", r.Method), slog.String("host", r.Host),
				slog.String("path", f.path), slog.String("proto", r.Proto), slog.String("remote", r.RemoteAddr),
				slog.String("route", f.route), slog.String("upstream", f.upstream), slog.Int("status", rec.status),
				slog.Int64("bytes", rec.bytes), slog.Float64("duration_ms", 1.5),
			}
			level := slog.LevelInfo
			if failed != nil {
				level = slog.LevelWarn
				attrs = append(attrs, slog.String("error", failed.Error()))
			}
			slog.New(slog.NewJSONHandler(&want, nil)).LogAttrs(context.Background(), level, "request", attrs...)

			var g, w map[string]any
			if err := json.Unmarshal(got.Bytes(), &g); err != nil {
				t.Fatalf("path %q: not JSON: %v\n%s", path, err, got.Bytes())
			}
			if err := json.Unmarshal(want.Bytes(), &w); err != nil {
				t.Fatal(err)
			}
			if _, err := time.Parse(time.RFC3339Nano, g["time"].(string)); err != nil {
				t.Errorf("time %q: %v", g["time"], err)
			}
			delete(g, "time")
			delete(w, "time")
			if !reflect.DeepEqual(g, w) {
				t.Errorf("path %q:\n got %v\nwant %v", path, g, w)
			}
			if got.Bytes()[got.Len()-1] != '\n' || bytes.Count(got.Bytes(), []byte("\n")) != 1 {
				t.Errorf("path %q: not one line: %q", path, got.Bytes())
			}
		}
	}
}

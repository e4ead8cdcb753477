package edge

import (
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluicegw/sluice/runtime/httperr"
)

// logFields are what the pipeline learned about a request, for its log line.
type logFields struct {
	route, upstream string
	path            string // as the client sent it, before any rewrite
	requestID       string
	decisionID      string // "" unless the route has a policy
	// of the request, copied: a streamed response is logged after the
	// engine reused the request view (fasthttp)
	method, host, proto, remote string
	// what the exchange ended with (servedStatus), set when it is recorded
	status     int
	grpcStatus string
}

// accessLog writes one JSON line per request, in the shape slog's
// JSONHandler writes (time, level, msg, then the fields), so log pipelines
// read it as any other line of the node. It is appended by hand into a
// pooled buffer and written in one call: through slog it cost ~7% of a
// proxied request's CPU (BENCHMARKS.md, 2026-12-03).
func (n *Node) accessLog(rec *recorder, f logFields, elapsed time.Duration) {
	bp := logLines.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"time":"`...)
	b = time.Now().AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
	if rec.err != nil {
		b = append(b, `","level":"WARN","msg":"request"`...)
	} else {
		b = append(b, `","level":"INFO","msg":"request"`...)
	}
	b = appendJSONField(b, "request_id", f.requestID)
	b = appendJSONField(b, "method", f.method)
	b = appendJSONField(b, "host", f.host)
	b = appendJSONField(b, "path", f.path)
	b = appendJSONField(b, "proto", f.proto)
	b = appendJSONField(b, "remote", f.remote)
	b = appendJSONField(b, "route", f.route)
	b = appendJSONField(b, "upstream", f.upstream)
	if f.decisionID != "" {
		b = appendJSONField(b, "decision_id", f.decisionID)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(f.status), 10)
	if f.grpcStatus != "" {
		b = appendJSONField(b, "grpc_status", f.grpcStatus)
	}
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, rec.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(elapsed.Microseconds())/1000, 'f', -1, 64)
	if rec.err != nil {
		b = appendJSONField(b, "error", rec.err.Error())
	}
	b = append(b, "}\n"...)
	_, _ = n.opts.AccessLog.Write(b)
	*bp = b
	logLines.Put(bp)
}

// servedStatus is the status an exchange is counted and logged with, and
// the gRPC status it ended with ("" if not gRPC). A gRPC call that failed
// is an HTTP 200 on the wire, its error in grpc-status; counted as 200, an
// upstream failing every call would be a healthy route to the metrics, the
// dashboard and a metric-gated canary. Such a call counts as the HTTP
// status its gRPC code stands for (UNAVAILABLE 503). The node's own
// answers are counted by their HTTP status already (a 429 stays a 429,
// though gRPC reads it as UNAVAILABLE).
func servedStatus(rec *recorder, proto string) (int, string) {
	if proto != "HTTP/2.0" { // gRPC is HTTP/2 only: HTTP/1.1 pays a compare
		return rec.status, ""
	}
	h := rec.Header()
	if !httperr.IsGRPCContentType(h.Get("Content-Type")) {
		return rec.status, ""
	}
	// In the headers of a trailers-only answer, else in the trailers.
	code := h.Get("Grpc-Status")
	if code == "" {
		code = h.Get(http.TrailerPrefix + "Grpc-Status")
	}
	status := rec.status
	if n, err := strconv.Atoi(code); err == nil && n != 0 && status < 300 {
		status = httperr.HTTPStatusOfGRPC(n)
	}
	return status, code
}

var logLines = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendJSONField appends `,"key":"value"` with value escaped as JSON: what
// clients send (path, host) may hold quotes, control bytes or invalid
// UTF-8, which becomes U+FFFD as encoding/json does.
func appendJSONField(b []byte, key, value string) []byte {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":"`...)
	for i := 0; i < len(value); {
		c := value[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(value[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, value[i:i+size]...)
			}
			i += size
			continue
		}
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
	}
	return append(b, '"')
}

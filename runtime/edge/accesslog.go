package edge

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
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
	b = strconv.AppendInt(b, int64(rec.status), 10)
	if f.proto == "HTTP/2.0" { // gRPC is HTTP/2 only: HTTP/1.1 pays nothing
		if code := grpcStatus(rec.Header()); code != "" {
			b = appendJSONField(b, "grpc_status", code)
		}
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

// grpcStatus is the grpc-status a gRPC response ended with: in its headers
// for a trailers-only answer (the node's own errors, an upstream's), in its
// trailers otherwise; "" when the response is not gRPC. A gRPC call that
// failed is an HTTP 200, so without it the log says nothing went wrong.
func grpcStatus(h http.Header) string {
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/grpc") {
		return ""
	}
	if v := h.Get("Grpc-Status"); v != "" {
		return v
	}
	return h.Get(http.TrailerPrefix + "Grpc-Status")
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

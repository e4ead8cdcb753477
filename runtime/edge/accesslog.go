package edge

import (
	"context"
	"log/slog"
	"time"
)

// logFields are what the pipeline learned about a request, for its log line.
type logFields struct {
	route, upstream string
	path            string // as the client sent it, before any rewrite
	requestID       string
	// of the request, copied: a streamed response is logged after the
	// engine reused the request view (fasthttp)
	method, host, proto, remote string
}

// accessLog writes one JSON line per request. LogAttrs with typed
// attributes avoids the boxing of slog's key-value form.
func (n *Node) accessLog(rec *recorder, f logFields, elapsed time.Duration) {
	attrs := [...]slog.Attr{
		slog.String("request_id", f.requestID),
		slog.String("method", f.method),
		slog.String("host", f.host),
		slog.String("path", f.path),
		slog.String("proto", f.proto),
		slog.String("remote", f.remote),
		slog.String("route", f.route),
		slog.String("upstream", f.upstream),
		slog.Int("status", rec.status),
		slog.Int64("bytes", rec.bytes),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
	}
	level := slog.LevelInfo
	if rec.err != nil {
		level = slog.LevelWarn
		n.opts.AccessLog.LogAttrs(context.Background(), level, "request", append(attrs[:], slog.String("error", rec.err.Error()))...)
		return
	}
	n.opts.AccessLog.LogAttrs(context.Background(), level, "request", attrs[:]...)
}

package edge

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// logFields are what the pipeline learned about a request, for its log line.
type logFields struct {
	route, upstream string
	path            string // as the client sent it, before any rewrite
	requestID       string
}

// accessLog writes one JSON line per request. LogAttrs with typed
// attributes avoids the boxing of slog's key-value form.
func (n *Node) accessLog(r *http.Request, rec *recorder, f logFields, elapsed time.Duration) {
	attrs := [...]slog.Attr{
		slog.String("request_id", f.requestID),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", f.path),
		slog.String("proto", r.Proto),
		slog.String("remote", r.RemoteAddr),
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

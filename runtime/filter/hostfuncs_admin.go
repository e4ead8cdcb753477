package filter

import (
	"context"
	"log/slog"
)

// enable_features(features i32) -> i32
//
// Enables the supported bits of features (unknown bits are ignored) and
// returns every feature now enabled, as http-wasm-host-go does (guests test
// the bits they asked for), plus FeatureHoldsResponseHead, which is what
// this host does rather than something a guest enables. Called during initialisation (start function,
// _initialize) the features hold for every request of this instance; called
// in handle_request, only for that request. FeatureStateless declares
// something of the whole module, which Load reads once: it counts only
// during initialisation.
func (i *Instance) enableFeatures(stack []uint64) {
	f := Features(uint32(stack[0])) & supportedFeatures
	if i.phase == phaseIdle {
		i.base |= f
	} else {
		i.reqFeatures |= f &^ FeatureStateless
	}
	stack[0] = uint64(i.Features() | FeatureHoldsResponseHead)
}

// get_config(buf i32, buf_limit i32) -> len i32
//
// Writes ModuleOptions.Config at buf if it fits buf_limit; returns its length.
func (i *Instance) getConfig(stack []uint64) {
	stack[0] = uint64(i.writeIfFits("get_config", uint32(stack[0]), uint32(stack[1]), string(i.m.opts.Config)))
}

// log(level i32, message i32, message_len i32)
//
// Logs the message at level (-1 debug, 0 info, 1 warn, 2 error, 3 none) on
// the node's logger, with the filter's name and, during a request, the
// phase and the request id, truncated to maxLogBytes. The
// range is checked even when the level is disabled, so a bad pointer fails
// the same way whatever the log level.
func (i *Instance) log(stack []uint64) {
	level := int32(uint32(stack[0]))
	msg := i.view("log", "message", uint32(stack[1]), uint32(stack[2]))
	lvl, ok := slogLevel(level)
	if !ok || !i.m.logger.Enabled(context.Background(), lvl) {
		return
	}
	if len(msg) > maxLogBytes {
		msg = msg[:maxLogBytes]
	}
	if i.x == nil { // initialising: no request
		i.m.logger.Log(context.Background(), lvl, string(msg))
		return
	}
	phase := phaseLabelRequest
	if i.phase == phaseResponse {
		phase = phaseLabelResponse
	}
	i.m.logger.Log(context.Background(), lvl, string(msg), "phase", phase, "request_id", i.x.RequestID)
}

// log_enabled(level i32) -> i32
//
// Returns 1 if a message at level would be logged, else 0.
func (i *Instance) logEnabled(stack []uint64) {
	lvl, ok := slogLevel(int32(uint32(stack[0])))
	stack[0] = 0
	if ok && i.m.logger.Enabled(context.Background(), lvl) {
		stack[0] = 1
	}
}

// slogLevel maps an ABI log level to slog; false for "none" and above.
func slogLevel(level int32) (slog.Level, bool) {
	switch {
	case level <= logDebug:
		return slog.LevelDebug, true
	case level == logInfo:
		return slog.LevelInfo, true
	case level == logWarn:
		return slog.LevelWarn, true
	case level == logError:
		return slog.LevelError, true
	}
	return 0, false
}

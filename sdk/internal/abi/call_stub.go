//go:build !wasip1

package abi

import "strings"

// CallHost serves http_call in the in-memory host.
type CallHost struct {
	// Do answers a call to an upstream: a status with the response's
	// header sequence and body, or a negative code with its reason. nil:
	// every upstream is off the allow-list.
	Do func(upstream, method, uri string, header map[string][]string, body []byte) (code int32, headers string, respBody []byte, reason string)
	// last holds the last call's outcome by CallResultKind.
	last [3]string
}

// HTTPCall is http_call.
func HTTPCall(upstream, method, uri, headers, body string) int32 {
	h := &Mem.Calls
	h.last = [3]string{}
	code, reason := h.call(upstream, method, uri, headers, body)
	h.last[CallResultError] = reason
	return code
}

func (h *CallHost) call(upstream, method, uri, headers, body string) (int32, string) {
	switch {
	case Mem.Phase == PhaseInit:
		return CallInvalid, "http_call is only possible during a request (not while the filter initialises)"
	case h.Do == nil:
		return CallNotAllowed, "upstream " + quote(upstream) + " is not on the filter's allow-list"
	case method == "" || strings.ContainsAny(method, " \t\r\n"):
		return CallInvalid, "invalid method " + quote(method)
	case !strings.HasPrefix(uri, "/"):
		return CallInvalid, "uri " + quote(uri) + " must start with /"
	}
	header := map[string][]string{}
	if headers != "" {
		if !strings.HasSuffix(headers, "\x00") {
			return CallInvalid, "headers must end with a NUL"
		}
		f := strings.Split(strings.TrimSuffix(headers, "\x00"), "\x00")
		if len(f)%2 != 0 {
			return CallInvalid, "headers are not name and value pairs"
		}
		for i := 0; i < len(f); i += 2 {
			header[key(f[i])] = append(header[key(f[i])], f[i+1])
		}
	}
	code, respHeaders, respBody, reason := h.Do(upstream, method, uri, header, []byte(body))
	if code < 0 {
		return code, reason
	}
	if len(respBody) > MaxCallResponseBytes {
		return CallTooLarge, "upstream " + quote(upstream) + " answered more than 1048576 bytes"
	}
	h.last[CallResultHeaders], h.last[CallResultBody] = respHeaders, string(respBody)
	return code, ""
}

func quote(s string) string { return `"` + s + `"` }

// HTTPCallResult is http_call_result.
func HTTPCallResult(kind CallResultKind, buf *byte, limit uint32) uint32 {
	if kind > CallResultError {
		trap("http_call_result: unknown kind %d", kind)
	}
	return putString(buf, limit, Mem.Calls.last[kind])
}

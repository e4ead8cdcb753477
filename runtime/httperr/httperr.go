// Package httperr is how every stage of the request pipeline reports a
// failure: an error that carries the status the client should see. The edge
// node turns it into the JSON body documented in docs/architecture.md
// ("Errors"), {"error", "request_id"}.
package httperr

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// StatusClientClosedRequest is the status of a request whose client went
// away before it was answered (nginx's 499). It is for logs and metrics;
// nobody is left to read it. Defined here only: the proxy, the cache and the
// edge's stages all report it.
const StatusClientClosedRequest = 499

// reasonClientClosed goes with StatusClientClosedRequest.
const reasonClientClosed = "client closed request"

// ClientClosed is the error of a request its client gave up on; err is why
// the work stopped (usually the request context's error).
func ClientClosed(err error) *Error {
	return Wrap(StatusClientClosedRequest, reasonClientClosed, err)
}

// Error is a failure with the HTTP status that answers it.
type Error struct {
	Status int    // HTTP status for the client
	Reason string // short, safe to show to the client
	Err    error  // the cause, for logs; never sent to the client
	// Header holds extra response headers (Retry-After, WWW-Authenticate).
	Header http.Header
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an Error with a status and a client-facing reason.
func New(status int, reason string) *Error { return &Error{Status: status, Reason: reason} }

// Wrap returns an Error with a status, a client-facing reason and a cause.
func Wrap(status int, reason string, err error) *Error {
	return &Error{Status: status, Reason: reason, Err: err}
}

// StatusOf returns the status an error should be answered with: its own if it
// is an *Error, 500 otherwise.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

type body struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id"`
}

// Write answers with a JSON error body.
func Write(w http.ResponseWriter, status int, reason, requestID string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	b, _ := json.Marshal(body{reason, requestID})
	b = append(b, '\n')
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError answers err: its status, reason and headers when it is an *Error,
// a bare 500 otherwise (the cause stays in the logs).
func WriteError(w http.ResponseWriter, err error, requestID string) {
	var e *Error
	if !errors.As(err, &e) {
		Write(w, http.StatusInternalServerError, "internal error", requestID)
		return
	}
	for k, vs := range e.Header {
		w.Header()[k] = vs
	}
	Write(w, e.Status, e.Reason, requestID)
}

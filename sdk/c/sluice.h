/*
 * sluice.h: the Sluice filter SDK for C, in one header.
 *
 * A filter is a WebAssembly module on the http-wasm handler ABI (host module
 * "http_handler"), plus Sluice's own "sluice" module for outbound calls. Build
 * with Debian's clang, lld and wasi-libc (apt-get install clang lld wasi-libc
 * libclang-rt-14-dev-wasm32):
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I sdk/c \
 *         -Wl,--strip-all -o myfilter.wasm main.c
 *
 * Write two functions and name them once with SLUICE_FILTER:
 *
 *   #include "sluice.h"
 *   static int on_request(void) {                       // 1: pass on, 0: answered
 *       sluice_set_header(SLUICE_REQUEST, "X-Hello", "world");
 *       return 1;
 *   }
 *   static void on_response(int is_error) { (void)is_error; }
 *   SLUICE_FILTER(on_request, on_response)
 *
 * Strings the host gives are copied into a caller's buffer: each getter takes
 * (buf, cap) and returns the value's full length, writing it (not
 * NUL-terminated) only when it fits, as the ABI does. Names and values you
 * pass are NUL-terminated C strings. A host that is given a bad pointer
 * stops the filter's call (a trap), and Sluice answers the request with the
 * filter's on_error.
 *
 * Test a filter with `sluice filter test myfilter.wasm --request req.http`
 * (and --config, --response, --upstream NAME=URL): see sdk/c/README.md.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SLUICE_IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

/* The ABI, as the host provides it: pointers are offsets in linear memory. */
SLUICE_IMPORT("http_handler", "enable_features") uint32_t sluice_abi_enable_features(uint32_t features);
SLUICE_IMPORT("http_handler", "get_config") uint32_t sluice_abi_get_config(char *buf, uint32_t limit);
SLUICE_IMPORT("http_handler", "log") void sluice_abi_log(int32_t level, const char *msg, uint32_t len);
SLUICE_IMPORT("http_handler", "get_method") uint32_t sluice_abi_get_method(char *buf, uint32_t limit);
SLUICE_IMPORT("http_handler", "set_method") void sluice_abi_set_method(const char *m, uint32_t len);
SLUICE_IMPORT("http_handler", "get_uri") uint32_t sluice_abi_get_uri(char *buf, uint32_t limit);
SLUICE_IMPORT("http_handler", "set_uri") void sluice_abi_set_uri(const char *uri, uint32_t len);
SLUICE_IMPORT("http_handler", "get_header_values")
uint64_t sluice_abi_get_header_values(uint32_t kind, const char *name, uint32_t name_len, char *buf, uint32_t limit);
SLUICE_IMPORT("http_handler", "set_header_value")
void sluice_abi_set_header_value(uint32_t kind, const char *name, uint32_t name_len, const char *value, uint32_t value_len);
SLUICE_IMPORT("http_handler", "add_header_value")
void sluice_abi_add_header_value(uint32_t kind, const char *name, uint32_t name_len, const char *value, uint32_t value_len);
SLUICE_IMPORT("http_handler", "remove_header") void sluice_abi_remove_header(uint32_t kind, const char *name, uint32_t name_len);
SLUICE_IMPORT("http_handler", "read_body") uint64_t sluice_abi_read_body(uint32_t kind, char *buf, uint32_t limit);
SLUICE_IMPORT("http_handler", "write_body") void sluice_abi_write_body(uint32_t kind, const char *body, uint32_t len);
SLUICE_IMPORT("http_handler", "get_status_code") uint32_t sluice_abi_get_status_code(void);
SLUICE_IMPORT("http_handler", "set_status_code") void sluice_abi_set_status_code(uint32_t code);
SLUICE_IMPORT("sluice", "http_call")
int32_t sluice_abi_http_call(const char *upstream, uint32_t upstream_len, const char *method, uint32_t method_len,
                             const char *uri, uint32_t uri_len, const char *headers, uint32_t headers_len,
                             const char *body, uint32_t body_len);
SLUICE_IMPORT("sluice", "http_call_result") uint32_t sluice_abi_http_call_result(uint32_t kind, char *buf, uint32_t limit);

/* Header kinds and body kinds. */
enum { SLUICE_REQUEST = 0, SLUICE_RESPONSE = 1, SLUICE_REQUEST_TRAILERS = 2, SLUICE_RESPONSE_TRAILERS = 3 };

/* Features (enable_features). SLUICE_FEATURE_STATELESS is Sluice's: the
 * filter keeps nothing between its two phases (see sluice_stateless). */
#define SLUICE_FEATURE_BUFFER_REQUEST 1u
#define SLUICE_FEATURE_BUFFER_RESPONSE 2u
#define SLUICE_FEATURE_TRAILERS 4u
#define SLUICE_FEATURE_STATELESS 0x80000000u

/* Log levels. */
enum { SLUICE_LOG_DEBUG = -1, SLUICE_LOG_INFO = 0, SLUICE_LOG_WARN = 1, SLUICE_LOG_ERROR = 2 };

/* Errors of sluice_call (negative results; 100-599 is a status). */
enum {
    SLUICE_CALL_NOT_ALLOWED = -1, /* the upstream is not on the filter's `upstreams:` allow-list */
    SLUICE_CALL_TIMEOUT = -2,     /* no answer before the filter's deadline */
    SLUICE_CALL_TOO_LARGE = -3,   /* the response body is over 1 MiB */
    SLUICE_CALL_FAILED = -4,      /* the upstream failed: refused, reset, no healthy endpoint */
    SLUICE_CALL_INVALID = -5      /* a malformed request, or a call outside a request */
};
/* What sluice_call_result reads. */
enum { SLUICE_CALL_HEADERS = 0, SLUICE_CALL_BODY = 1, SLUICE_CALL_ERROR = 2 };

static inline uint32_t sluice_enable_features(uint32_t features) { return sluice_abi_enable_features(features); }

/* sluice_stateless declares, while the filter initialises (a function marked
 * __attribute__((constructor))), that on_response needs nothing on_request
 * left in memory: Sluice then needs about one instance per core. */
static inline void sluice_stateless(void) { sluice_abi_enable_features(SLUICE_FEATURE_STATELESS); }

/* The filter's `config:` as JSON: its length; written to buf when it fits. */
static inline size_t sluice_config(char *buf, size_t cap) { return sluice_abi_get_config(buf, (uint32_t)cap); }

static inline void sluice_log(int level, const char *msg) { sluice_abi_log(level, msg, (uint32_t)strlen(msg)); }

static inline size_t sluice_method(char *buf, size_t cap) { return sluice_abi_get_method(buf, (uint32_t)cap); }
static inline void sluice_set_method(const char *m) { sluice_abi_set_method(m, (uint32_t)strlen(m)); }
static inline size_t sluice_uri(char *buf, size_t cap) { return sluice_abi_get_uri(buf, (uint32_t)cap); }
static inline void sluice_set_uri(const char *uri) { sluice_abi_set_uri(uri, (uint32_t)strlen(uri)); }

/* sluice_header reads the first value of header name of kind into buf:
 * its length, or -1 when the header is absent. */
static inline long sluice_header(int kind, const char *name, char *buf, size_t cap) {
    uint64_t count_len = sluice_abi_get_header_values((uint32_t)kind, name, (uint32_t)strlen(name), buf, (uint32_t)cap);
    uint32_t count = (uint32_t)(count_len >> 32), len = (uint32_t)count_len;
    if (count == 0) return -1;
    if (len > cap) return (long)len; /* too small: nothing written, retry with len */
    return (long)strnlen(buf, len);   /* the values are NUL-terminated: the first one */
}
static inline void sluice_set_header(int kind, const char *name, const char *value) {
    sluice_abi_set_header_value((uint32_t)kind, name, (uint32_t)strlen(name), value, (uint32_t)strlen(value));
}
static inline void sluice_add_header(int kind, const char *name, const char *value) {
    sluice_abi_add_header_value((uint32_t)kind, name, (uint32_t)strlen(name), value, (uint32_t)strlen(value));
}
static inline void sluice_remove_header(int kind, const char *name) {
    sluice_abi_remove_header((uint32_t)kind, name, (uint32_t)strlen(name));
}

/* sluice_read_body reads up to cap bytes of the body of kind; *eof is set at
 * its end. Reads continue where the last one stopped. */
static inline size_t sluice_read_body(int kind, char *buf, size_t cap, int *eof) {
    uint64_t eof_len = sluice_abi_read_body((uint32_t)kind, buf, (uint32_t)cap);
    if (eof) *eof = (int)(eof_len >> 32);
    return (uint32_t)eof_len;
}
/* sluice_write_body: the first write of a phase replaces the body. */
static inline void sluice_write_body(int kind, const char *body, size_t len) {
    sluice_abi_write_body((uint32_t)kind, body, (uint32_t)len);
}
static inline int sluice_status(void) { return (int)sluice_abi_get_status_code(); }
static inline void sluice_set_status(int code) { sluice_abi_set_status_code((uint32_t)code); }

/* sluice_call sends a request to an upstream on the filter's allow-list and
 * waits for the whole answer: the status (100-599) or a SLUICE_CALL_* error.
 * headers is "name\0value\0..." (headers_len bytes, each string's NUL
 * included), NULL with 0 for none. Read the answer (or the error's reason)
 * with sluice_call_result. */
static inline int sluice_call(const char *upstream, const char *method, const char *uri, const char *headers,
                              size_t headers_len, const char *body, size_t body_len) {
    return sluice_abi_http_call(upstream, (uint32_t)strlen(upstream), method, (uint32_t)strlen(method), uri,
                                (uint32_t)strlen(uri), headers, (uint32_t)headers_len, body, (uint32_t)body_len);
}
/* sluice_call_result reads the last call's headers ("name\0value\0..."),
 * body or error reason: its length, written to buf when it fits. */
static inline size_t sluice_call_result(int what, char *buf, size_t cap) {
    return sluice_abi_http_call_result((uint32_t)what, buf, (uint32_t)cap);
}

/* SLUICE_FILTER(on_request, on_response) defines the module's exports, once,
 * in one .c file: on_request returns 1 to pass the request on (then
 * on_response runs after the upstream answered) or 0 when it answered. */
#define SLUICE_FILTER(on_request, on_response)                                                   \
    __attribute__((export_name("handle_request"))) uint64_t handle_request(void) {              \
        return (uint64_t)(on_request() ? 1 : 0);                                                 \
    }                                                                                            \
    __attribute__((export_name("handle_response"))) void handle_response(uint32_t req_ctx,      \
                                                                         uint32_t is_error) {   \
        (void)req_ctx;                                                                           \
        on_response((int)is_error);                                                              \
    }

#endif /* SLUICE_H */

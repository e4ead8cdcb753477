/*
 * stamp-c stamps each request and response with X-Stamp: on, and answers
 * TRACE with 405 itself: the filter `sluice filter new NAME --lang c` starts
 * from, and the same header work as the Go and AssemblyScript stamps, for
 * BENCHMARKS.md.
 */
#include "sluice.h"

static const char header[] = "X-Stamp";
static const char value[] = "on";

/* It keeps nothing between the phases: one instance per core will do. */
__attribute__((constructor)) static void init(void) { sluice_stateless(); }

static int on_request(void) {
    char method[16];
    size_t n = sluice_method(method, sizeof method);
    if (n == 5 && memcmp(method, "TRACE", 5) == 0) {
        static const char body[] = "{\"error\":\"TRACE is not allowed\"}\n";
        sluice_set_status(405);
        sluice_set_header(SLUICE_RESPONSE, "Content-Type", "application/json");
        sluice_write_body(SLUICE_RESPONSE, body, sizeof body - 1);
        return 0;
    }
    sluice_set_header(SLUICE_REQUEST, header, value);
    return 1;
}

static void on_response(int is_error) {
    if (!is_error) sluice_set_header(SLUICE_RESPONSE, header, value);
}

SLUICE_FILTER(on_request, on_response)

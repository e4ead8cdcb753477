/*
 * httpcall: a C guest of runtime/filter's tests (compiled there with clang and
 * sdk/c/sluice.h). It calls the upstream "auth" with sluice_call (POST
 * /check, header x-token: abc, body "ping") and answers with the call's
 * status, the upstream's x-seen response header and body; when the call
 * fails, with 590+N for error -N and the reason as the body.
 */
#include "sluice.h"

static char buf[4096];

static int on_request(void) {
    static const char headers[] = "x-token\0abc\0";
    int status = sluice_call("auth", "POST", "/check", headers, sizeof headers - 1, "ping", 4);
    if (status < 0) {
        size_t n = sluice_call_result(SLUICE_CALL_ERROR, buf, sizeof buf);
        sluice_set_status(590 - status);
        sluice_write_body(SLUICE_RESPONSE, buf, n < sizeof buf ? n : 0);
        return 0;
    }
    /* find x-seen among the "name\0value\0" pairs */
    size_t n = sluice_call_result(SLUICE_CALL_HEADERS, buf, sizeof buf);
    for (size_t i = 0; n <= sizeof buf && i < n;) {
        const char *name = buf + i, *value = name + strlen(name) + 1;
        if (strcmp(name, "x-seen") == 0) sluice_set_header(SLUICE_RESPONSE, "X-Seen", value);
        i = (size_t)(value - buf) + strlen(value) + 1;
    }
    n = sluice_call_result(SLUICE_CALL_BODY, buf, sizeof buf);
    sluice_set_status(status);
    sluice_write_body(SLUICE_RESPONSE, buf, n < sizeof buf ? n : 0);
    return 0;
}

static void on_response(int is_error) { (void)is_error; }

SLUICE_FILTER(on_request, on_response)

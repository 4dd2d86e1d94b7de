/* libFuzzer entry point for the HTTP request bodies the server parses
 * (src/server/body_json.c): POST /v1/route, the routing half of POST
 * /v1/chat/completions (and the body it sends upstream), POST /v1/feedback.
 * Any bytes must give a parsed request or an API error with a message,
 * never a crash, a leak or an out-of-bounds read.  The first byte picks the
 * parser, so the corpus can steer it; the rest is the body.
 *
 * Build and run: make fuzz; build-fuzz/fuzz/fuzz_http_body -max_total_time=60 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/api_error.c"
#include "server/body_json.c"

static const char *models[] = {"gpt-small", "gpt-large", "claude-x", ""};

static int find(void *ctx, const char *name)
{
    (void)ctx;
    for (int i = 0; i < 4; i++)
        if (!strcmp(models[i], name)) return i;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    int which = data[0] % 3;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char msg[512];
    int api = -1;
    msg[0] = 0;
    if (which < 2) {
        tr_route_req r;
        if (tr_route_req_parse(body, len, which, 4, find, NULL, &r, &api, msg, sizeof msg) == 0) {
            /* what the handlers rely on */
            if (!r.prompt || strlen(r.prompt) != r.prompt_len || r.prompt_len == 0) __builtin_trap();
            if (r.opt.allowed && r.opt.allowed != r.allowed) __builtin_trap();
            if (which == 1) {
                char *up = tr_route_req_upstream_body(&r, "upstream-model");
                if (up && !strstr(up, "\"model\":\"upstream-model\"")) __builtin_trap();
                tr_free(up);
            }
            tr_route_req_free(&r);
        } else if (api < 0 || api >= TR_API_ERROR_COUNT || !msg[0] || r.root || r.prompt) {
            __builtin_trap();
        }
    } else {
        tr_feedback_req f;
        if (tr_feedback_req_parse(body, len, &f, &api, msg, sizeof msg) == 0) {
            size_t n = strlen(f.request_id);
            if (n == 0 || n > 256 || tr_utf8_invalid_at((const unsigned char *)f.request_id, n) != n) __builtin_trap();
            if (!(f.score >= 0 && f.score <= 1)) __builtin_trap();
            tr_feedback_req_free(&f);
        } else if (api < 0 || api >= TR_API_ERROR_COUNT || !msg[0] || f.root) {
            __builtin_trap();
        }
    }
    return 0;
}

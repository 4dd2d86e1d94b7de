/* libFuzzer entry point for the reader of upstream chat answers
 * (src/upstream/answer.c): the bytes are read as a whole answer, and
 * as a server-sent-event stream fed in pieces whose sizes the first bytes
 * choose.  Either gives an answer or a status with a message, never a
 * crash, a leak or an out-of-bounds read.
 *
 * Build and run: make fuzz; build-fuzz/fuzz/fuzz_upstream_answer -max_total_time=60 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "upstream/answer.c"

static void check(const tr_upstream_answer *a)
{
    if (a->content && strlen(a->content) > a->content_len) __builtin_trap();
    if (!a->content && a->content_len) __builtin_trap();
    if (a->content && tr_utf8_invalid_at((const unsigned char *)a->content, a->content_len) != a->content_len)
        __builtin_trap();
    if (a->prompt_tokens < -1 || a->completion_tokens < -1 || a->total_tokens < -1) __builtin_trap();
    if (strlen(a->model) >= sizeof a->model || strlen(a->finish_reason) >= sizeof a->finish_reason) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    tr_upstream_answer a;
    err[0] = 0;
    if (tr_upstream_answer_parse((const char *)data, size, &a, err, sizeof err) == TR_OK) {
        check(&a);
        tr_upstream_answer_free(&a);
    } else if (!err[0] || a.content) {
        __builtin_trap();
    }

    tr_upstream_stream *s;
    if (tr_upstream_stream_new(&s)) return 0;
    size_t step = size ? (size_t)data[0] % 17 + 1 : 1;
    int failed = 0;
    for (size_t i = 0; i < size && !failed; i += step) {
        err[0] = 0;
        failed = tr_upstream_stream_feed(s, (const char *)data + i, i + step < size ? step : size - i, err, sizeof err);
        if (failed && !err[0]) __builtin_trap();
    }
    err[0] = 0;
    int rc = tr_upstream_stream_finish(s, &a, err, sizeof err);
    if (rc == TR_OK) {
        check(&a);
        tr_upstream_answer_free(&a);
    } else if (!err[0] || (failed && rc != failed)) {
        __builtin_trap();
    }
    tr_upstream_stream_free(s);
    return 0;
}

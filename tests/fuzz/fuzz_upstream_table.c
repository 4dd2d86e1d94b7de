/* libFuzzer entry point for the upstream table's parser
 * (src/upstream/table.c): any bytes give a table that keeps its promises
 * (indices in range, time-outs positive and connect <= total, prices >= 0,
 * URLs ending in /chat/completions) or a status with a message naming the
 * file, never a crash, a leak or an out-of-bounds read.  The environment
 * is a fake one, so keys with line breaks and unset variables are reached.
 *
 * Build and run: make fuzz; build-fuzz/fuzz/fuzz_upstream_table -max_total_time=60 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "upstream/backoff.c"
#include "upstream/breaker.c"
#include "upstream/table.c"

static const char *fake_env(const char *name)
{
    if (!strcmp(name, "K")) return "sk-fuzz";
    if (!strcmp(name, "NL")) return "a\nb";
    if (!strcmp(name, "E")) return "";
    return NULL;
}

static void ignore(void *ctx, const char *msg)
{
    (void)ctx;
    if (!msg) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    tr_upstream_table *t = NULL;
    err[0] = 0;
    const char *fb = size && data[0] == 'F' ? "m" : NULL;
    int rc = tr_upstream_table_parse((const char *)data, size, "fuzz.json", fb, fake_env, &t, err, sizeof err);
    if (rc != TR_OK) {
        if (t || strncmp(err, "fuzz.json", 9)) __builtin_trap();
        return 0;
    }
    if (!t || !t->n || (t->fallback < -1 || t->fallback >= (int)t->n)) __builtin_trap();
    for (size_t i = 0; i < t->n; i++) {
        const tr_upstream *u = &t->u[i];
        size_t ul = strlen(u->url);
        if (ul < 17 || strcmp(u->url + ul - 17, "/chat/completions")) __builtin_trap();
        if (u->timeout_ms < 1 || u->connect_timeout_ms < 1 || u->connect_timeout_ms > u->timeout_ms) __builtin_trap();
        if (u->has_price && (!(u->price_in >= 0) || !(u->price_out >= 0))) __builtin_trap();
        if (u->max_concurrency < 0 || u->n_fallbacks > TR_UPSTREAM_MAX_FALLBACKS) __builtin_trap();
        for (size_t k = 0; k < u->n_fallbacks; k++)
            if (u->fallbacks[k] < 0 || (size_t)u->fallbacks[k] >= t->n || (size_t)u->fallbacks[k] == i) __builtin_trap();
        if (u->auth_header && strpbrk(u->auth_header, "\r\n")) __builtin_trap();
        if (tr_upstream_table_find(t, u->name) < 0) __builtin_trap();
    }
    const char *models[] = {"m", "n", ""};
    tr_upstream_table_check(t, models, 3, ignore, NULL);
    tr_upstream_table_unref(t);
    return 0;
}

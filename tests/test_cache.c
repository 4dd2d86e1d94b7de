/* The proxy's semantic answer cache (server/answer_cache.c): exact and
 * normalised repeats, paraphrases by cosine, scopes, TTL on a clock the
 * test advances, LRU eviction by entries and by bytes, purge, and a
 * thousand entries that an index (not luck) finds again. */
#include "testutil.h"
#include <math.h>
#include "server/cache_index.c"
#include "server/answer_cache.c"

#define D 16

static void unit(float *x, unsigned seed)
{
    double n = 0;
    for (int j = 0; j < D; j++) {
        seed = seed * 1103515245u + 12345u;
        x[j] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
        n += (double)x[j] * x[j];
    }
    for (int j = 0; j < D; j++) x[j] = (float)(x[j] / sqrt(n));
}

static tr_answer_cache *make(size_t entries, double sim, double ttl, size_t bytes)
{
    tr_cache_config cfg;
    tr_cache_config_default(&cfg, entries);
    cfg.similarity = sim;
    cfg.ttl_s = ttl;
    if (bytes) cfg.max_bytes = bytes;
    tr_answer_cache *c = NULL;
    char err[256];
    assert_int_equal(tr_answer_cache_new(&cfg, D, &c, err, sizeof err), TR_OK);
    return c;
}

static void put(tr_answer_cache *c, uint64_t scope, const char *prompt, const float *x, double now, const char *body)
{
    char err[256];
    tr_cache_key k = {scope, tr_cache_prompt_hash(prompt, strlen(prompt)), x, D};
    assert_int_equal(tr_answer_cache_put(c, &k, now, body, strlen(body), "m", 0.5, err, sizeof err), TR_OK);
}

/* 1 and the body in out (freed here) when it hits. */
static int get(tr_answer_cache *c, uint64_t scope, const char *prompt, const float *x, double now, char *out,
               size_t outlen)
{
    tr_cache_key k = {scope, tr_cache_prompt_hash(prompt, strlen(prompt)), x, D};
    tr_cache_hit h;
    int r = tr_answer_cache_get(c, &k, now, &h);
    if (out) snprintf(out, outlen, "%s", r ? h.body : "");
    tr_free(h.body);
    return r;
}

static void test_normalised_hash(void **state)
{
    (void)state;
    uint64_t a = tr_cache_prompt_hash("What is  2+2?\n", 14);
    assert_true(a == tr_cache_prompt_hash("  what is 2+2?", 14));
    assert_true(a == tr_cache_prompt_hash("WHAT\tIS 2+2?", 12));
    assert_true(a != tr_cache_prompt_hash("what is 2+3?", 12));
    assert_true(a != tr_cache_prompt_hash("whatis 2+2?", 11));
}

static void test_exact_and_paraphrase(void **state)
{
    (void)state;
    tr_answer_cache *c = make(8, 0.9, 100, 0);
    float x[D], y[D], z[D];
    unit(x, 1);
    unit(z, 99);
    for (int j = 0; j < D; j++) y[j] = x[j] + (j == 0 ? 0.05f : 0);   /* cosine ~ 0.999 */
    double n = 0;
    for (int j = 0; j < D; j++) n += (double)y[j] * y[j];
    for (int j = 0; j < D; j++) y[j] = (float)(y[j] / sqrt(n));
    char b[64];
    assert_int_equal(get(c, 1, "hello world", x, 0, b, sizeof b), 0);
    put(c, 1, "hello world", x, 0, "A1");
    assert_int_equal(get(c, 1, "Hello   World ", NULL, 1, b, sizeof b), 1);   /* exact, no embedding needed */
    assert_string_equal(b, "A1");
    assert_int_equal(get(c, 1, "hi there world", y, 1, b, sizeof b), 1);     /* paraphrase */
    assert_int_equal(get(c, 1, "something else", z, 1, b, sizeof b), 0);     /* far */
    assert_int_equal(get(c, 2, "hello world", x, 1, b, sizeof b), 0);        /* another scope */
    assert_int_equal(get(c, 2, "hi there world", y, 1, b, sizeof b), 0);
    tr_cache_stats st;
    tr_answer_cache_stats(c, &st);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.hits_exact, 1);
    assert_int_equal(st.misses, 4);
    assert_true(fabs(st.usd_saved - 1.0) < 1e-12);
    tr_answer_cache_free(c);
}

static void test_ttl(void **state)
{
    (void)state;
    tr_answer_cache *c = make(4, 0.9, 10, 0);
    float x[D];
    unit(x, 3);
    put(c, 7, "p", x, 100, "old");
    assert_int_equal(get(c, 7, "p", x, 109.9, NULL, 0), 1);
    assert_int_equal(get(c, 7, "p", x, 110.1, NULL, 0), 0);
    assert_int_equal(get(c, 7, "q", x, 110.1, NULL, 0), 0);   /* gone from the index as well */
    tr_cache_stats st;
    tr_answer_cache_stats(c, &st);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.entries, 0);
    tr_answer_cache_free(c);
}

static void test_lru_entries_and_bytes(void **state)
{
    (void)state;
    tr_answer_cache *c = make(3, 0.99, 100, 10);
    float x[4][D];
    for (int i = 0; i < 4; i++) unit(x[i], 10 + (unsigned)i * 7);
    put(c, 1, "a", x[0], 0, "aa");
    put(c, 1, "b", x[1], 0, "bb");
    put(c, 1, "c", x[2], 0, "cc");
    assert_int_equal(get(c, 1, "a", x[0], 1, NULL, 0), 1);    /* a is now the most recent */
    put(c, 1, "d", x[3], 2, "dd");                            /* evicts b, the least recent */
    assert_int_equal(get(c, 1, "b", x[1], 3, NULL, 0), 0);
    assert_int_equal(get(c, 1, "a", x[0], 3, NULL, 0), 1);
    assert_int_equal(get(c, 1, "c", x[2], 3, NULL, 0), 1);
    assert_int_equal(get(c, 1, "d", x[3], 3, NULL, 0), 1);
    put(c, 1, "e", x[1], 4, "eeeeeeee");                      /* 8 bytes: only it and one other fit in 10 */
    tr_cache_stats st;
    tr_answer_cache_stats(c, &st);
    assert_true(st.bytes <= 10);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.evictions, 3);
    char err[128];
    tr_cache_key k = {1, 5, x[0], D};
    assert_int_equal(tr_answer_cache_put(c, &k, 5, "01234567890", 11, "m", 0, err, sizeof err), TR_ERANGE);
    tr_answer_cache_free(c);
}

/* The index cannot take an entry (out of memory): the entry is dropped,
 * the caller told, and the cache goes on. */
static void test_index_out_of_memory(void **state)
{
    (void)state;
    tr_answer_cache *c = make(4, 0.9, 100, 0);
    float x[D];
    unit(x, 8);
    char err[128];
    tr_cache_key k = {1, tr_cache_prompt_hash("p", 1), x, D};
    tr_alloc_fail_after(1);   /* the answer's copy, then the first bucket's growth fails */
    int rc = tr_answer_cache_put(c, &k, 0, "v", 1, "m", 0.5, err, sizeof err);
    tr_alloc_fail_after(-1);
    assert_int_equal(rc, TR_ENOMEM);
    assert_non_null(strstr(err, "indexing"));
    assert_int_equal(get(c, 1, "p", x, 1, NULL, 0), 0);
    tr_cache_stats st;
    tr_answer_cache_stats(c, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    put(c, 1, "p", x, 2, "v");
    assert_int_equal(get(c, 1, "q", x, 3, NULL, 0), 1);   /* found again by the index */
    tr_answer_cache_free(c);
}

static void test_purge_and_dim(void **state)
{
    (void)state;
    tr_answer_cache *c = make(4, 0.9, 100, 0);
    float x[D];
    unit(x, 5);
    put(c, 1, "p", x, 0, "v");
    char err[128];
    assert_int_equal(tr_answer_cache_purge(c, D, err, sizeof err), TR_OK);
    assert_int_equal(get(c, 1, "p", x, 1, NULL, 0), 0);
    assert_int_equal(tr_answer_cache_purge(c, 8, err, sizeof err), TR_OK);
    tr_cache_key k = {1, 1, x, D};
    assert_int_equal(tr_answer_cache_put(c, &k, 0, "v", 1, "m", 0, err, sizeof err), TR_ERANGE);
    tr_cache_config bad;
    tr_cache_config_default(&bad, 4);
    bad.similarity = 1.5;
    tr_answer_cache *c2 = NULL;
    assert_int_equal(tr_answer_cache_new(&bad, D, &c2, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "similarity"));
    tr_answer_cache_free(c);
}

/* Every one of 1000 stored vectors found again from a slightly moved copy,
 * after the slots were recycled twice over. */
static void test_many(void **state)
{
    (void)state;
    tr_answer_cache *c = make(1000, 0.98, 1e9, 0);
    static float x[3000][D];
    char p[32], b[32];
    for (int i = 0; i < 3000; i++) {
        unit(x[i], 1000 + (unsigned)i);
        snprintf(p, sizeof p, "prompt %d", i);
        snprintf(b, sizeof b, "answer %d", i);
        put(c, 1, p, x[i], i, b);
    }
    int found = 0;
    for (int i = 2000; i < 3000; i++) {
        float y[D];
        memcpy(y, x[i], sizeof y);
        y[0] += 0.01f;
        snprintf(p, sizeof p, "other %d", i);
        char want[32];
        snprintf(want, sizeof want, "answer %d", i);
        if (get(c, 1, p, y, 3000, b, sizeof b) && !strcmp(b, want)) found++;
    }
    assert_true(found >= 990);   /* HNSW is approximate */
    snprintf(p, sizeof p, "prompt %d", 5);
    assert_int_equal(get(c, 1, p, x[5], 3000, NULL, 0), 0);   /* evicted long ago */
    tr_answer_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalised_hash),
        cmocka_unit_test(test_exact_and_paraphrase),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_lru_entries_and_bytes),
        cmocka_unit_test(test_index_out_of_memory),
        cmocka_unit_test(test_purge_and_dim),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

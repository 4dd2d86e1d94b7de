/* Error table, allocation fault injection, RNG determinism, section buffers
 * and CRC-32. */
#include "testutil.h"

#include <stdatomic.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(tr_strerror(TR_OK), "ok");
    assert_string_equal(tr_strerror_name(TR_EFORMAT), "TR_EFORMAT");
    assert_string_equal(tr_strerror(12345), "unknown error code");
    char err[64];
    assert_int_equal(tr_errorf(err, sizeof err, TR_EIO, "file %s", "x"), TR_EIO);
    assert_string_equal(err, "file x");
    tr_error_prefix(err, sizeof err, TR_EIO, "ctx");
    assert_string_equal(err, "ctx: file x");
    assert_string_equal(tr_version(), TR_VERSION_STRING);
}

/* Every worker runs once on its own argument; more workers than the limit
 * are cut to it. */
static void *mark(void *arg)
{
    ++*(int *)arg;
    return NULL;
}

static void *count_shared(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
    return NULL;
}

static void test_run_workers(void **state)
{
    (void)state;
    int runs[TR_RUN_MAX_THREADS + 4];
    for (int n = 1; n <= 5; n++) {
        memset(runs, 0, sizeof runs);
        tr_run_workers(n, mark, runs, sizeof runs[0]);
        for (int t = 0; t < 6; t++) assert_int_equal(runs[t], t < n ? 1 : 0);
    }
    memset(runs, 0, sizeof runs);
    tr_run_workers(TR_RUN_MAX_THREADS + 4, mark, runs, sizeof runs[0]);
    for (int t = 0; t < TR_RUN_MAX_THREADS + 4; t++) assert_int_equal(runs[t], t < TR_RUN_MAX_THREADS ? 1 : 0);
    /* size 0: every worker gets the same job */
    _Atomic int shared = 0;
    tr_run_workers(3, count_shared, (void *)&shared, 0);
    assert_int_equal(shared, 3);
    /* the worker count: the request, every core for 0, capped by the jobs and the limit */
    assert_int_equal(tr_workers(3, 100), 3);
    assert_int_equal(tr_workers(0, 1000), tr_ncpu() < TR_RUN_MAX_THREADS ? tr_ncpu() : TR_RUN_MAX_THREADS);
    assert_int_equal(tr_workers(8, 2), 2);
    assert_int_equal(tr_workers(8, 0), 1);
    assert_int_equal(tr_workers(1000, 1000), TR_RUN_MAX_THREADS);
}

static void test_alloc_fault(void **state)
{
    (void)state;
    tr_alloc_fail_after(2);
    void *a = tr_malloc(8), *b = tr_malloc(8), *c = tr_malloc(8);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_int_equal(tr_alloc_fail_after(-1), 1);
    void *d = tr_malloc(8);
    assert_non_null(d);
    tr_free(a); tr_free(b); tr_free(d);
    assert_null(tr_mallocarray(SIZE_MAX / 2, 4));
}

/* Big arrays: aligned to 2 MiB (so huge pages can back them), writable to
 * the last byte, subject to fault injection, freed by tr_free; small ones
 * take the plain path. */
static void test_malloc_big(void **state)
{
    (void)state;
    size_t n = TR_BIG_ALLOC + 12345;
    unsigned char *p = tr_malloc_big(n);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % ((uintptr_t)2 << 20), 0);
    memset(p, 0xab, n);
    assert_int_equal(p[n - 1], 0xab);
    tr_free(p);
    void *q = tr_malloc_big(100);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % 64, 0);
    tr_free(q);
    tr_alloc_fail_after(0);
    assert_null(tr_malloc_big(n));
    assert_null(tr_malloc_big(100));
    assert_int_equal(tr_alloc_fail_after(-1), 2);
    assert_null(tr_malloc_big(SIZE_MAX - 10));
}

static void test_rng(void **state)
{
    (void)state;
    tr_rng a, b;
    tr_rng_seed(&a, 7);
    tr_rng_seed(&b, 7);
    for (int i = 0; i < 100; i++) assert_true(tr_rng_next(&a) == tr_rng_next(&b));
    tr_rng_seed(&a, 7);
    tr_rng_seed(&b, 8);
    assert_true(tr_rng_next(&a) != tr_rng_next(&b));
    double s = 0, s2 = 0;
    for (int i = 0; i < 20000; i++) {
        double x = tr_rng_normal(&a);
        s += x; s2 += x * x;
        assert_true(tr_rng_below(&a, 10) < 10);
    }
    assert_true(fabs(s / 20000) < 0.05);
    assert_true(fabs(s2 / 20000 - 1) < 0.05);
}

static void test_buf_roundtrip(void **state)
{
    (void)state;
    tr_buf b;
    tr_buf_init(&b);
    float fs[3] = {1.5f, -0.0f, NAN};
    tr_buf_u32(&b, 0xDEADBEEF);
    tr_buf_u64(&b, 1ULL << 40);
    tr_buf_f64(&b, 0.1);
    tr_buf_str(&b, "héllo");
    tr_buf_str(&b, NULL);
    tr_buf_f32s(&b, fs, 3);
    assert_int_equal(tr_buf_ok(&b), TR_OK);
    /* little-endian on the wire */
    assert_int_equal(b.data[0], 0xEF);

    tr_cursor c;
    tr_cursor_init(&c, b.data, b.len);
    uint32_t u; uint64_t v; double d; char *s1, *s2; float *f;
    tr_get_u32(&c, &u);
    tr_get_u64(&c, &v);
    tr_get_f64(&c, &d);
    tr_get_str(&c, &s1);
    tr_get_str(&c, &s2);
    tr_get_f32s_alloc(&c, 3, &f);
    assert_int_equal(c.err, TR_OK);
    assert_int_equal(c.left, 0);
    assert_true(u == 0xDEADBEEF && v == (1ULL << 40) && d == 0.1);
    assert_string_equal(s1, "héllo");
    assert_null(s2);
    assert_true(f[0] == 1.5f && signbit(f[1]) && isnan(f[2]));
    tr_free(s1); tr_free(f);

    /* a count larger than what remains is refused before allocating */
    tr_cursor_init(&c, b.data, 8);
    float *g;
    assert_int_equal(tr_get_f32s_alloc(&c, 1000000000, &g), TR_EFORMAT);
    assert_null(g);
    /* reading past the end is TR_ETRUNC and sticky */
    tr_cursor_init(&c, b.data, 3);
    assert_int_equal(tr_get_u32(&c, &u), TR_ETRUNC);
    assert_int_equal(tr_get_u8(&c, (uint8_t *)&u), TR_ETRUNC);
    tr_buf_free(&b);
}

static void test_crc32(void **state)
{
    (void)state;
    /* the standard check value of CRC-32/ISO-HDLC */
    assert_true(tr_crc32(0, "123456789", 9) == 0xCBF43926u);
    assert_true(tr_crc32(tr_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
    assert_true(tr_crc32(0, "", 0) == 0);
    /* long and unaligned inputs take the eight-bytes-a-step path: it must
     * agree with the bit-by-bit definition, and chunking must not matter */
    static unsigned char buf[4099];
    tr_rng r;
    tr_rng_seed(&r, 9);
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)tr_rng_below(&r, 256);
    for (size_t off = 0; off < 9; off++) {
        size_t n = sizeof buf - off - tr_rng_below(&r, 40);
        uint32_t want = 0xFFFFFFFFu;
        for (size_t i = 0; i < n; i++) {
            want ^= buf[off + i];
            for (int k = 0; k < 8; k++) want = (want & 1) ? (want >> 1) ^ 0xEDB88320u : want >> 1;
        }
        want = ~want;
        assert_true(tr_crc32(0, buf + off, n) == want);
        size_t cut = tr_rng_below(&r, n);
        assert_true(tr_crc32(tr_crc32(0, buf + off, cut), buf + off + cut, n - cut) == want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_run_workers),
        cmocka_unit_test(test_alloc_fault),
        cmocka_unit_test(test_malloc_big),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_buf_roundtrip),
        cmocka_unit_test(test_crc32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Retry delays and Retry-After (src/upstream/backoff.c): the seeded
 * schedule repeats, each delay lies in [d/2, d] for d doubling from the
 * base up to the cap, jitter spreads clients apart, and Retry-After (in
 * seconds or as an HTTP date) replaces the schedule up to its cap. */
#include "testutil.h"

#include "upstream/backoff.c"

static tr_retry_policy policy(void)
{
    tr_retry_policy p;
    tr_retry_policy_default(&p);
    p.base_ms = 100;
    p.max_ms = 1000;
    p.retry_after_max_ms = 5000;
    return p;
}

static void test_schedule(void **state)
{
    (void)state;
    tr_retry_policy p = policy();
    uint64_t a = 42, b = 42, c = 7;
    long da[12], db[12];
    int differ = 0;
    for (int k = 1; k <= 12; k++) {
        da[k - 1] = tr_backoff_delay_ms(&p, k, &a);
        db[k - 1] = tr_backoff_delay_ms(&p, k, &b);
        long dc = tr_backoff_delay_ms(&p, k, &c);
        long d = 100;
        for (int i = 1; i < k && d < 1000; i++) d *= 2;
        if (d > 1000) d = 1000;
        assert_true(da[k - 1] >= d / 2 && da[k - 1] <= d);
        assert_true(dc >= d / 2 && dc <= d);
        differ |= dc != da[k - 1];
        assert_int_equal(da[k - 1], db[k - 1]);   /* the same seed, the same schedule */
    }
    assert_true(differ);                          /* another seed, another schedule */
    /* the jitter covers its range: over many draws both halves are hit */
    uint64_t s = 1;
    int low = 0, high = 0;
    for (int i = 0; i < 1000; i++) {
        long d = tr_backoff_delay_ms(&p, 3, &s);   /* d = 400: [200, 400] */
        assert_true(d >= 200 && d <= 400);
        low += d < 300;
        high += d >= 300;
    }
    assert_true(low > 300 && high > 300);
    /* a zero base: no wait */
    p.base_ms = 0;
    assert_int_equal(tr_backoff_delay_ms(&p, 5, &s), 0);
}

static void test_retry_after(void **state)
{
    (void)state;
    time_t now = 1445412480;   /* Wed, 21 Oct 2015 07:28:00 GMT */
    assert_int_equal(tr_retry_after_ms("120", now), 120000);
    assert_int_equal(tr_retry_after_ms(" 3 \r\n", now), 3000);
    assert_int_equal(tr_retry_after_ms("0", now), 0);
    assert_int_equal(tr_retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", now), 30000);
    assert_int_equal(tr_retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now), 0);   /* past */
    assert_int_equal(tr_retry_after_ms("1.5", now), -1);
    assert_int_equal(tr_retry_after_ms("soon", now), -1);
    assert_int_equal(tr_retry_after_ms("", now), -1);
    assert_int_equal(tr_retry_after_ms(NULL, now), -1);
    assert_int_equal(tr_retry_after_ms("Wed, 21 Foo 2015 07:28:30 GMT", now), -1);
    assert_int_equal(tr_retry_after_ms("Wed, 21 Oct 2015 07:28:30 PST", now), -1);
    assert_int_equal(tr_retry_after_ms("99999999999999999999999", now), -1);
}

static void test_wait(void **state)
{
    (void)state;
    tr_retry_policy p = policy();
    uint64_t s = 3;
    assert_int_equal(tr_retry_wait_ms(&p, 1, 2000, &s), 2000);     /* honoured */
    assert_int_equal(tr_retry_wait_ms(&p, 1, 5000, &s), 5000);     /* at the cap */
    assert_int_equal(tr_retry_wait_ms(&p, 1, 5001, &s), -1);       /* beyond: the next model */
    long d = tr_retry_wait_ms(&p, 2, -1, &s);                      /* none: the schedule */
    assert_true(d >= 100 && d <= 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

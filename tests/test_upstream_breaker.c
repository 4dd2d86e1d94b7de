/* The circuit breaker's state machine (src/upstream/breaker.c), driven on
 * the caller's clock: closed until `failures` failures in a row, open for
 * the cool-down, one probe when it ends, closed by the probe's success or
 * opened again for twice as long by its failure, up to the cap. */
#include "testutil.h"

#include "upstream/breaker.c"

static tr_breaker_params params(int failures, long cooldown, long cap)
{
    tr_breaker_params p;
    tr_breaker_params_default(&p);
    p.failures = failures;
    p.cooldown_ms = cooldown;
    p.cooldown_max_ms = cap;
    return p;
}

static int allow(tr_breaker *b, const tr_breaker_params *p, long long t, int *probe)
{
    return tr_breaker_allow(b, p, t, probe);
}

static void test_opens_after_failures_in_a_row(void **state)
{
    (void)state;
    tr_breaker_params p = params(3, 1000, 8000);
    tr_breaker b;
    assert_int_equal(tr_breaker_init(&b, &p), 0);
    int probe;
    long long t = 5000;
    assert_int_equal(tr_breaker_state(&b, t, NULL), TR_BREAKER_CLOSED);
    /* two failures, a success: the count starts again */
    for (int i = 0; i < 2; i++) {
        assert_true(allow(&b, &p, t, &probe));
        assert_false(probe);
        tr_breaker_failure(&b, &p, probe, t);
    }
    tr_breaker_success(&b, &p, 0);
    for (int i = 0; i < 2; i++) tr_breaker_failure(&b, &p, 0, t);
    assert_int_equal(tr_breaker_state(&b, t, NULL), TR_BREAKER_CLOSED);
    tr_breaker_failure(&b, &p, 0, t);
    unsigned long opens = 0;
    assert_int_equal(tr_breaker_state(&b, t, &opens), TR_BREAKER_OPEN);
    assert_int_equal(opens, 1);
    /* open: everyone skips, until the cool-down ends */
    assert_false(allow(&b, &p, t + 999, &probe));
    assert_int_equal(tr_breaker_state(&b, t + 999, NULL), TR_BREAKER_OPEN);
    assert_int_equal(tr_breaker_state(&b, t + 1000, NULL), TR_BREAKER_HALF_OPEN);
    tr_breaker_destroy(&b);
}

static void test_probe_closes_or_reopens(void **state)
{
    (void)state;
    tr_breaker_params p = params(1, 1000, 3000);
    tr_breaker b;
    tr_breaker_init(&b, &p);
    int probe = 0, other = 0;
    long long t = 0;
    tr_breaker_failure(&b, &p, 0, t);            /* opens until 1000 */
    /* the first request after the cool-down is the probe; others skip */
    assert_true(allow(&b, &p, 1000, &probe));
    assert_true(probe);
    assert_false(allow(&b, &p, 1001, &other));
    /* its failure opens again, twice as long: until 1000 + 2000 */
    tr_breaker_failure(&b, &p, probe, 1100);
    assert_false(allow(&b, &p, 3099, &other));
    assert_int_equal(tr_breaker_state(&b, 3099, NULL), TR_BREAKER_OPEN);
    assert_true(allow(&b, &p, 3100, &probe));
    assert_true(probe);
    /* again: the cool-down is capped at 3000 */
    tr_breaker_failure(&b, &p, probe, 3100);
    assert_false(allow(&b, &p, 6099, &other));
    assert_true(allow(&b, &p, 6100, &probe));
    /* a probe that ends without an outcome lets the next request probe */
    tr_breaker_abandon(&b, probe);
    assert_true(allow(&b, &p, 6101, &probe));
    assert_true(probe);
    /* its success closes the circuit and resets the cool-down */
    tr_breaker_success(&b, &p, probe);
    unsigned long opens;
    assert_int_equal(tr_breaker_state(&b, 6102, &opens), TR_BREAKER_CLOSED);
    assert_int_equal(opens, 3);
    assert_true(allow(&b, &p, 6102, &probe));
    assert_false(probe);
    tr_breaker_failure(&b, &p, 0, 7000);         /* opens for the first cool-down again */
    assert_false(allow(&b, &p, 7999, &other));
    assert_true(allow(&b, &p, 8000, &probe));
    tr_breaker_destroy(&b);
}

static void test_late_outcomes_and_off(void **state)
{
    (void)state;
    tr_breaker_params p = params(2, 500, 500);
    tr_breaker b;
    tr_breaker_init(&b, &p);
    int probe;
    tr_breaker_failure(&b, &p, 0, 0);
    tr_breaker_failure(&b, &p, 0, 0);
    assert_int_equal(tr_breaker_state(&b, 10, NULL), TR_BREAKER_OPEN);
    /* a request let through before the circuit opened fails late: no change */
    tr_breaker_failure(&b, &p, 0, 20);
    assert_true(allow(&b, &p, 500, &probe));
    assert_true(probe);
    /* ... and a late non-probe failure leaves the half-open circuit alone */
    tr_breaker_failure(&b, &p, 0, 501);
    assert_int_equal(tr_breaker_state(&b, 501, NULL), TR_BREAKER_HALF_OPEN);
    tr_breaker_destroy(&b);
    /* failures 0: never opens */
    tr_breaker_params off = params(0, 500, 500);
    tr_breaker_init(&b, &off);
    for (int i = 0; i < 100; i++) tr_breaker_failure(&b, &off, 0, i);
    assert_int_equal(tr_breaker_state(&b, 100, NULL), TR_BREAKER_CLOSED);
    assert_true(allow(&b, &off, 100, &probe));
    tr_breaker_destroy(&b);
    assert_string_equal(tr_breaker_state_name(TR_BREAKER_OPEN), "open");
    assert_string_equal(tr_breaker_state_name(TR_BREAKER_HALF_OPEN), "half_open");
    assert_string_equal(tr_breaker_state_name(TR_BREAKER_CLOSED), "closed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_after_failures_in_a_row),
        cmocka_unit_test(test_probe_closes_or_reopens),
        cmocka_unit_test(test_late_outcomes_and_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

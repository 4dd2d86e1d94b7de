/* Unit tests of the server's request-id memory for online mode
 * (src/server/online_memory.c): put/take, take forgets, expiry of the oldest
 * entry once the ring is full, re-used ids, refused ids, and concurrent use
 * from several threads with the bound holding.  The server objects live in
 * the binary, so the source is compiled into this test. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>

#include "server/online_memory.c"

static tr_online_memo memo(int task, const char *model, double q)
{
    tr_online_memo m;
    m.task_id = task;
    m.q_hat = q;
    snprintf(m.model, sizeof m.model, "%s", model);
    return m;
}

static void test_put_take(void **st)
{
    (void)st;
    tr_online_memory *mm;
    assert_int_equal(tr_online_memory_new(0, &mm), TR_EINVAL);
    assert_int_equal(tr_online_memory_new(4, &mm), TR_OK);
    tr_online_memo a = memo(7, "gpt-small", 0.25), b = memo(9, "claude-x", NAN), v;
    assert_int_equal(tr_online_memory_put(mm, "tr-1-0", &a), TR_OK);
    assert_int_equal(tr_online_memory_put(mm, "tr-1-1", &b), TR_OK);
    assert_int_equal(tr_online_memory_count(mm), 2);
    assert_int_equal(tr_online_memory_take(mm, "tr-1-9", &v), 0);
    assert_int_equal(tr_online_memory_take(mm, "tr-1-1", &v), 1);
    assert_int_equal(v.task_id, 9);
    assert_string_equal(v.model, "claude-x");
    assert_true(isnan(v.q_hat));
    /* taken means forgotten: feedback counts once */
    assert_int_equal(tr_online_memory_take(mm, "tr-1-1", &v), 0);
    assert_int_equal(tr_online_memory_take(mm, "tr-1-0", &v), 1);
    assert_int_equal(v.task_id, 7);
    assert_true(v.q_hat == 0.25);
    assert_int_equal(tr_online_memory_count(mm), 0);
    /* ids: empty or too long refused; a long one is never found */
    assert_int_equal(tr_online_memory_put(mm, "", &a), TR_EINVAL);
    char longid[100];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    assert_int_equal(tr_online_memory_put(mm, longid, &a), TR_EINVAL);
    assert_int_equal(tr_online_memory_take(mm, longid, &v), 0);
    tr_online_memory_free(mm);
    tr_online_memory_free(NULL);
}

static void test_expiry_and_reuse(void **st)
{
    (void)st;
    tr_online_memory *mm;
    assert_int_equal(tr_online_memory_new(3, &mm), TR_OK);
    char id[32];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "tr-a-%d", i);
        tr_online_memo m = memo(i, "m", 0.5);
        assert_int_equal(tr_online_memory_put(mm, id, &m), TR_OK);
        assert_true(tr_online_memory_count(mm) <= 3);
    }
    tr_online_memo v;
    /* only the 3 newest survive */
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "tr-a-%d", i);
        assert_int_equal(tr_online_memory_take(mm, id, &v), i >= 7);
        if (i >= 7) assert_int_equal(v.task_id, i);
    }
    /* a re-used id replaces its entry, not duplicates it */
    tr_online_memo m1 = memo(1, "m1", 0.1), m2 = memo(2, "m2", 0.2);
    tr_online_memory_put(mm, "same", &m1);
    tr_online_memory_put(mm, "same", &m2);
    assert_int_equal(tr_online_memory_count(mm), 1);
    assert_int_equal(tr_online_memory_take(mm, "same", &v), 1);
    assert_string_equal(v.model, "m2");
    assert_int_equal(tr_online_memory_take(mm, "same", &v), 0);
    /* taking from the middle of the ring, then wrapping over freed slots */
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "tr-b-%d", i);
        tr_online_memo m = memo(100 + i, "m", 0.5);
        tr_online_memory_put(mm, id, &m);
    }
    assert_int_equal(tr_online_memory_take(mm, "tr-b-1", &v), 1);
    tr_online_memo m = memo(200, "m", 0.5);
    tr_online_memory_put(mm, "tr-c-0", &m);   /* overwrites the oldest slot (tr-b-0's) */
    assert_int_equal(tr_online_memory_take(mm, "tr-b-0", &v), 0);
    assert_int_equal(tr_online_memory_take(mm, "tr-b-2", &v), 1);
    assert_int_equal(tr_online_memory_take(mm, "tr-c-0", &v), 1);
    assert_int_equal(v.task_id, 200);
    assert_int_equal(tr_online_memory_count(mm), 0);
    tr_online_memory_free(mm);
}

typedef struct { tr_online_memory *mm; int t; int found; } worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    char id[32];
    tr_online_memo v;
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "tr-%d-%d", w->t, i);
        tr_online_memo m = memo(w->t, "m", i);
        tr_online_memory_put(w->mm, id, &m);
        if (tr_online_memory_take(w->mm, id, &v) && v.task_id == w->t && v.q_hat == i) w->found++;
        snprintf(id, sizeof id, "tr-%d-%d", w->t, i);
        tr_online_memory_put(w->mm, id, &m);   /* left behind: fills and wraps the ring */
    }
    return NULL;
}

static void test_threads(void **st)
{
    (void)st;
    tr_online_memory *mm;
    assert_int_equal(tr_online_memory_new(64, &mm), TR_OK);
    pthread_t th[4];
    worker_arg w[4];
    for (int t = 0; t < 4; t++) {
        w[t] = (worker_arg){mm, t, 0};
        pthread_create(&th[t], NULL, worker, &w[t]);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    /* another thread's put may expire an id before its take: most, not all, are found */
    int found = 0;
    for (int t = 0; t < 4; t++) found += w[t].found;
    assert_true(found > 4 * 2000 / 2);
    /* slots freed by a take are reused only when the ring comes round to
     * them, so the table holds at most its capacity, here about half */
    size_t count = tr_online_memory_count(mm);
    assert_true(count > 0 && count <= 64);
    /* the hash index agrees with the ring: every held id is findable */
    size_t held = 0;
    tr_online_memo v;
    char id[32];
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 2000; i++) {
            snprintf(id, sizeof id, "tr-%d-%d", t, i);
            held += (size_t)tr_online_memory_take(mm, id, &v);
        }
    assert_int_equal(held, count);
    assert_int_equal(tr_online_memory_count(mm), 0);
    tr_online_memory_free(mm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_take),
        cmocka_unit_test(test_expiry_and_reuse),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

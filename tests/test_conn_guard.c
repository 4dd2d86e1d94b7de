/* The connection guard (src/server/conn_guard.c) on socket pairs: limits
 * per address and in all close the oldest idle connection (one that never
 * completed a request first) for a new one, busy connections are never
 * closed, a new connection is refused with a 503 only when every older one
 * is busy, deadlines close idle connections, and unstarted descriptors are
 * forgotten.  A closed connection is seen from the peer's side: its end
 * reads EOF. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "server/conn_guard.c"

typedef struct pair { int ours, peer; } pair;

static pair make_pair(void)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    return (pair){sv[0], sv[1]};
}

static struct sockaddr_in addr(const char *ip)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/* Admit p from ip and start it, as the listener and a daemon would. */
static tr_conn *open_conn(tr_conn_guard *g, pair p, const char *ip, int *admitted)
{
    struct sockaddr_in a = addr(ip);
    *admitted = tr_conn_guard_admit(g, p.ours, (struct sockaddr *)&a, sizeof a);
    return *admitted ? tr_conn_guard_started(g, p.ours) : NULL;
}

/* 1 when our end was shut down (the peer reads EOF), 0 when still open. */
static int was_closed(pair p)
{
    char b;
    ssize_t n = recv(p.peer, &b, 1, MSG_DONTWAIT | MSG_PEEK);
    if (n == 0) return 1;
    assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    return 0;
}

static void test_per_client_eviction(void **state)
{
    (void)state;
    tr_conn_guard *g;
    char err[128];
    assert_int_equal(tr_conn_guard_new(100, 3, 3600, &g, err, sizeof err), TR_OK);
    pair p[6];
    tr_conn *c[6];
    int ok;
    for (int i = 0; i < 3; i++) {
        p[i] = make_pair();
        c[i] = open_conn(g, p[i], "10.0.0.1", &ok);
        assert_true(ok && c[i]);
    }
    /* c0 completed a request and idles; c1 never did; c2 is busy */
    tr_conn_busy(c[0]);
    tr_conn_idle(c[0]);
    tr_conn_busy(c[2]);
    p[3] = make_pair();
    c[3] = open_conn(g, p[3], "10.0.0.1", &ok);
    assert_true(ok);
    assert_true(was_closed(p[1]));              /* never completed one: first to go */
    assert_false(was_closed(p[0]) || was_closed(p[2]));
    tr_conn_guard_closed(g, c[1]);
    /* another address is not limited by this one's connections */
    p[4] = make_pair();
    c[4] = open_conn(g, p[4], "10.0.0.2", &ok);
    assert_true(ok);
    /* next: c3, newer but it never completed a request, before the idle
     * keep-alive c0; never the busy c2 */
    p[5] = make_pair();
    c[5] = open_conn(g, p[5], "10.0.0.1", &ok);
    assert_true(ok);
    assert_true(was_closed(p[3]));
    assert_false(was_closed(p[0]) || was_closed(p[2]) || was_closed(p[4]));
    tr_conn_guard_closed(g, c[3]);
    /* and then the idle keep-alive one */
    tr_conn_idle(c[5]);
    tr_conn_busy(c[5]);
    pair q = make_pair();
    tr_conn *cq = open_conn(g, q, "10.0.0.1", &ok);
    assert_true(ok);
    assert_true(was_closed(p[0]));
    assert_false(was_closed(p[2]) || was_closed(p[5]));
    tr_conn_stats st;
    tr_conn_guard_stats(g, &st);
    assert_int_equal(st.evicted_client, 3);
    assert_int_equal(st.open, 4);   /* c2, c4, c5, cq */
    tr_conn_guard_closed(g, c[0]);
    tr_conn_guard_closed(g, c[2]);
    tr_conn_guard_closed(g, c[4]);
    tr_conn_guard_closed(g, c[5]);
    tr_conn_guard_closed(g, cq);
    close(q.ours); close(q.peer);
    tr_conn_guard_stats(g, &st);
    assert_int_equal(st.open, 0);
    for (int i = 0; i < 6; i++) { close(p[i].ours); close(p[i].peer); }
    tr_conn_guard_free(g);
}

static void test_total_limit_and_refusal(void **state)
{
    (void)state;
    tr_conn_guard *g;
    char err[128];
    assert_int_equal(tr_conn_guard_new(2, 100, 3600, &g, err, sizeof err), TR_OK);
    pair p[3];
    tr_conn *c[3];
    int ok;
    p[0] = make_pair();
    c[0] = open_conn(g, p[0], "10.0.0.1", &ok);
    p[1] = make_pair();
    c[1] = open_conn(g, p[1], "10.0.0.2", &ok);
    tr_conn_busy(c[0]);
    p[2] = make_pair();
    c[2] = open_conn(g, p[2], "10.0.0.3", &ok);
    assert_true(ok);
    assert_true(was_closed(p[1]));             /* the idle one, whatever its address */
    assert_false(was_closed(p[0]));
    tr_conn_guard_closed(g, c[1]);
    close(p[1].ours); close(p[1].peer);
    /* all busy and past the headroom: refused with a 503 */
    tr_conn_busy(c[2]);
    tr_conn *more[HEADROOM];
    pair mp[HEADROOM];
    for (int i = 0; i < HEADROOM; i++) {     /* admitted over the limit: nothing can be closed yet */
        mp[i] = make_pair();
        more[i] = open_conn(g, mp[i], "10.0.1.1", &ok);
        assert_true(ok);
        tr_conn_busy(more[i]);
    }
    pair last = make_pair();
    struct sockaddr_in a = addr("10.0.2.2");
    assert_int_equal(tr_conn_guard_admit(g, last.ours, (struct sockaddr *)&a, sizeof a), 0);
    char buf[64] = "";
    assert_true(recv(last.peer, buf, sizeof buf - 1, 0) > 12);
    assert_int_equal(strncmp(buf, "HTTP/1.1 503", 12), 0);
    close(last.peer);                          /* ours was closed by the guard */
    tr_conn_stats st;
    tr_conn_guard_stats(g, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.evicted_total, 1);
    for (int i = 0; i < HEADROOM; i++) {
        tr_conn_guard_closed(g, more[i]);
        close(mp[i].ours); close(mp[i].peer);
    }
    tr_conn_guard_closed(g, c[0]);
    tr_conn_guard_closed(g, c[2]);
    close(p[0].ours); close(p[0].peer); close(p[2].ours); close(p[2].peer);
    tr_conn_guard_free(g);
}

static void test_deadline_and_pending(void **state)
{
    (void)state;
    tr_conn_guard *g;
    char err[128];
    /* a zero deadline: every idle connection is past it at the next sweep */
    assert_int_equal(tr_conn_guard_new(100, 100, 0, &g, err, sizeof err), TR_OK);
    int ok;
    pair idle = make_pair(), busy = make_pair(), pending = make_pair();
    tr_conn *ci = open_conn(g, idle, "10.0.0.1", &ok);
    tr_conn *cb = open_conn(g, busy, "10.0.0.1", &ok);
    tr_conn_busy(cb);
    struct sockaddr_in a = addr("10.0.0.1");
    assert_int_equal(tr_conn_guard_admit(g, pending.ours, (struct sockaddr *)&a, sizeof a), 1);  /* not started */
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    tr_conn_guard_sweep(g);
    assert_true(was_closed(idle));
    assert_false(was_closed(busy));
    assert_false(was_closed(pending));         /* not the daemon's yet: never shut down here */
    tr_conn_stats st;
    tr_conn_guard_stats(g, &st);
    assert_int_equal(st.closed_deadline, 1);
    assert_int_equal(st.open, 2);
    /* the daemon did not take it: forgotten; a start report for an unknown
     * descriptor gives no record */
    tr_conn_guard_forget(g, pending.ours);
    assert_null(tr_conn_guard_started(g, pending.ours));
    tr_conn_guard_stats(g, &st);
    assert_int_equal(st.open, 1);
    tr_conn_idle(NULL);
    tr_conn_busy(NULL);
    tr_conn_guard_closed(g, NULL);
    tr_conn_guard_closed(g, ci);
    tr_conn_guard_closed(g, cb);
    close(idle.ours); close(idle.peer); close(busy.ours); close(busy.peer); close(pending.ours); close(pending.peer);
    tr_conn_guard_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_client_eviction),
        cmocka_unit_test(test_total_limit_and_refusal),
        cmocka_unit_test(test_deadline_and_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

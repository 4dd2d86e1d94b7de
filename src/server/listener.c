/* Accept on a thread of its own: connections arrive far less often than
 * requests, and a plain poll loop, woken four times a second to sweep the
 * request deadlines, needs no event machinery. */
#define _GNU_SOURCE   /* accept4: a new socket non-blocking and close-on-exec in one call */
#include "server/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

int tr_listener_open(tr_listener *l, const struct sockaddr *sa, socklen_t salen, int *port, char *err,
                     size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (l->fd < 0) return tr_errorf(err, errlen, TR_EIO, "cannot open a socket: %s", strerror(errno));
    int one = 1;
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6) setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(l->fd, sa, salen) || listen(l->fd, 1024)) {
        int e = errno;
        close(l->fd);
        l->fd = -1;
        return tr_errorf(err, errlen, TR_EIO, "cannot listen: %s", strerror(e));
    }
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    *port = 0;
    if (!getsockname(l->fd, (struct sockaddr *)&got, &gl))
        *port = got.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&got)->sin_port);
    return TR_OK;
}

#define SWEEP_S 0.25

static void *accept_loop(void *arg)
{
    tr_listener *l = arg;
    double last_sweep = tr_now();
    while (!atomic_load(&l->stop)) {
        struct pollfd p = {l->fd, POLLIN, 0};
        int ready = poll(&p, 1, (int)(SWEEP_S * 1000));
        if (tr_now() - last_sweep >= SWEEP_S) {
            tr_conn_guard_sweep(l->guard);
            last_sweep = tr_now();
        }
        if (ready <= 0 || atomic_load(&l->stop)) continue;
        /* a burst: take what is queued, then look at the clock again */
        for (int k = 0; k < 64; k++) {
            struct sockaddr_storage peer;
            socklen_t pl = sizeof peer;
            int c = accept4(l->fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                    /* Out of descriptors: the backlog waits while connections close. */
                    struct timespec ts = {0, 10 * 1000 * 1000};
                    nanosleep(&ts, NULL);
                }
                break;   /* EAGAIN: drained; EINVAL after shutdown(): stopping */
            }
            if (!tr_conn_guard_admit(l->guard, c, (const struct sockaddr *)&peer, pl)) continue;
            int one = 1;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            int best = 0;
            for (int i = 1; i < l->n; i++)
                if (atomic_load_explicit(&l->open[i], memory_order_relaxed) <
                    atomic_load_explicit(&l->open[best], memory_order_relaxed))
                    best = i;
            atomic_fetch_add_explicit(&l->open[best], 1, memory_order_relaxed);
            /* On failure libmicrohttpd closes the socket; the client sees a reset.
             * Should it also report the connection closed (a failure after it
             * started it, out of memory), the gauge ends one low: it only
             * steers this choice. */
            if (MHD_add_connection(l->d[best], c, (const struct sockaddr *)&peer, pl) != MHD_YES) {
                atomic_fetch_sub_explicit(&l->open[best], 1, memory_order_relaxed);
                tr_conn_guard_forget(l->guard, c);
            }
        }
    }
    return NULL;
}

int tr_listener_start(tr_listener *l, struct MHD_Daemon **d, atomic_int *open, int n, tr_conn_guard *guard,
                      char *err, size_t errlen)
{
    l->d = d;
    l->open = open;
    l->n = n;
    l->guard = guard;
    atomic_store(&l->stop, 0);
    int rc = pthread_create(&l->thread, NULL, accept_loop, l);
    if (rc) return tr_errorf(err, errlen, TR_EIO, "cannot start the accepting thread: %s", strerror(rc));
    l->running = 1;
    return TR_OK;
}

void tr_listener_stop(tr_listener *l)
{
    atomic_store(&l->stop, 1);
    if (l->fd >= 0) shutdown(l->fd, SHUT_RDWR);   /* wakes the poll */
    if (l->running) pthread_join(l->thread, NULL);
    l->running = 0;
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
}

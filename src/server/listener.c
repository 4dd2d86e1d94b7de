/* Blocking accept on a thread of its own: connections arrive far less often
 * than requests, and a plain loop needs no event machinery. */
#define _GNU_SOURCE   /* accept4: a new socket non-blocking and close-on-exec in one call */
#include "server/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

int tr_listener_open(tr_listener *l, const struct sockaddr *sa, socklen_t salen, int *port, char *err,
                     size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

static void *accept_loop(void *arg)
{
    tr_listener *l = arg;
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        int c = accept4(l->fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: the backlog waits while connections close. */
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
                continue;
            }
            return NULL;   /* EINVAL after shutdown(): stopping */
        }
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
        if (MHD_add_connection(l->d[best], c, (const struct sockaddr *)&peer, pl) != MHD_YES)
            atomic_fetch_sub_explicit(&l->open[best], 1, memory_order_relaxed);
    }
}

int tr_listener_start(tr_listener *l, struct MHD_Daemon **d, atomic_int *open, int n, char *err, size_t errlen)
{
    l->d = d;
    l->open = open;
    l->n = n;
    int rc = pthread_create(&l->thread, NULL, accept_loop, l);
    if (rc) return tr_errorf(err, errlen, TR_EIO, "cannot start the accepting thread: %s", strerror(rc));
    l->running = 1;
    return TR_OK;
}

void tr_listener_stop(tr_listener *l)
{
    if (l->fd >= 0) shutdown(l->fd, SHUT_RDWR);   /* wakes the blocked accept with EINVAL */
    if (l->running) pthread_join(l->thread, NULL);
    l->running = 0;
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
}

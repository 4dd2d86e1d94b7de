/* The listening socket and the thread that accepts on it, handing each new
 * connection to the libmicrohttpd daemon (one per worker thread) that holds
 * the fewest.
 *
 * Why not libmicrohttpd's own thread pool: its threads accept for
 * themselves, up to ten connections in a row, so a client's burst of
 * keep-alive connections lands on one thread.  Measured with wrk's 8
 * connections against 2 workers, one run in four routed everything on one
 * core (16k decisions/s against 23k), and most runs were lopsided.  A
 * connection stays on its thread for life, so the split at accept time is
 * the split of the work.
 *
 * Each accepted connection is first admitted by the connection guard
 * (conn_guard.h: limits per client and in all, which may close an older
 * idle connection or refuse this one), and the same thread sweeps the
 * guard's request deadlines a few times a second. */
#ifndef TR_SERVER_LISTENER_H
#define TR_SERVER_LISTENER_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#include "server/conn_guard.h"

typedef struct tr_listener {
    int fd;                     /* -1: closed */
    int n;                      /* daemons */
    struct MHD_Daemon **d;      /* borrowed */
    atomic_int *open;           /* per daemon: connections handed over and not yet closed (borrowed) */
    tr_conn_guard *guard;       /* borrowed */
    pthread_t thread;
    int running;
    atomic_int stop;
} tr_listener;

/* Bind and listen on sa; *port gets the bound port.  TR_OK or an error with
 * message. */
int tr_listener_open(tr_listener *l, const struct sockaddr *sa, socklen_t salen, int *port, char *err,
                     size_t errlen);
/* Start accepting for the n daemons d (started with MHD_USE_NO_LISTEN_SOCKET
 * and MHD_USE_ITC).  open[i] is daemon i's gauge: the acceptor adds one per
 * connection handed over, the daemon's close notification takes it off. */
int tr_listener_start(tr_listener *l, struct MHD_Daemon **d, atomic_int *open, int n, tr_conn_guard *guard,
                      char *err, size_t errlen);
/* Stop accepting (a connection not yet accepted is refused), join the
 * thread, close the socket.  Safe on a listener never opened or started. */
void tr_listener_stop(tr_listener *l);

#endif

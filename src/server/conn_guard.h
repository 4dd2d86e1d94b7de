/* Every client connection from accept to close, so that no client, and no
 * crowd of idle connections, can hold the server's connections hostage.
 *
 * Three rules:
 *  - a deadline: each request's headers and body must arrive within
 *    request_timeout seconds of the connection opening or of its previous
 *    answer; one byte every few seconds no longer keeps a connection alive
 *    (libmicrohttpd's own time-out restarts at every byte, and it calls the
 *    handler only once the headers are complete, so this is kept here);
 *  - at most max_per_client connections per client address, and max_conns
 *    in all;
 *  - when a new connection would pass a limit, the oldest connection that
 *    has no request in progress is closed for it, preferring one that never
 *    completed a request (a slow or idle client) over an idle keep-alive
 *    one; only when every connection is busy is the new one refused (503).
 *    So GET /healthz and /metrics get through a flood of idle connections.
 *
 * The listener thread admits connections and sweeps deadlines; the
 * libmicrohttpd threads report a connection's start and close and each
 * request's progress.  Closing means shutdown() on the socket: its daemon
 * then sees it end and closes it, reporting the close here.  A connection's
 * record is freed only by that report, which libmicrohttpd makes before it
 * closes the descriptor, so a shutdown never hits a reused descriptor. */
#ifndef TR_SERVER_CONN_GUARD_H
#define TR_SERVER_CONN_GUARD_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct tr_conn_guard tr_conn_guard;
typedef struct tr_conn tr_conn;

typedef struct tr_conn_stats {
    unsigned long open;              /* connections counted against the limits */
    unsigned long closed_deadline;   /* closed: a request did not arrive in time */
    unsigned long evicted_client;    /* closed to admit one from the same address */
    unsigned long evicted_total;     /* closed to admit one past max_conns */
    unsigned long refused;           /* refused: every connection was busy */
} tr_conn_stats;

/* *out owned by the caller: tr_conn_guard_free (after the listener and the
 * daemons stopped). */
int tr_conn_guard_new(unsigned max_conns, unsigned max_per_client, double request_timeout_s, tr_conn_guard **out,
                      char *err, size_t errlen);
void tr_conn_guard_free(tr_conn_guard *g);

/* Listener: fd was just accepted from peer.  1: admitted (after closing
 * another connection if a limit required it); 0: refused, fd answered 503
 * and closed. */
int tr_conn_guard_admit(tr_conn_guard *g, int fd, const struct sockaddr *peer, socklen_t peerlen);
/* Listener: fd was admitted but libmicrohttpd did not take it (and closed it). */
void tr_conn_guard_forget(tr_conn_guard *g, int fd);
/* Listener, a few times a second: close the connections past their
 * deadline; forget admitted descriptors libmicrohttpd never started. */
void tr_conn_guard_sweep(tr_conn_guard *g);

/* Daemon threads: the connection on fd started (its record, to keep as the
 * socket context; NULL if unknown), and closed. */
tr_conn *tr_conn_guard_started(tr_conn_guard *g, int fd);
void tr_conn_guard_closed(tr_conn_guard *g, tr_conn *c);
/* A request arrived whole (from now on it is the server's to answer: no
 * deadline), and it was answered (the next one's deadline starts).  Lock
 * free; c may be NULL. */
void tr_conn_busy(tr_conn *c);
void tr_conn_idle(tr_conn *c);

void tr_conn_guard_stats(tr_conn_guard *g, tr_conn_stats *st);

#endif

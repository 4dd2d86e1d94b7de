/* Reloads run on a thread of their own, never on a request thread.
 *
 * POST /admin/reload and SIGHUP queue a reload and get a ticket; the reload
 * thread loads the file (no lock held: a file that blocks on open or read,
 * a FIFO or a stalled network disk, blocks only this thread), publishes it
 * and records the result under the ticket.  The HTTP handler waits for its
 * ticket a bounded time (serve --reload-wait) and answers with the result,
 * or says the reload is pending; GET /healthz shows the reload's state
 * meanwhile.  At most one reload waits to start: a request for the same
 * file joins it, one for another file is refused until it has started.
 *
 * Shutdown never waits on a stuck reload past its deadline: the thread is
 * then abandoned (left blocked) and the process exits around it. */
#ifndef TR_SERVER_RELOAD_WORKER_H
#define TR_SERVER_RELOAD_WORKER_H

#include <cJSON.h>
#include <stddef.h>

struct tr_server;
typedef struct tr_reloader tr_reloader;

typedef struct tr_reload_result {
    unsigned long ticket;
    int rc;                    /* TR_OK, or the failure's status code */
    unsigned long generation;  /* the router published, when rc == TR_OK */
    double seconds;            /* load + publish */
    char message[512];         /* why it failed, or "" */
} tr_reload_result;

/* Start the reload thread of srv (its router slot initialised).  *out owned
 * by the caller: tr_reloader_stop. */
int tr_reloader_start(struct tr_server *srv, tr_reloader **out, char *err, size_t errlen);

/* Queue a reload of path (NULL: the served router's file), asked for by
 * origin ("SIGHUP", "POST /admin/reload"; a static string).  Returns its
 * ticket (> 0); or 0 with msg set when refused: another file's reload waits
 * to start, or the server is stopping.  Never blocks on I/O. */
unsigned long tr_reloader_submit(tr_reloader *r, const char *path, const char *origin, char *msg, size_t msglen);

/* Wait up to wait_s seconds for ticket.  1: done, *res filled; 0: still
 * pending (at once when the reload running has already taken longer than
 * wait_s: it is stuck); -1: the server is stopping. */
int tr_reloader_wait(tr_reloader *r, unsigned long ticket, double wait_s, tr_reload_result *res);

/* {"state": "idle" | "loading", "loading": {path, origin, ticket, seconds}
 * when loading, "queued": {path, ticket} when one waits, "last": {ticket,
 * ok, generation | error, origin, seconds} once one finished}.  NULL when
 * out of memory. */
cJSON *tr_reloader_json(tr_reloader *r);

/* Refuse new reloads and wake every waiter (they answer that the server is
 * stopping); returns at once.  NULL: no-op. */
void tr_reloader_shutdown_begin(tr_reloader *r);

/* tr_reloader_shutdown_begin, then give a running reload until
 * deadline (tr_now() clock) to finish.  0: the thread ended and r is freed.
 * 1: a reload is still blocked; the thread is abandoned with r, and what it
 * may still touch (the server, its router slot, metrics and upstreams) must
 * stay allocated until the process exits. */
int tr_reloader_stop(tr_reloader *r, double deadline);

#endif

/* Connection limits, eviction and request deadlines (see conn_guard.h).
 *
 * One mutex guards the records: a list in admission order (the oldest
 * first, where eviction looks), a hash by descriptor (for the start
 * report) and a hash of per-address counts.  The per-request marks are
 * atomics on the connection's own record, so requests take no lock. */
#include "server/conn_guard.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

#define FD_BUCKETS 4096
#define ADDR_BUCKETS 1024
#define PENDING_MAX_S 10.0
#define HEADROOM 64          /* connections admitted past a limit while none can be closed */   /* admitted but never started: libmicrohttpd dropped it */

typedef struct addr_count {
    unsigned char key[16];       /* IPv6, or IPv4 mapped into it */
    unsigned n;                  /* connections counted */
    struct addr_count *next;
} addr_count;

struct tr_conn {
    int fd;
    int started, evicted;        /* under the lock */
    double t_admit;
    addr_count *addr;            /* NULL once evicted */
    atomic_int busy;             /* a whole request is being answered */
    atomic_llong since_us;       /* when its deadline started */
    atomic_uint served;          /* requests answered */
    tr_conn *prev, *next;        /* admission order */
    tr_conn *hnext;              /* descriptor hash chain */
};

struct tr_conn_guard {
    pthread_mutex_t mu;
    unsigned max_conns, max_per_client;
    long long timeout_us;
    tr_conn *head, *tail;
    tr_conn *by_fd[FD_BUCKETS];
    addr_count *by_addr[ADDR_BUCKETS];
    unsigned long open;
    atomic_ulong closed_deadline, evicted_client, evicted_total, refused;
};

static long long now_us(void)
{
    return (long long)(tr_now() * 1e6);
}

int tr_conn_guard_new(unsigned max_conns, unsigned max_per_client, double request_timeout_s, tr_conn_guard **out,
                      char *err, size_t errlen)
{
    tr_conn_guard *g = tr_calloc(1, sizeof *g);
    if (!g) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    if (pthread_mutex_init(&g->mu, NULL)) {
        tr_free(g);
        return tr_errorf(err, errlen, TR_ENOMEM, "cannot create the connection table's lock");
    }
    g->max_conns = max_conns ? max_conns : 1;
    g->max_per_client = max_per_client ? max_per_client : 1;
    g->timeout_us = (long long)(request_timeout_s * 1e6);
    *out = g;
    return TR_OK;
}

void tr_conn_guard_free(tr_conn_guard *g)
{
    if (!g) return;
    for (tr_conn *c = g->head, *n; c; c = n) {
        n = c->next;
        tr_free(c);
    }
    for (size_t b = 0; b < ADDR_BUCKETS; b++)
        for (addr_count *a = g->by_addr[b], *n; a; a = n) {
            n = a->next;
            tr_free(a);
        }
    pthread_mutex_destroy(&g->mu);
    tr_free(g);
}

static void addr_key(const struct sockaddr *sa, socklen_t len, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
}

static size_t addr_bucket(const unsigned char key[16])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < 16; i++) { h ^= key[i]; h *= 0x100000001b3ULL; }
    return (size_t)(h % ADDR_BUCKETS);
}

/* Caller holds the lock.  The count of key, created at 0; NULL: no memory. */
static addr_count *addr_find(tr_conn_guard *g, const unsigned char key[16], int create)
{
    size_t b = addr_bucket(key);
    for (addr_count *a = g->by_addr[b]; a; a = a->next)
        if (!memcmp(a->key, key, 16)) return a;
    if (!create) return NULL;
    addr_count *a = tr_calloc(1, sizeof *a);
    if (!a) return NULL;
    memcpy(a->key, key, 16);
    a->next = g->by_addr[b];
    g->by_addr[b] = a;
    return a;
}

static void addr_drop(tr_conn_guard *g, addr_count *a)
{
    addr_count **pp = &g->by_addr[addr_bucket(a->key)];
    while (*pp != a) pp = &(*pp)->next;
    *pp = a->next;
    tr_free(a);
}

/* Caller holds the lock: c stops counting against the limits. */
static void uncount(tr_conn_guard *g, tr_conn *c)
{
    addr_count *a = c->addr;
    c->addr = NULL;
    g->open--;
    if (a && !--a->n) addr_drop(g, a);
}

static void unlink_conn(tr_conn_guard *g, tr_conn *c)
{
    if (c->prev) c->prev->next = c->next; else g->head = c->next;
    if (c->next) c->next->prev = c->prev; else g->tail = c->prev;
    tr_conn **pp = &g->by_fd[(unsigned)c->fd % FD_BUCKETS];
    while (*pp && *pp != c) pp = &(*pp)->hnext;
    if (*pp) *pp = c->hnext;
}

/* Caller holds the lock: forget c altogether. */
static void drop(tr_conn_guard *g, tr_conn *c)
{
    if (!c->evicted) uncount(g, c);
    unlink_conn(g, c);
    tr_free(c);
}

/* Caller holds the lock: close c (its daemon sees the socket end and
 * reports the close, which frees the record). */
static void evict(tr_conn_guard *g, tr_conn *c)
{
    uncount(g, c);
    c->evicted = 1;
    shutdown(c->fd, SHUT_RDWR);
}

/* Caller holds the lock.  The oldest connection (of address a, or of any
 * when a is NULL) with no request in progress, preferring one that never
 * completed a request; NULL if all are busy. */
static tr_conn *victim(tr_conn_guard *g, const addr_count *a)
{
    tr_conn *idle = NULL;
    for (tr_conn *c = g->head; c; c = c->next) {
        if (!c->started || c->evicted || (a && c->addr != a) || atomic_load(&c->busy)) continue;
        if (!atomic_load(&c->served)) return c;
        if (!idle) idle = c;
    }
    return idle;
}

static void refuse(int fd)
{
    static const char body[] =
        "{\"error\":{\"message\":\"too many connections\",\"type\":\"server_error\",\"code\":\"unavailable\"}}";
    char msg[256];
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n%s", sizeof body - 1, body);
    /* best effort: the socket is fresh, its buffer empty */
    if (n > 0) (void)!send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    close(fd);
}

int tr_conn_guard_admit(tr_conn_guard *g, int fd, const struct sockaddr *peer, socklen_t peerlen)
{
    unsigned char key[16];
    addr_key(peer, peerlen, key);
    tr_conn *c = tr_calloc(1, sizeof *c);
    pthread_mutex_lock(&g->mu);
    addr_count *a = c ? addr_find(g, key, 1) : NULL;
    if (!a) goto refused;
    /* a record left with this descriptor was never started: libmicrohttpd
     * closed it without a report, and the descriptor is new again */
    size_t b = (unsigned)fd % FD_BUCKETS;
    for (tr_conn *o = g->by_fd[b]; o; o = o->hnext)
        if (o->fd == fd && !o->started) {
            drop(g, o);
            break;
        }
    /* Past a limit, close an older idle connection for this one.  When none
     * is idle yet (a burst: the daemons have not started the newest), admit
     * it over the limit, up to the headroom, rather than refuse it; the next
     * admissions evict again.  Connections not started are never closed
     * here: their descriptor is not yet the daemon's to report. */
    if (a->n >= g->max_per_client) {
        tr_conn *v = victim(g, a);
        if (v) {
            evict(g, v);
            atomic_fetch_add_explicit(&g->evicted_client, 1, memory_order_relaxed);
        } else if (a->n >= g->max_per_client + HEADROOM) {
            goto refused;
        }
    }
    if (g->open >= g->max_conns) {
        tr_conn *v = victim(g, NULL);
        if (v) {
            evict(g, v);
            atomic_fetch_add_explicit(&g->evicted_total, 1, memory_order_relaxed);
        } else if (g->open >= g->max_conns + HEADROOM) {
            goto refused;
        }
    }
    c->fd = fd;
    c->t_admit = tr_now();
    c->addr = a;
    a->n++;
    g->open++;
    atomic_init(&c->busy, 0);
    atomic_init(&c->since_us, now_us());
    atomic_init(&c->served, 0);
    c->prev = g->tail;
    if (g->tail) g->tail->next = c; else g->head = c;
    g->tail = c;
    c->hnext = g->by_fd[b];
    g->by_fd[b] = c;
    pthread_mutex_unlock(&g->mu);
    return 1;
refused:
    if (a && !a->n) addr_drop(g, a);   /* created for this one */
    pthread_mutex_unlock(&g->mu);
    tr_free(c);
    atomic_fetch_add_explicit(&g->refused, 1, memory_order_relaxed);
    refuse(fd);
    return 0;
}

static tr_conn *find_pending(tr_conn_guard *g, int fd)
{
    for (tr_conn *c = g->by_fd[(unsigned)fd % FD_BUCKETS]; c; c = c->hnext)
        if (c->fd == fd && !c->started) return c;
    return NULL;
}

void tr_conn_guard_forget(tr_conn_guard *g, int fd)
{
    pthread_mutex_lock(&g->mu);
    tr_conn *c = find_pending(g, fd);
    if (c) drop(g, c);
    pthread_mutex_unlock(&g->mu);
}

tr_conn *tr_conn_guard_started(tr_conn_guard *g, int fd)
{
    pthread_mutex_lock(&g->mu);
    tr_conn *c = find_pending(g, fd);
    if (c) {
        c->started = 1;
        atomic_store(&c->since_us, now_us());
    }
    pthread_mutex_unlock(&g->mu);
    return c;
}

void tr_conn_guard_closed(tr_conn_guard *g, tr_conn *c)
{
    if (!c) return;
    pthread_mutex_lock(&g->mu);
    drop(g, c);
    pthread_mutex_unlock(&g->mu);
}

void tr_conn_busy(tr_conn *c)
{
    if (c) atomic_store_explicit(&c->busy, 1, memory_order_relaxed);
}

void tr_conn_idle(tr_conn *c)
{
    if (!c) return;
    atomic_store_explicit(&c->since_us, now_us(), memory_order_relaxed);
    atomic_fetch_add_explicit(&c->served, 1, memory_order_relaxed);
    atomic_store_explicit(&c->busy, 0, memory_order_release);
}

void tr_conn_guard_sweep(tr_conn_guard *g)
{
    long long now = now_us();
    double t = tr_now();
    pthread_mutex_lock(&g->mu);
    for (tr_conn *c = g->head, *n; c; c = n) {
        n = c->next;
        if (!c->started) {
            if (t - c->t_admit > PENDING_MAX_S) drop(g, c);
            continue;
        }
        if (c->evicted || atomic_load_explicit(&c->busy, memory_order_acquire)) continue;
        if (now - atomic_load_explicit(&c->since_us, memory_order_relaxed) > g->timeout_us) {
            evict(g, c);
            atomic_fetch_add_explicit(&g->closed_deadline, 1, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&g->mu);
}

void tr_conn_guard_stats(tr_conn_guard *g, tr_conn_stats *st)
{
    pthread_mutex_lock(&g->mu);
    st->open = g->open;
    pthread_mutex_unlock(&g->mu);
    st->closed_deadline = atomic_load(&g->closed_deadline);
    st->evicted_client = atomic_load(&g->evicted_client);
    st->evicted_total = atomic_load(&g->evicted_total);
    st->refused = atomic_load(&g->refused);
}

/* MPI helpers (comm.h).  Large transfers go in pieces of at most 1 GiB:
 * MPI counts are ints. */
#include "mpi/comm.h"

#include <fcntl.h>
#include <limits.h>
#include <mpi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

#define PIECE ((size_t)1 << 30)

/* the crash message, formatted before any crash: a signal handler may
 * only write(2) */
static char crash_msg[512];
static size_t crash_len;

static void on_crash(int sig)
{
    if (crash_len) {
        ssize_t w = write(2, crash_msg, crash_len);
        (void)w;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static int where(const mpi_ctx *c, char *buf, size_t n)
{
    if (!c->end && !c->begin)
        return snprintf(buf, n, "rank %d of %d", c->rank, c->size);
    return snprintf(buf, n, "rank %d of %d (%s bytes %llu-%llu, lines %llu-%llu)", c->rank, c->size, c->path,
                    (unsigned long long)c->begin, (unsigned long long)(c->end ? c->end - 1 : 0),
                    (unsigned long long)c->line0, (unsigned long long)(c->line0 + (c->lines ? c->lines - 1 : 0)));
}

static void set_crash_msg(const mpi_ctx *c)
{
    char w[400];
    where(c, w, sizeof w);
    int k = snprintf(crash_msg, sizeof crash_msg, "taskroute-mpi %s: %s: crashed (a signal); the job is ended\n",
                     c->cmd ? c->cmd : "", w);
    crash_len = k > 0 && (size_t)k < sizeof crash_msg ? (size_t)k : 0;
}

void mpi_start(mpi_ctx *c, int *argc, char ***argv)
{
    memset(c, 0, sizeof *c);
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &c->node_ranks);
    MPI_Comm_free(&node);
    set_crash_msg(c);
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], on_crash);
}

void mpi_set_input(mpi_ctx *c, const char *path, uint64_t begin, uint64_t end, uint64_t line0, uint64_t lines)
{
    c->path = path;
    c->begin = begin;
    c->end = end;
    c->line0 = line0;
    c->lines = lines;
    set_crash_msg(c);
}

void mpi_fail(const mpi_ctx *c, const char *fmt, ...)
{
    char w[400], msg[2048];
    where(c, w, sizeof w);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "taskroute-mpi %s: %s: %s\n", c->cmd ? c->cmd : "", w, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    _exit(1);
}

void mpi_check(const mpi_ctx *c, int rc, const char *err)
{
    if (rc) mpi_fail(c, "%s", err && *err ? err : tr_strerror(rc));
}

void mpi_quiet_barrier(const mpi_ctx *c)
{
    (void)c;
    MPI_Request req;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    int done = 0;
    struct timespec ts = {0, 2000000};   /* 2 ms */
    for (;;) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done) break;
        nanosleep(&ts, NULL);
    }
}

static void oom(const mpi_ctx *c, size_t n) { mpi_fail(c, "out of memory for %zu bytes", n); }

void mpi_bcast_bytes(const mpi_ctx *c, int root, void **p, size_t *n)
{
    uint64_t len = c->rank == root ? (uint64_t)*n : 0;
    MPI_Bcast(&len, 1, MPI_UINT64_T, root, MPI_COMM_WORLD);
    unsigned char *buf = c->rank == root ? *p : tr_malloc(len ? (size_t)len : 1);
    if (!buf) oom(c, (size_t)len);
    for (size_t at = 0; at < len; at += PIECE) {
        size_t k = len - at < PIECE ? (size_t)(len - at) : PIECE;
        MPI_Bcast(buf + at, (int)k, MPI_BYTE, root, MPI_COMM_WORLD);
    }
    if (c->rank != root) { *p = buf; *n = (size_t)len; }
}

/* Gatherv in rounds: each round moves at most PIECE bytes per rank. */
static void gather_rounds(const mpi_ctx *c, int root, int all, const void *p, size_t n, void **out, size_t *out_n,
                          size_t *counts)
{
    int R = c->size;
    uint64_t mine = n, *cnt = tr_mallocarray((size_t)R, sizeof *cnt);
    int *rc = tr_mallocarray((size_t)R, sizeof *rc), *disp = tr_mallocarray((size_t)R, sizeof *disp);
    size_t *off = tr_mallocarray((size_t)R, sizeof *off);
    if (!cnt || !rc || !disp || !off) oom(c, (size_t)R * 32);
    MPI_Allgather(&mine, 1, MPI_UINT64_T, cnt, 1, MPI_UINT64_T, MPI_COMM_WORLD);
    uint64_t total = 0, most = 0;
    for (int r = 0; r < R; r++) { off[r] = (size_t)total; total += cnt[r]; if (cnt[r] > most) most = cnt[r]; }
    int recv = all || c->rank == root;
    unsigned char *buf = NULL;
    if (recv && !(buf = tr_malloc(total ? (size_t)total : 1))) oom(c, (size_t)total);
    unsigned char *tmp = NULL;
    size_t piece = PIECE / (size_t)R ? PIECE / (size_t)R : 1;
    if (recv && !(tmp = tr_malloc(piece * (size_t)R))) oom(c, piece * (size_t)R);
    for (uint64_t at = 0; at < most; at += piece) {
        int d = 0;
        for (int r = 0; r < R; r++) {
            uint64_t left = cnt[r] > at ? cnt[r] - at : 0;
            rc[r] = (int)(left < piece ? left : piece);
            disp[r] = d;
            d += rc[r];
        }
        const unsigned char *src = (const unsigned char *)p + (n > at ? at : n);
        if (all) MPI_Allgatherv(src, rc[c->rank], MPI_BYTE, tmp, rc, disp, MPI_BYTE, MPI_COMM_WORLD);
        else MPI_Gatherv(src, rc[c->rank], MPI_BYTE, tmp, rc, disp, MPI_BYTE, root, MPI_COMM_WORLD);
        if (recv)
            for (int r = 0; r < R; r++) memcpy(buf + off[r] + at, tmp + disp[r], (size_t)rc[r]);
    }
    if (counts && recv)
        for (int r = 0; r < R; r++) counts[r] = (size_t)cnt[r];
    tr_free(tmp); tr_free(cnt); tr_free(rc); tr_free(disp); tr_free(off);
    *out = buf;
    *out_n = recv ? (size_t)total : 0;
}

void mpi_gather_bytes(const mpi_ctx *c, int root, const void *p, size_t n, void **out, size_t *out_n,
                      size_t *counts)
{
    gather_rounds(c, root, 0, p, n, out, out_n, counts);
}

void mpi_allgather_bytes(const mpi_ctx *c, const void *p, size_t n, void **out, size_t *out_n)
{
    gather_rounds(c, 0, 1, p, n, out, out_n, NULL);
}

void mpi_scatter_bytes(const mpi_ctx *c, int root, const void *p, const size_t *counts, void **out, size_t *out_n)
{
    uint64_t mine = 0;
    int R = c->size;
    uint64_t *cnt = tr_mallocarray((size_t)R, sizeof *cnt);
    if (!cnt) oom(c, (size_t)R * 8);
    if (c->rank == root)
        for (int r = 0; r < R; r++) cnt[r] = counts[r];
    MPI_Scatter(cnt, 1, MPI_UINT64_T, &mine, 1, MPI_UINT64_T, root, MPI_COMM_WORLD);
    unsigned char *buf = tr_malloc(mine ? (size_t)mine : 1);
    if (!buf) oom(c, (size_t)mine);
    /* point to point: root sends each rank its piece, in 1 GiB messages */
    if (c->rank == root) {
        size_t off = 0;
        for (int r = 0; r < R; r++) {
            const unsigned char *src = (const unsigned char *)p + off;
            if (r == root) memcpy(buf, src, (size_t)cnt[r]);
            else
                for (uint64_t at = 0; at < cnt[r]; at += PIECE) {
                    size_t k = cnt[r] - at < PIECE ? (size_t)(cnt[r] - at) : PIECE;
                    MPI_Send(src + at, (int)k, MPI_BYTE, r, 7, MPI_COMM_WORLD);
                }
            off += (size_t)cnt[r];
        }
    } else {
        for (uint64_t at = 0; at < mine; at += PIECE) {
            size_t k = mine - at < PIECE ? (size_t)(mine - at) : PIECE;
            MPI_Recv(buf + at, (int)k, MPI_BYTE, root, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
    }
    tr_free(cnt);
    *out = buf;
    *out_n = (size_t)mine;
}

static void allreduce(const mpi_ctx *c, void *v, size_t n, MPI_Datatype t, size_t each, MPI_Op op)
{
    (void)c;
    size_t step = PIECE / each;
    for (size_t at = 0; at < n; at += step) {
        size_t k = n - at < step ? n - at : step;
        MPI_Allreduce(MPI_IN_PLACE, (unsigned char *)v + at * each, (int)k, t, op, MPI_COMM_WORLD);
    }
}

void mpi_sum_doubles(const mpi_ctx *c, double *v, size_t n) { allreduce(c, v, n, MPI_DOUBLE, sizeof *v, MPI_SUM); }
void mpi_min_doubles(const mpi_ctx *c, double *v, size_t n) { allreduce(c, v, n, MPI_DOUBLE, sizeof *v, MPI_MIN); }
void mpi_sum_u64(const mpi_ctx *c, uint64_t *v, size_t n) { allreduce(c, v, n, MPI_UINT64_T, sizeof *v, MPI_SUM); }

uint64_t mpi_exscan_u64(const mpi_ctx *c, uint64_t x)
{
    uint64_t before = 0;
    MPI_Exscan(&x, &before, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    return c->rank == 0 ? 0 : before;
}

int mpi_mute_stderr(void)
{
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    if (null >= 0) { dup2(null, 2); close(null); }
    return saved;
}

void mpi_unmute_stderr(int saved)
{
    fflush(stderr);
    if (saved >= 0) { dup2(saved, 2); close(saved); }
}

uint64_t mpi_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return 0;
    return (uint64_t)ru.ru_maxrss * 1024;
}

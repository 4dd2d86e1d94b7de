/* What every step of taskroute-mpi needs from MPI: who this rank is and
 * which part of the input it holds (for messages), failing the whole job
 * from one rank, waiting without spinning, and moving bytes and sums
 * between ranks in pieces MPI's int counts can carry. */
#ifndef TR_MPI_COMM_H
#define TR_MPI_COMM_H

#include <stddef.h>
#include <stdint.h>

typedef struct mpi_ctx {
    int rank, size;        /* MPI_COMM_WORLD */
    int node_ranks;        /* ranks on this rank's machine */
    const char *cmd;       /* "train", "discover", "embed" */
    const char *path;      /* the input */
    uint64_t begin, end;   /* this rank's byte range (end 0 before it is known) */
    uint64_t line0, lines; /* its first line and line count */
    int quiet;
} mpi_ctx;

/* MPI_Init and the context; installs the signal handler that names the
 * rank and its input when it crashes. */
void mpi_start(mpi_ctx *c, int *argc, char ***argv);
/* Set the rank's input (after the byte ranges): messages and the crash
 * handler name it from now on. */
void mpi_set_input(mpi_ctx *c, const char *path, uint64_t begin, uint64_t end, uint64_t line0, uint64_t lines);

/* Print "taskroute-mpi CMD: rank r of R (PATH bytes b-e, lines l0-l1): msg"
 * on stderr and abort the whole job (MPI_Abort): every rank ends, the
 * output is never written.  Does not return. */
void mpi_fail(const mpi_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* mpi_fail with err when rc is not TR_OK. */
void mpi_check(const mpi_ctx *c, int rc, const char *err);

/* A barrier that sleeps between tests instead of spinning: the ranks
 * waiting for rank 0's long serial step leave it the cores. */
void mpi_quiet_barrier(const mpi_ctx *c);

/* Broadcast a byte string of any length from root: *p and *n are the data on
 * root and receive a tr_malloc'ed copy elsewhere (owned by the caller). */
void mpi_bcast_bytes(const mpi_ctx *c, int root, void **p, size_t *n);
/* Gather every rank's bytes on root, rank after rank: *out (tr_malloc'ed,
 * owned by the caller; NULL elsewhere), *out_n the total, and counts[r]
 * each rank's length when counts is not NULL (size entries, root only). */
void mpi_gather_bytes(const mpi_ctx *c, int root, const void *p, size_t n, void **out, size_t *out_n,
                      size_t *counts);
/* The same to every rank. */
void mpi_allgather_bytes(const mpi_ctx *c, const void *p, size_t n, void **out, size_t *out_n);
/* Send part of root's bytes to each rank: counts (size entries, root) say
 * how many, rank after rank; *out gets this rank's (tr_malloc'ed). */
void mpi_scatter_bytes(const mpi_ctx *c, int root, const void *p, const size_t *counts, void **out, size_t *out_n);

/* In place over every rank: sums and minima of doubles, sums of u64. */
void mpi_sum_doubles(const mpi_ctx *c, double *v, size_t n);
void mpi_min_doubles(const mpi_ctx *c, double *v, size_t n);
void mpi_sum_u64(const mpi_ctx *c, uint64_t *v, size_t n);
/* The sum of x over the ranks before this one (0 on rank 0). */
uint64_t mpi_exscan_u64(const mpi_ctx *c, uint64_t x);

/* Run stmt with stderr sent to /dev/null: the ranks other than 0 parse
 * the same arguments, and only rank 0 should explain a mistake. */
#define MPI_SILENTLY(stmt) do { int fd_ = mpi_mute_stderr(); stmt; mpi_unmute_stderr(fd_); } while (0)
int mpi_mute_stderr(void);
void mpi_unmute_stderr(int saved);

/* Peak resident memory of this process in bytes. */
uint64_t mpi_peak_rss(void);

#endif

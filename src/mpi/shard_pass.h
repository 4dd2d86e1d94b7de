/* One pass over this rank's training records (docs/distributed.md, steps
 * 8-9): embed each chunk, assign its tasks (the sample's own records keep
 * the task rank 0 found), and accumulate the task table's and the heads'
 * sums and the kNN store's candidates; then reduce them over every rank.
 * No embedding outlives its chunk. */
#ifndef TR_MPI_SHARD_PASS_H
#define TR_MPI_SHARD_PASS_H

#include <stddef.h>
#include <stdint.h>

#include "dist/task_sums.h"
#include "heads/heads_sums.h"
#include "mpi/bcast_parts.h"
#include "mpi/comm.h"
#include "mpi/sample_gather.h"
#include "mpi/shard.h"
#include "taskroute.h"

typedef struct mpi_pass {
    tr_task_sums ts;         /* reduced: every rank holds the totals */
    tr_heads_sums hs;        /* reduced (n_sum 0 without heads) */
    /* rank 0: the kNN store's rows, in file order */
    size_t kn;
    float *kX, *kS, *kP;     /* kn x d, kn x M, kn x T */
    int32_t *ky;
    double seconds;          /* the pass and the reductions */
} mpi_pass;

/* labels: this rank's sample records' tasks (s->n_mine, from
 * mpi_sample_scatter).  parts: the sample router's parts (heads NULL for
 * discovery).  knn_cap: the store's rows per task.  threads: embedding
 * workers. */
void mpi_shard_pass(mpi_ctx *c, const mpi_shard *sh, const mpi_sample *s, const int32_t *labels,
                    const mpi_parts *parts, uint64_t seed, size_t knn_cap, int threads, mpi_pass *out);
void mpi_pass_free(mpi_pass *p);

#endif

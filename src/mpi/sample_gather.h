/* The sample (docs/distributed.md, steps 4-5): the --sample training
 * records with the smallest sample keys over every rank, gathered on rank
 * 0 in file order; and the tasks rank 0 finds for them, sent back to the
 * ranks that hold them. */
#ifndef TR_MPI_SAMPLE_GATHER_H
#define TR_MPI_SAMPLE_GATHER_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"
#include "mpi/comm.h"
#include "mpi/shard.h"

typedef struct mpi_sample {
    size_t *rows, nrows;     /* this rank's training records (indices into its dataset) */
    unsigned char *in;       /* nrows: 1 when in the sample */
    size_t n_mine;           /* of them in the sample */
    uint64_t n_total;        /* the sample's size over every rank */
    uint64_t n_train;        /* training records over every rank */
    tr_dataset *ds;          /* rank 0: the sample's records in file order; NULL elsewhere */
    size_t *counts;          /* rank 0: sample records per rank */
} mpi_sample;

/* Choose and gather the sample of at most cap training records (every
 * record with use_all) for seed.  Fails the job on error. */
void mpi_sample_take(mpi_ctx *c, const mpi_shard *sh, int use_all, uint64_t seed, size_t cap, mpi_sample *out);
/* Rank 0's labels for the sample (n_total, in its order) to the ranks
 * holding those records: returns this rank's n_mine labels, in the order
 * of its training records (tr_malloc'ed, owned by the caller). */
int32_t *mpi_sample_scatter(mpi_ctx *c, const mpi_sample *s, const int32_t *labels);
void mpi_sample_free(mpi_sample *s);

#endif

/* This rank's part of the input, read and made consistent with every
 * other rank's (docs/distributed.md, steps 1-3): the byte range, the
 * records with the file's line numbers, the common model list, and the
 * checks the single process makes over the whole file (duplicate ids, a
 * model labelled in one record only), then the counts over every rank. */
#ifndef TR_MPI_SHARD_H
#define TR_MPI_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"
#include "mpi/comm.h"

typedef struct mpi_shard {
    tr_dataset *ds;          /* this rank's records; the common model list */
    tr_load_stats total;     /* over every rank */
    size_t emb_dim;          /* caller-supplied embeddings' dimension (0: none), the same on every rank */
    double seconds;
} mpi_shard;

/* Read path's part for this rank; on any error the job fails (mpi_fail)
 * naming the rank, its bytes and the record. */
void mpi_shard_load(mpi_ctx *c, const char *path, int skip_bad, mpi_shard *out);
void mpi_shard_free(mpi_shard *s);

/* Indices of this rank's training records (every record with use_all),
 * as tr_dataset_train_indices; *idx owned by the caller. */
size_t mpi_shard_train_rows(const mpi_ctx *c, const mpi_shard *s, int use_all, size_t **idx);

#endif

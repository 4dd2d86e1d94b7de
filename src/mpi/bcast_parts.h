/* The parts of the router rank 0 trained on the sample, copied to every
 * rank (docs/distributed.md, step 7) through their router-file sections,
 * so every rank, rank 0 included, embeds and assigns with the same bytes. */
#ifndef TR_MPI_BCAST_PARTS_H
#define TR_MPI_BCAST_PARTS_H

#include "classify/classifier.h"
#include "cluster/tasks.h"
#include "embed/embedder.h"
#include "heads/heads.h"
#include "mpi/comm.h"

typedef struct mpi_parts {
    tr_embedder *emb;      /* NULL: caller-supplied embeddings */
    tr_softmax *clf;       /* NULL when not sent */
    tr_tasks tasks;        /* n_tasks 0 when not sent */
    tr_heads *heads;       /* NULL when not sent */
} mpi_parts;

/* Send rank 0's parts (any may be NULL; on other ranks the arguments are
 * ignored) to every rank: out gets loaded copies on every rank.  Fails the
 * job on error. */
void mpi_parts_bcast(mpi_ctx *c, const tr_embedder *emb, const tr_softmax *clf, const tr_tasks *tasks,
                     const tr_heads *heads, mpi_parts *out);
void mpi_parts_free(mpi_parts *p);

#endif

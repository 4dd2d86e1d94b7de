/* `taskroute-mpi embed`: `taskroute embed`'s arguments and .f32 output;
 * the embedder is fitted on rank 0 on a sample, and each rank writes the
 * vectors of its records at their place in the file (MPI-IO). */
#ifndef TR_MPI_RUN_EMBED_H
#define TR_MPI_RUN_EMBED_H

#include "mpi/comm.h"

int mpi_run_embed(mpi_ctx *c, int argc, char **argv);

#endif

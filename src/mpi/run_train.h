/* `taskroute-mpi train` and `taskroute-mpi discover`: the single-process
 * commands' arguments, plus --sample; the same router file. */
#ifndef TR_MPI_RUN_TRAIN_H
#define TR_MPI_RUN_TRAIN_H

#include "mpi/comm.h"

/* heads 1: train; 0: discover.  Returns the exit code (TR_EXIT_*). */
int mpi_run_train(mpi_ctx *c, int argc, char **argv, int heads);

/* The sample size's default and bounds (--sample). */
#define MPI_SAMPLE_DEFAULT 100000
#define MPI_SAMPLE_MIN 100
#define MPI_SAMPLE_MAX 100000000

#endif

/* taskroute-mpi: `train`, `discover` and `embed` under Open MPI
 * (docs/distributed.md).  Run it with mpirun; one rank alone works too. */
#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "mpi/comm.h"
#include "mpi/run_embed.h"
#include "mpi/run_train.h"
#include "taskroute.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mpirun -np N taskroute-mpi <command> [options] [args]\n\n"
               "commands (the arguments of the single-process `taskroute` commands):\n"
               "  train     train the full router\n"
               "  discover  discover task types; write a stage-1 router and a report\n"
               "  embed     embed prompts into unit vectors (.f32 file)\n\n"
               "`taskroute-mpi <command> --help` says what differs under MPI.\n");
}

int main(int argc, char **argv)
{
    mpi_ctx c;
    mpi_start(&c, &argc, &argv);
    /* as the CLI: OpenBLAS on one thread, our workers carry the parallelism,
     * so the sums are the same bits whatever the thread count */
    openblas_set_num_threads(1);
    int ex = TR_EXIT_USAGE;
    const char *cmd = argc > 1 ? argv[1] : "";
    c.cmd = cmd;
    if (!strcmp(cmd, "train")) ex = mpi_run_train(&c, argc - 1, argv + 1, 1);
    else if (!strcmp(cmd, "discover")) ex = mpi_run_train(&c, argc - 1, argv + 1, 0);
    else if (!strcmp(cmd, "embed")) ex = mpi_run_embed(&c, argc - 1, argv + 1);
    else if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (c.rank == 0) usage(stdout);
        ex = TR_EXIT_OK;
    } else if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        if (c.rank == 0) printf("taskroute-mpi %s (library %s)\n", TR_VERSION_STRING, tr_version());
        ex = TR_EXIT_OK;
    } else if (c.rank == 0) {
        if (argc > 1) fprintf(stderr, "taskroute-mpi: unknown command '%s'\n\n", cmd);
        usage(stderr);
    }
    MPI_Finalize();
    return ex;
}

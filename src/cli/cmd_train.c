/* PLACEHOLDER: replaced by the issue that builds `taskroute train`. */
#include <stdio.h>

#include "cli.h"

int cmd_train(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "taskroute train: not built yet\n");
    return TR_EXIT_ERR;
}

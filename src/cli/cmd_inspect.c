/* PLACEHOLDER: replaced by the issue that builds `taskroute inspect`. */
#include <stdio.h>

#include "cli.h"

int cmd_inspect(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "taskroute inspect: not built yet\n");
    return TR_EXIT_ERR;
}

/* PLACEHOLDER: replaced by the issue that builds `taskroute route`. */
#include <stdio.h>

#include "cli.h"

int cmd_route(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "taskroute route: not built yet\n");
    return TR_EXIT_ERR;
}

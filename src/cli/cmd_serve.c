/* PLACEHOLDER: replaced by the issue that builds `taskroute serve`. */
#include <stdio.h>

#include "cli.h"

int cmd_serve(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "taskroute serve: not built yet\n");
    return TR_EXIT_ERR;
}

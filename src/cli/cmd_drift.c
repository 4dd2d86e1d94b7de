/* PLACEHOLDER: replaced by the issue that builds `taskroute drift`. */
#include <stdio.h>

#include "cli.h"

int cmd_drift(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "taskroute drift: not built yet\n");
    return TR_EXIT_ERR;
}

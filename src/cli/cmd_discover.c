/* PLACEHOLDER: replaced by the issue that builds `taskroute discover`. */
#include <stdio.h>

#include "cli.h"

int cmd_discover(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "taskroute discover: not built yet\n");
    return TR_EXIT_ERR;
}

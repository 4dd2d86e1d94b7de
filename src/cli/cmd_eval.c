/* PLACEHOLDER: replaced by the issue that builds `taskroute eval`. */
#include <stdio.h>

#include "cli.h"

int cmd_eval(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "taskroute eval: not built yet\n");
    return TR_EXIT_ERR;
}

/* PLACEHOLDER: replaced by the issue that builds `taskroute embed`. */
#include <stdio.h>

#include "cli.h"

int cmd_embed(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "taskroute embed: not built yet\n");
    return TR_EXIT_ERR;
}

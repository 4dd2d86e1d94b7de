/* PLACEHOLDER: replaced by the issue that builds `taskroute synth`. */
#include <stdio.h>

#include "cli.h"

int cmd_synth(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "taskroute synth: not built yet\n");
    return TR_EXIT_ERR;
}

/* cmd_listen.c — placeholder until its issue lands: says so and fails. */
#include "cli.h"
#include <stdio.h>
int cmd_listen(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "zeroskip listen: not built yet\n");
    return EXIT_FAIL;
}

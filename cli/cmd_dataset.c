/* cmd_dataset.c — placeholder until its issue lands: says so and fails. */
#include "cli.h"
#include <stdio.h>
int cmd_dataset(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "zeroskip dataset: not built yet\n");
    return EXIT_FAIL;
}

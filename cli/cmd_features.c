/* cmd_features.c — placeholder until its issue lands: says so and fails. */
#include "cli.h"
#include <stdio.h>
int cmd_features(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "zeroskip features: not built yet\n");
    return EXIT_FAIL;
}

/* cmd_convert.c — `zeroskip convert IN OUT`: load a model (any form the
 * loader accepts, e.g. an old dense weight + mask file) and write it in the
 * current format (sparse layers packed: kept values + indices). */
#include "cli.h"
#include <stdio.h>
#include <string.h>

static const char *USAGE = "zeroskip convert IN.safetensors OUT.safetensors";

int cmd_convert(int argc, char **argv) {
    const char *files[2] = {NULL, NULL};
    int nf = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\nLoad a model file (every form zeroskip reads, including old files with\n"
                   "dense weights + masks) and write it in the current format: sparse layers\n"
                   "as kept values + indices (docs/ARCHITECTURE.md). Predictions are unchanged.\n"
                   "OUT is written atomically; IN may equal OUT.\n", USAGE);
            return EXIT_OK;
        }
        if (argv[i][0] == '-' && argv[i][1]) return cli_usage("convert", USAGE, "unknown option '%s'", argv[i]);
        if (nf == 2) return cli_usage("convert", USAGE, "give exactly IN and OUT");
        files[nf++] = argv[i];
    }
    if (nf != 2) return cli_usage("convert", USAGE, "give exactly IN and OUT");
    zs_net *net = NULL;
    zs_status st = zs_net_load(&net, files[0]);
    if (st) return cli_fail_file("convert", files[0], st);
    st = zs_net_save(net, files[1]);
    zs_net_free(net);
    if (st) return cli_fail_file("convert", files[1], st);
    return EXIT_OK;
}

/* main.c — `zeroskip SUBCOMMAND ...`: dispatch and top-level help. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

static const struct { const char *name; int (*fn)(int, char **); const char *what; } cmds[] = {
    {"info", cmd_info, "describe a model (layers, sparsity, k, sizes); --kernels lists kernels"},
    {"train", cmd_train, "train a preset or JSON architecture on a data file"},
    {"eval", cmd_eval, "accuracy, per-class accuracy and confusion matrix of a model"},
    {"features", cmd_features, "log-mel features of an audio file"},
    {"listen", cmd_listen, "recognise words in audio files or a stream"},
    {"dataset", cmd_dataset, "build speech feature data sets"},
    {"serve", cmd_serve, "listen and learn: line requests on stdin or a Unix socket"},
    {"enroll", cmd_enroll, "add a word to a model from a few clips"},
    {"continual", cmd_continual, "forgetting over a sequence of tasks (permuted/split images)"},
    {"bench", cmd_bench, "words/s of sparse vs dense (and peers)"},
    {"convert", cmd_convert, "rewrite a model file in the current format (packed sparse layers)"},
    {"hw-compile", cmd_hw_compile, "memory images of the hw/ FPGA core for a model (docs/FPGA.md)"},
};

static void usage(FILE *f) {
    fprintf(f, "zeroskip %s — sparse-sparse neural networks\n\nusage: zeroskip COMMAND [options]\n\n", zs_version());
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].what);
    fprintf(f, "  %-11s %s\n\n`zeroskip COMMAND --help` explains each command.\n", "version", "print the version");
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return EXIT_USAGE; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("zeroskip %s (cpu isa %s, active %s)\n", zs_version(),
               zs_isa_name(zs_isa_cpu()), zs_isa_name(zs_isa_active()));
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "zeroskip: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}

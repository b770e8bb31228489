/* cmd_info.c — `zeroskip info`: describe a model or preset; list kernels. */
#include "cli.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *USAGE = "zeroskip info (MODEL | --preset NAME) [--int8-weights] | zeroskip info --kernels";

int cmd_info(int argc, char **argv) {
    const char *model = NULL, *preset = NULL, *v;
    int kernels = 0, i8 = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\nLayers, shapes, weight sparsity, k of each k-WTA layer, parameters,\n"
                   "non-zeros and bytes of a model file or a preset (the file's size and the\n"
                   "bytes the loaded network holds in memory); --kernels lists the\n"
                   "kernels this CPU runs (override with ZS_ISA=scalar|avx2|avx512).\n"
                   "--int8-weights: the inference plan with its sparse-input convs in int8\n"
                   "(zs_net_set_int8_weights), as `eval`, `listen` and `bench` run it with that\n"
                   "option (built now: before its kernel choice, which with AVX-512 VNNI keeps\n"
                   "one of two int8 layouts).\n", USAGE);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--kernels")) { kernels = 1; continue; }
        if (!strcmp(argv[i], "--int8-weights")) { i8 = 1; continue; }
        if ((r = cli_opt(argc, argv, &i, "--preset", &v))) { if (r < 0) return EXIT_USAGE; preset = v; continue; }
        if (argv[i][0] == '-') return cli_usage("info", USAGE, "unknown option '%s'", argv[i]);
        if (model) return cli_usage("info", USAGE, "one model at a time");
        model = argv[i];
    }
    if (kernels) {
        printf("cpu isa: %s, active: %s\n", zs_isa_name(zs_isa_cpu()), zs_isa_name(zs_isa_active()));
        zs_kernels_describe(stdout);
        if (!model && !preset) return cli_stdout_done("info");
    }
    if (!!model + !!preset != 1) return cli_usage("info", USAGE, "give a model file or --preset");
    zs_net *net = NULL;
    zs_status st = model ? zs_net_load(&net, model) : zs_net_create_preset(&net, preset, 42);
    if (st) return model ? cli_fail_file("info", model, st) : cli_fail("info", st);
    zs_net_set_int8_weights(net, i8);
    if (model) printf("model: %s\n", model);
    zs_net_describe(net, stdout);
    printf("classes:");
    for (int i = 0; i < zs_net_num_classes(net); i++) printf(" %s", zs_net_class_name(net, i));
    printf("\n");
    struct stat sb;
    if (model && stat(model, &sb) == 0) printf("file: %lld bytes\n", (long long)sb.st_size);
    size_t model_b = 0, plan_b = 0;
    size_t scratch_b = 0;
    if (zs_net_memory(net, &plan_b, &model_b) == ZS_OK && zs_net_scratch_bytes(net, &scratch_b) == ZS_OK)
        printf("in memory: model %zu bytes (sparse layers packed: kept values + indices; other parameters, "
               "BN/duty state; allocations measured), inference plan %zu bytes; per-sample scratch %zu bytes "
               "(one per executor: per serving thread, shared by its networks)%s\n", model_b, plan_b, scratch_b,
               i8 ? "; the plan's sparse-input convs in int8, before its kernel choice" : "");
    else
        printf("in memory: %s\n", zs_last_error());
    if (kernels) {
        printf("inference plan (built now, as zs_net_infer would):\n");
        zs_status ps = zs_net_plan_describe(net, stdout);
        if (ps != ZS_OK) printf("no fast plan: %s -> reference path (im2col + GEMM)\n", zs_last_error());
    }
    zs_net_free(net);
    return cli_stdout_done("info");
}

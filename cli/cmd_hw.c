/* cmd_hw.c — `zeroskip hw-compile`: the model compiler for the hw/ core
 * (docs/FPGA.md): quantise a model (calibrated on --calib features) and
 * write the core's memory images, or print the Verilog parameters that
 * size its buffers. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

static const char *USAGE =
    "zeroskip hw-compile --model M --calib C [--lanes L] [--dense] (--out DIR | --params | --verilator-params)";

static const char *HELP =
    "Compile a model for the hw/ sparse-sparse core (docs/FPGA.md).\n"
    "  --model M           the model (gsc-sparse, gsc-supersparse, gsc-dense shapes)\n"
    "  --calib C           features (a data set file) calibrating the int8 scales\n"
    "  --lanes L (4)       parallel lanes of the core: 1, 2, 4, ..., 64\n"
    "  --dense             a dense core: every weight and activation is processed\n"
    "  --out DIR           write DIR/<memory>.hex ($readmemh) and DIR/params.vh\n"
    "  --params            print NAME=VALUE per line (buffer sizes from the model)\n"
    "  --verilator-params  print them as -GNAME=VALUE on one line\n";

int cmd_hw_compile(int argc, char **argv) {
    const char *model = NULL, *calib = NULL, *outdir = NULL, *v;
    long lanes = 4;
    int dense = 0, params = 0, vparams = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\n%s", USAGE, HELP);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--dense")) { dense = 1; continue; }
        if (!strcmp(argv[i], "--params")) { params = 1; continue; }
        if (!strcmp(argv[i], "--verilator-params")) { vparams = 1; continue; }
        if ((r = cli_opt(argc, argv, &i, "--model", &v))) { if (r < 0) return EXIT_USAGE; model = v; }
        else if ((r = cli_opt(argc, argv, &i, "--calib", &v))) { if (r < 0) return EXIT_USAGE; calib = v; }
        else if ((r = cli_opt(argc, argv, &i, "--out", &v))) { if (r < 0) return EXIT_USAGE; outdir = v; }
        else if ((r = cli_opt(argc, argv, &i, "--lanes", &v))) {
            if (r < 0 || cli_int("hw-compile", "--lanes", v, 1, 64, &lanes)) return EXIT_USAGE;
        } else return cli_usage("hw-compile", USAGE, "unknown option '%s'", argv[i]);
    }
    if (!model || !calib) return cli_usage("hw-compile", USAGE, "--model and --calib are required");
    if (!outdir && !params && !vparams) return cli_usage("hw-compile", USAGE, "give --out DIR, --params or --verilator-params");
    zs_net *net = NULL;
    zs_dataset *cd = NULL;
    zs_qnet *q = NULL;
    zs_hw_image *img = NULL;
    zs_status st;
    int rc = EXIT_OK;
    if ((st = zs_net_load(&net, model))) return cli_fail_file("hw-compile", model, st);
    if ((st = zs_dataset_load(&cd, calib))) { zs_net_free(net); return cli_fail_file("hw-compile", calib, st); }
    st = zs_qnet_create(&q, net, zs_dataset_features_const(cd), zs_dataset_size(cd));
    if (st == ZS_OK) st = zs_hw_compile(&img, q, (int)lanes, dense ? ZS_HW_DENSE : 0);
    if (st == ZS_OK && outdir) st = zs_hw_image_write(img, outdir);
    if (st != ZS_OK) rc = cli_fail("hw-compile", st);
    else {
        for (int i = 0; i < zs_hw_image_num_params(img); i++) {
            const char *name;
            int64_t val;
            zs_hw_image_param(img, i, &name, &val);
            if (params) printf("%s=%lld\n", name, (long long)val);
            if (vparams) printf("%s-G%s=%lld", i ? " " : "", name, (long long)val);
        }
        if (vparams) printf("\n");
    }
    zs_hw_image_free(img);
    zs_qnet_free(q);
    zs_dataset_free(cd);
    zs_net_free(net);
    return rc;
}

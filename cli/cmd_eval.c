/* cmd_eval.c — `zeroskip eval`: accuracy, per-class accuracy, confusion. */
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *USAGE =
    "zeroskip eval --model MODEL --data DATA [--dense | --int8-weights] [--json] [--predictions FILE.csv]";

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *preds = NULL, *v;
    int dense = 0, json = 0, i8 = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\nEvaluate a model in inference mode: accuracy, mean NLL, per-class accuracy\n"
                   "and the confusion matrix (rows: true class, columns: predicted).\n"
                   "  --dense   run the dense reference path instead of the sparse kernels\n"
                   "  --int8-weights  sparse-input convs in integers (int8 weights, u8 inputs):\n"
                   "            smaller and faster, not exact (zs_net_set_int8_weights)\n"
                   "  --json    machine-readable output\n"
                   "  --predictions FILE.csv   one line per sample: index,label,predicted,confidence\n"
                   "            (a file is replaced atomically; a device, pipe or stdout is written in place)\n", USAGE);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--dense")) { dense = 1; continue; }
        if (!strcmp(argv[i], "--int8-weights")) { i8 = 1; continue; }
        if (!strcmp(argv[i], "--json")) { json = 1; continue; }
        if ((r = cli_opt(argc, argv, &i, "--model", &v))) { if (r < 0) return EXIT_USAGE; model = v; }
        else if ((r = cli_opt(argc, argv, &i, "--data", &v))) { if (r < 0) return EXIT_USAGE; data = v; }
        else if ((r = cli_opt(argc, argv, &i, "--predictions", &v))) { if (r < 0) return EXIT_USAGE; preds = v; }
        else return cli_usage("eval", USAGE, "unknown option '%s'", argv[i]);
    }
    if (!model || !data) return cli_usage("eval", USAGE, "--model and --data are required");
    if (dense && i8) return cli_usage("eval", USAGE, "--dense and --int8-weights exclude each other");
    /* a regular file is replaced atomically; a device or FIFO is written in
     * place; the file that is stdout (/dev/stdout, any redirection) goes
     * through stdout, before the report */
    struct stat pst, ost;
    int exists = preds && stat(preds, &pst) == 0;
    int to_stdout = exists && fstat(STDOUT_FILENO, &ost) == 0 && pst.st_dev == ost.st_dev && pst.st_ino == ost.st_ino;
    int in_place = exists && !to_stdout && !S_ISREG(pst.st_mode) && !S_ISDIR(pst.st_mode);
    int orc = to_stdout ? EXIT_OK : cli_check_output("eval", USAGE, "--predictions", preds, !in_place);
    if (orc) return orc;
    zs_net *net = NULL;
    zs_dataset *ds = NULL;
    zs_status st;
    if ((st = zs_net_load(&net, model))) return cli_fail_file("eval", model, st);
    if ((st = zs_dataset_load(&ds, data))) { zs_net_free(net); return cli_fail_file("eval", data, st); }
    zs_net_set_dense(net, dense);
    zs_net_set_int8_weights(net, i8);
    zs_eval_result r;
    if ((st = zs_eval(net, ds, &r))) { zs_dataset_free(ds); zs_net_free(net); return cli_fail_file("eval", data, st); }
    int K = r.num_classes;
    if (preds) {
        /* built in memory, then written atomically (a full disk leaves the
         * old file, never an empty or partial one) */
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int ok = f != NULL;
        if (ok) {
            const int32_t *y = zs_dataset_labels_const(ds);
            fprintf(f, "index,label,predicted,confidence\n");
            for (int i = 0; i < r.n; i++) fprintf(f, "%d,%d,%d,%.6f\n", i, (int)y[i], (int)r.pred[i], (double)r.confidence[i]);
            ok = fclose(f) == 0;
        }
        zs_status ws = ZS_ENOMEM;
        if (ok && to_stdout) {
            ws = fwrite(buf, 1, len, stdout) == len ? ZS_OK : ZS_EIO;
            if (ws) fprintf(stderr, "zeroskip eval: cannot write to stdout: %s\n", strerror(errno));
        } else if (ok && in_place) {
            FILE *o = fopen(preds, "w");
            errno = 0;
            int good = o && fwrite(buf, 1, len, o) == len;
            if (o && fclose(o) != 0) good = 0;
            ws = good ? ZS_OK : ZS_EIO;
            if (!good) fprintf(stderr, "zeroskip eval: %s: write failed: %s\n", preds, errno ? strerror(errno) : "short write");
        } else if (ok) {
            const void *bufs[1] = {buf};
            size_t sizes[1] = {len};
            ws = zs_write_file_atomic(preds, bufs, sizes, 1);
            if (ws != ZS_OK) cli_fail_file("eval", preds, ws);
        } else fprintf(stderr, "zeroskip eval: out of memory\n");
        free(buf);
        if (ws != ZS_OK) {
            zs_eval_free(&r); zs_dataset_free(ds); zs_net_free(net);
            return ws == ZS_EIO ? EXIT_IO : EXIT_FAIL;
        }
    }
    if (json) {
        /* the path and the class names (from the file) are escaped */
        printf("{\"model\":");
        cli_json_string(stdout, model);
        printf(",\"n\":%d,\"correct\":%d,\"accuracy\":%.6f,\"loss\":%.6f,\"classes\":[", r.n,
               r.correct, r.n ? (double)r.correct / r.n : 0.0, r.loss);
        for (int k = 0; k < K; k++) {
            if (k) putchar(',');
            cli_json_string(stdout, zs_net_class_name(net, k));
        }
        printf("],\"confusion\":[");
        for (int a = 0; a < K; a++) {
            printf("%s[", a ? "," : "");
            for (int b = 0; b < K; b++) printf("%s%lld", b ? "," : "", (long long)r.confusion[(size_t)a * K + b]);
            printf("]");
        }
        printf("]}\n");
    } else {
        printf("model %s on %s (%s path)\n", model, data, dense ? "dense" : "sparse");
        printf("accuracy: %.2f%% (%d/%d), mean NLL %.4f\n\n", r.n ? 100.0 * r.correct / r.n : 0.0, r.correct, r.n, r.loss);
        printf("%-12s %8s %8s\n", "class", "n", "acc");
        for (int k = 0; k < K; k++) {
            long long tot = 0;
            for (int b = 0; b < K; b++) tot += r.confusion[(size_t)k * K + b];
            printf("%-12.12s %8lld %7.1f%%\n", zs_net_class_name(net, k), tot,
                   tot ? 100.0 * (double)r.confusion[(size_t)k * K + k] / (double)tot : 0.0);
        }
        printf("\nconfusion (rows true, columns predicted):\n%-8s", "");
        for (int b = 0; b < K; b++) printf(" %6.6s", zs_net_class_name(net, b));
        printf("\n");
        for (int a = 0; a < K; a++) {
            printf("%-8.8s", zs_net_class_name(net, a));
            for (int b = 0; b < K; b++) printf(" %6lld", (long long)r.confusion[(size_t)a * K + b]);
            printf("\n");
        }
    }
    zs_eval_free(&r);
    zs_dataset_free(ds);
    zs_net_free(net);
    return cli_stdout_done("eval");
}

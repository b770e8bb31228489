/* cmd_train.c — `zeroskip train`: train a preset or JSON architecture. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "zeroskip train (--preset NAME | --arch FILE.json | --init MODEL) --data TRAIN\n"
    "                [--val VAL] [--epochs N] [--batch B] [--first-batch B] [--lr LR]\n"
    "                [--momentum M] [--weight-decay WD] [--lr-gamma G] [--lr-step S]\n"
    "                [--seed S] [--out MODEL] [--csv FILE] [--checkpoint FILE] [--max-samples N]\n"
    "                [--quiet]";

static const char *HELP =
    "Train a network with SGD (PyTorch semantics) and save it as safetensors.\n"
    "  --preset NAME       gsc-sparse, gsc-dense, gsc-supersparse, gsc-sparse-fast,\n"
    "                      gsc-block, gsc-block-fast, gsc-complementary,\n"
    "                      gsc-cblock-fast, gsc-codesigned, gsc-routed,\n"
    "                      mnist-mlp, mnist-sparse-mlp\n"
    "  --arch FILE.json    an architecture description (docs/ARCHITECTURE.md)\n"
    "  --init MODEL        continue training a saved model; from a checkpoint the\n"
    "                      run resumes exactly (--epochs counts all epochs)\n"
    "  --data TRAIN        data file: zeroskip safetensors, or an IDX images file\n"
    "                      (e.g. /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz)\n"
    "  --val VAL           data reported after each epoch\n"
    "  --epochs N (1)  --batch B (16)  --first-batch B (= batch; batch of epoch 1)\n"
    "  --lr LR (0.01)  --momentum M (0)  --weight-decay WD (0.01)\n"
    "  --lr-gamma G (0.9) --lr-step S (1): lr *= G every S epochs\n"
    "  --seed S (42)       initialisation, masks, shuffling\n"
    "  --out MODEL         where to save (atomically) the trained model\n"
    "  --csv FILE          learning curve: epoch,loss,train_acc,val_acc,val_loss,lr,seconds\n"
    "  --checkpoint FILE   saved after every epoch\n"
    "  --max-samples N     use only N (shuffled) samples per epoch\n"
    "  --quiet             no progress bar\n"
    "Every output (--out, --checkpoint, --csv) is checked before training starts.\n"
    "An option given twice is refused.\n";

int cmd_train(int argc, char **argv) {
    const char *preset = NULL, *arch = NULL, *init = NULL, *data = NULL, *val = NULL, *out = NULL, *v;
    zs_train_opts o = zs_train_defaults();
    o.verbose = 1;
    for (int i = 1; i < argc; i++) {
        int r;
        long iv;
        double dv;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\n%s", USAGE, HELP);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--quiet")) { o.verbose = 0; continue; }
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
        if (OPT("--preset")) { if (r < 0) return EXIT_USAGE; preset = v; }
        else if (OPT("--arch")) { if (r < 0) return EXIT_USAGE; arch = v; }
        else if (OPT("--init")) { if (r < 0) return EXIT_USAGE; init = v; }
        else if (OPT("--data")) { if (r < 0) return EXIT_USAGE; data = v; }
        else if (OPT("--val")) { if (r < 0) return EXIT_USAGE; val = v; }
        else if (OPT("--out")) { if (r < 0) return EXIT_USAGE; out = v; }
        else if (OPT("--csv")) { if (r < 0) return EXIT_USAGE; o.csv_path = v; }
        else if (OPT("--checkpoint")) { if (r < 0) return EXIT_USAGE; o.checkpoint_path = v; }
        else if (OPT("--epochs")) { if (r < 0 || cli_int("train", "--epochs", v, 1, 100000, &iv)) return EXIT_USAGE; o.epochs = (int)iv; }
        else if (OPT("--batch")) { if (r < 0 || cli_int("train", "--batch", v, 1, 65536, &iv)) return EXIT_USAGE; o.batch = (int)iv; }
        else if (OPT("--first-batch")) { if (r < 0 || cli_int("train", "--first-batch", v, 1, 65536, &iv)) return EXIT_USAGE; o.first_epoch_batch = (int)iv; }
        else if (OPT("--max-samples")) { if (r < 0 || cli_int("train", "--max-samples", v, 1, 1 << 30, &iv)) return EXIT_USAGE; o.max_samples = (int)iv; }
        else if (OPT("--lr-step")) { if (r < 0 || cli_int("train", "--lr-step", v, 1, 100000, &iv)) return EXIT_USAGE; o.lr_step = (int)iv; }
        else if (OPT("--lr-gamma")) { if (r < 0 || cli_float("train", "--lr-gamma", v, 1e-6, 10, &dv)) return EXIT_USAGE; o.lr_gamma = (float)dv; }
        else if (OPT("--lr")) { if (r < 0 || cli_float("train", "--lr", v, 1e-9, 100, &dv)) return EXIT_USAGE; o.lr = (float)dv; }
        else if (OPT("--momentum")) { if (r < 0 || cli_float("train", "--momentum", v, 0, 0.9999, &dv)) return EXIT_USAGE; o.momentum = (float)dv; }
        else if (OPT("--weight-decay")) { if (r < 0 || cli_float("train", "--weight-decay", v, 0, 10, &dv)) return EXIT_USAGE; o.weight_decay = (float)dv; }
        else if (OPT("--seed")) { if (r < 0 || cli_u64("train", "--seed", v, &o.seed)) return EXIT_USAGE; }
        else return cli_usage("train", USAGE, "unknown option '%s'", argv[i]);
#undef OPT
    }
    if ((preset != NULL) + (arch != NULL) + (init != NULL) != 1)
        return cli_usage("train", USAGE, "give exactly one of --preset, --arch, --init");
    if (!data) return cli_usage("train", USAGE, "--data is required");
    /* every output must be writable before hours of training, not after */
    int orc;
    if ((orc = cli_check_output("train", USAGE, "--out", out, 1)) ||
        (orc = cli_check_output("train", USAGE, "--checkpoint", o.checkpoint_path, 1)) ||
        (orc = cli_check_output("train", USAGE, "--csv", o.csv_path, 0)))
        return orc;

    zs_net *net = NULL;
    zs_dataset *tr = NULL, *va = NULL;
    zs_status st;
    int rc = EXIT_OK;
    if (preset) st = zs_net_create_preset(&net, preset, o.seed);
    else if (init) st = zs_net_load(&net, init);
    else {
        char *json = NULL;
        int trc = cli_read_text("train", arch, (size_t)1 << 20, &json);
        if (trc) return trc;
        st = zs_net_create_json(&net, json, o.seed);
        free(json);
    }
    if (st) return cli_fail_file("train", preset ? "--preset" : init ? init : arch, st);
    const char *src = preset ? preset : init ? init : arch;
    {
        zs_layer_info li;
        if (zs_net_layer_info(net, zs_net_num_layers(net) - 1, &li) == ZS_OK && li.type != ZS_LOGSOFTMAX) {
            fprintf(stderr, "zeroskip train: %s: training needs a logsoftmax last layer (the last layer is '%s')\n",
                    src, li.name);
            zs_net_free(net);
            return EXIT_FAIL;
        }
    }
    if ((st = zs_dataset_load(&tr, data))) { rc = cli_fail_file("train", data, st); goto done; }
    if (val && (st = zs_dataset_load(&va, val))) { rc = cli_fail_file("train", val, st); goto done; }
    /* class names from the data when it has them and they fit */
    if (!init && zs_dataset_class_name(tr, 0) && zs_dataset_num_classes(tr) == zs_net_num_classes(net)) {
        int k = zs_dataset_num_classes(tr);
        const char **names = calloc((size_t)k, sizeof *names);
        if (names) {
            for (int i = 0; i < k; i++) names[i] = zs_dataset_class_name(tr, i);
            zs_net_set_class_names(net, k, names);
            free(names);
        }
    }
    int done_already = init && zs_net_epochs_done(net) >= o.epochs;
    if (done_already) {
        fprintf(stderr, "zeroskip train: nothing to do: %s already has %d epoch%s (--epochs %d counts all epochs)\n",
                init, zs_net_epochs_done(net), zs_net_epochs_done(net) == 1 ? "" : "s", o.epochs);
    } else if (o.verbose) {
        int c, h, w;
        zs_dataset_shape(tr, &c, &h, &w);
        fprintf(stderr, "training %s on %s: %d samples of %dx%dx%d%s%s, %d epochs, batch %d, lr %g, seed %llu\n",
                zs_net_arch_name(net), data, zs_dataset_size(tr), c, h, w, va ? ", validation " : "", va ? val : "",
                o.epochs, o.batch, (double)o.lr, (unsigned long long)o.seed);
    }
    if (!done_already && (st = zs_train(net, tr, va, &o))) {
        /* shape/label problems belong to a data file; the rest to training */
        rc = st == ZS_ESHAPE ? cli_fail_file("train", strstr(zs_last_error(), "validation") ? val : data, st)
                             : cli_fail("train", st);
        goto done;
    }
    if (out) {
        if ((st = zs_net_save(net, out))) { rc = cli_fail_file("train", out, st); goto done; }
        if (o.verbose) fprintf(stderr, "saved %s\n", out);
    }
    if (va) {
        zs_eval_result r;
        if ((st = zs_eval(net, va, &r))) { rc = cli_fail_file("train", val, st); goto done; }
        printf("validation accuracy: %.2f%% (%d/%d)\n", 100.0 * r.correct / r.n, r.correct, r.n);
        zs_eval_free(&r);
        rc = cli_stdout_done("train");
    }
done:
    zs_dataset_free(tr);
    zs_dataset_free(va);
    zs_net_free(net);
    return rc;
}

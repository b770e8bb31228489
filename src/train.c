/*
 * train.c — the training loop (shuffled mini-batches, SGD with step decay,
 * boost decay per epoch, progress, CSV curve, checkpoints) and evaluation.
 */
#include "net.h"
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <errno.h>
#include <unistd.h>

zs_train_opts zs_train_defaults(void) {
    zs_train_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.batch = 16;
    o.lr = 0.01f;
    o.momentum = 0.0f;
    o.weight_decay = 0.01f;
    o.lr_gamma = 0.9f;
    o.lr_step = 1;
    o.seed = 42;
    return o;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static zs_status check_data(const zs_net *net, const zs_dataset *d, const char *what) {
    int c, h, w;
    zs_dataset_shape(d, &c, &h, &w);
    ZS_RETURN_IF(c != net->in_c || h != net->in_h || w != net->in_w, ZS_ESHAPE,
                 "%s data has samples of %dx%dx%d, the network wants %dx%dx%d", what, c, h, w, net->in_c,
                 net->in_h, net->in_w);
    const int32_t *y = zs_dataset_labels_const(d);
    int n = zs_dataset_size(d);
    for (int i = 0; i < n; i++)
        ZS_RETURN_IF(y[i] < 0 || y[i] >= net->num_classes, ZS_ESHAPE,
                     "%s data: label %d of sample %d is outside the network's %d classes", what, (int)y[i], i,
                     net->num_classes);
    return ZS_OK;
}

static void progress(int epoch, int epochs, size_t done, size_t total, double loss, double acc, double rate) {
    int width = 30, fill = total ? (int)((double)width * done / total) : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\repoch %d/%d [%s] %3d%%  loss %.4f  acc %5.1f%%  %6.0f samples/s ", epoch, epochs, bar,
            total ? (int)(100.0 * done / total) : 100, loss, 100.0 * acc, rate);
    fflush(stderr);
}

zs_status zs_train(zs_net *net, const zs_dataset *train, const zs_dataset *val, const zs_train_opts *opts) {
    zs_status st = ZS_OK;
    ZS_RETURN_IF(!net || !train || !opts, ZS_EINVAL, "zs_train: NULL argument");
    ZS_RETURN_IF(opts->epochs < 1 || opts->batch < 1 || opts->first_epoch_batch < 0 || opts->lr_step < 1 || opts->max_samples < 0 ||
                 !(opts->lr > 0) || !(opts->lr_gamma > 0), ZS_EINVAL,
                 "zs_train: epochs, batch, lr_step, lr and lr_gamma must be positive");
    if ((st = check_data(net, train, "training"))) return st;
    if (val && (st = check_data(net, val, "validation"))) return st;
    int n = zs_dataset_size(train);
    ZS_RETURN_IF(n < 1, ZS_EINVAL, "training data is empty");
    size_t insz = (size_t)net->in_c * net->in_h * net->in_w;
    int maxb = opts->batch > opts->first_epoch_batch ? opts->batch : opts->first_epoch_batch;
    if (maxb > n) maxb = n;
    int32_t *order = malloc(sizeof(int32_t) * (size_t)n);
    float *xb = zs_alloc_aligned((size_t)maxb * insz, sizeof(float));
    int32_t *yb = malloc(sizeof(int32_t) * (size_t)maxb);
    FILE *csv = NULL;
    if (!order || !xb || !yb) ZS_FAIL(ZS_ENOMEM, "out of memory for a batch of %d", maxb);
    ZS_TRY(zs_net_reserve(net, maxb));
    if (opts->csv_path) {
        csv = fopen(opts->csv_path, "w");
        if (!csv) ZS_FAIL(ZS_EIO, "%s: cannot write: %s", opts->csv_path, strerror(errno));
        fprintf(csv, "epoch,loss,train_acc,val_acc,val_loss,lr,seconds\n");
        /* a full disk or /dev/full shows here, before any training */
        if (fflush(csv) != 0 || ferror(csv)) ZS_FAIL(ZS_EIO, "%s: write failed: %s", opts->csv_path, strerror(errno));
    }
    if (net->epochs_done == 0) zs_rng_seed(&net->train_rng, opts->seed);
    for (int i = 0; i < n; i++) order[i] = i;
    const float *X = zs_dataset_features_const(train);
    const int32_t *Y = zs_dataset_labels_const(train);
    int tty = isatty(2);
    for (int e = net->epochs_done; e < opts->epochs; e++) {
        double t0 = now_s(), last = 0;
        int B = (e == 0 && opts->first_epoch_batch > 0) ? opts->first_epoch_batch : opts->batch;
        if (B > n) B = n;
        zs_sgd sgd = {(float)(opts->lr * pow(opts->lr_gamma, e / opts->lr_step)), opts->momentum, opts->weight_decay};
        for (int i = 0; i < n; i++) order[i] = i;
        zs_rng_shuffle(&net->train_rng, order, n);
        double loss_sum = 0;
        long correct = 0, seen = 0;
        int ne = opts->max_samples > 0 && opts->max_samples < n ? opts->max_samples : n;
        for (int s = 0; s < ne; s += B) {
            int b = ne - s < B ? ne - s : B;
            for (int j = 0; j < b; j++) {
                memcpy(xb + (size_t)j * insz, X + (size_t)order[s + j] * insz, sizeof(float) * insz);
                yb[j] = Y[order[s + j]];
            }
            float l;
            int c;
            ZS_TRY(zs_net_train_step(net, xb, yb, b, &sgd, &l, &c));
            loss_sum += (double)l * b;
            correct += c;
            seen += b;
            double t = now_s();
            if (opts->verbose && (t - last > (tty ? 0.2 : 15.0) || s + b >= ne)) {
                progress(e + 1, opts->epochs, (size_t)seen, (size_t)ne, loss_sum / seen, (double)correct / seen,
                         seen / (t - t0 + 1e-9));
                last = t;
            }
        }
        zs_net_epoch_end(net);
        net->epochs_done = e + 1;
        double secs = now_s() - t0;
        double vacc = NAN, vloss = NAN;
        if (val && zs_dataset_size(val) > 0) {
            zs_eval_result r;
            ZS_TRY(zs_eval(net, val, &r));
            vacc = (double)r.correct / r.n;
            vloss = r.loss;
            zs_eval_free(&r);
        }
        if (opts->verbose)
            fprintf(stderr, "\nepoch %d/%d: loss %.4f, train acc %.2f%%, val acc %.2f%%, val loss %.4f, lr %.5g, %.1f s\n",
                    e + 1, opts->epochs, loss_sum / seen, 100.0 * correct / seen, 100.0 * vacc, vloss,
                    (double)sgd.lr, secs);
        /* checkpoint first: a curve that cannot be written must not cost the epoch */
        if (opts->checkpoint_path) ZS_TRY(zs_net_save_checkpoint(net, opts->checkpoint_path));
        if (csv) {
            fprintf(csv, "%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.3f\n", e + 1, loss_sum / seen, (double)correct / seen, vacc,
                    vloss, (double)sgd.lr, secs);
            if (fflush(csv) != 0 || ferror(csv))
                ZS_FAIL(ZS_EIO, "%s: write failed: %s", opts->csv_path, strerror(errno));
        }
    }
fail:
    if (csv && fclose(csv) != 0 && st == ZS_OK) st = ZS_ERR(ZS_EIO, "%s: write failed: %s", opts->csv_path, strerror(errno));
    free(order);
    zs_free_aligned(xb);
    free(yb);
    return st;
}

zs_status zs_eval(zs_net *net, const zs_dataset *data, zs_eval_result *res) {
    zs_status st;
    ZS_RETURN_IF(!net || !data || !res, ZS_EINVAL, "zs_eval: NULL argument");
    memset(res, 0, sizeof *res);
    if ((st = check_data(net, data, "evaluation"))) return st;
    int n = zs_dataset_size(data), K = net->num_classes;
    size_t insz = (size_t)net->in_c * net->in_h * net->in_w;
    const float *X = zs_dataset_features_const(data);
    const int32_t *Y = zs_dataset_labels_const(data);
    int B = 256;
    float *lp = malloc(sizeof(float) * (size_t)B * K);
    res->confusion = calloc((size_t)K * K, sizeof(int64_t));
    res->pred = malloc(sizeof(int32_t) * (size_t)n);
    res->confidence = malloc(sizeof(float) * (size_t)n);
    if (!lp || !res->confusion || !res->pred || !res->confidence) {
        free(lp);
        zs_eval_free(res);
        return ZS_ERR(ZS_ENOMEM, "out of memory");
    }
    double loss = 0;
    for (int s = 0; s < n; s += B) {
        int b = n - s < B ? n - s : B;
        st = zs_net_infer(net, X + (size_t)s * insz, b, lp);
        if (st) { free(lp); zs_eval_free(res); return st; }
        for (int j = 0; j < b; j++) {
            const float *p = lp + (size_t)j * K;
            int best = 0;
            for (int k = 1; k < K; k++) if (p[k] > p[best]) best = k;
            int y = Y[s + j];
            loss -= p[y];
            res->correct += best == y;
            res->pred[s + j] = best;
            res->confidence[s + j] = expf(p[best]);
            res->confusion[(size_t)y * K + best]++;
        }
    }
    free(lp);
    res->n = n;
    res->num_classes = K;
    res->loss = n ? loss / n : 0;
    return ZS_OK;
}

void zs_eval_free(zs_eval_result *res) {
    if (!res) return;
    free(res->confusion);
    free(res->pred);
    free(res->confidence);
    res->confusion = NULL;
    res->pred = NULL;
    res->confidence = NULL;
}

/*
 * int_agree.c — top-1 agreement of the integer path with the fp32 path.
 *
 * For every example of DATA (a feature data set, e.g. the held-out real
 * test clips built by scripts/real_eval.py), classify with zs_net_infer
 * (fp32) and with zs_qnet_infer (the scheme MODE: int8 or int16, calibrated
 * on CALIB); print how often the top-1 classes agree and both accuracies.
 * `pick N OUT IN` writes every (size/N)-th example of IN to OUT (a
 * calibration subset).
 *
 *   make lib && cc -O2 -Iinclude scripts/int_agree.c build/libzeroskip.a -lcjson -ldnnl \
 *       -lgomp -lsndfile -lsamplerate -lfftw3f -lz -lm -lpthread -o build/int_agree
 *   build/int_agree MODEL CALIB DATA int16
 *
 * (A measuring tool, public API only; not part of the library or the CLI.)
 */
#include "zeroskip.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int argmax(const float *v, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (v[i] > v[b]) b = i;
    return b;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "pick")) {
        zs_dataset *in, *out;
        int N = atoi(argv[2]), c, h, w;
        if (zs_dataset_load(&in, argv[4])) { fprintf(stderr, "%s\n", zs_last_error()); return 1; }
        zs_dataset_shape(in, &c, &h, &w);
        int n = zs_dataset_size(in), step = n / N > 0 ? n / N : 1, m = (n + step - 1) / step;
        if (zs_dataset_create(&out, m, c, h, w)) { fprintf(stderr, "%s\n", zs_last_error()); return 1; }
        size_t sz = (size_t)c * h * w;
        for (int i = 0; i < m; i++) {
            memcpy(zs_dataset_features(out) + i * sz, zs_dataset_features_const(in) + (size_t)i * step * sz, 4 * sz);
            zs_dataset_labels(out)[i] = zs_dataset_labels_const(in)[(size_t)i * step];
        }
        if (zs_dataset_save(out, argv[3])) { fprintf(stderr, "%s\n", zs_last_error()); return 1; }
        printf("%d of %d examples\n", m, n);
        return 0;
    }
    if (argc != 5) {
        fprintf(stderr, "usage: int_agree MODEL CALIB DATA int8|int16\n       int_agree pick N OUT IN\n");
        return 2;
    }
    zs_net *net;
    zs_dataset *cal, *data;
    zs_qnet *q;
    int mode = !strcmp(argv[4], "int16") ? ZS_QNET_INT16 : ZS_QNET_INT8;
    if (zs_net_load(&net, argv[1]) || zs_dataset_load(&cal, argv[2]) || zs_dataset_load(&data, argv[3]) ||
        zs_qnet_create_mode(&q, net, zs_dataset_features_const(cal), zs_dataset_size(cal), mode)) {
        fprintf(stderr, "int_agree: %s\n", zs_last_error());
        return 1;
    }
    int c, h, w, n = zs_dataset_size(data), K = zs_qnet_num_classes(q);
    zs_dataset_shape(data, &c, &h, &w);
    size_t sz = (size_t)c * h * w;
    const float *x = zs_dataset_features_const(data);
    const int32_t *y = zs_dataset_labels_const(data);
    float *pf = malloc(sizeof(float) * K), *pq = malloc(sizeof(float) * K);
    int agree = 0, accf = 0, accq = 0;
    for (int i = 0; i < n; i++) {
        if (zs_net_infer(net, x + i * sz, 1, pf) || zs_qnet_infer(q, x + i * sz, 1, NULL, pq)) {
            fprintf(stderr, "int_agree: %s\n", zs_last_error());
            return 1;
        }
        int a = argmax(pf, K), b = argmax(pq, K);
        agree += a == b; accf += a == y[i]; accq += b == y[i];
    }
    printf("%s: %d clips, top-1 agreement %d/%d = %.2f %%, accuracy fp32 %.2f %%, %s %.2f %%\n", argv[4], n, agree, n,
           100.0 * agree / n, 100.0 * accf / n, argv[4], 100.0 * accq / n);
    free(pf); free(pq);
    zs_qnet_free(q); zs_net_free(net); zs_dataset_free(cal); zs_dataset_free(data);
    return 0;
}

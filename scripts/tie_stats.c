/*
 * tie_stats.c — how often the k-WTA tie rule matters on real audio.
 *
 * For every audio file under DIR (*.wav, *.flac; sorted), the clip that
 * `zeroskip listen` classifies (zs_clip_fit_centred, log-mel) goes through
 * MODEL twice on the reference path in eval mode: once with the default rule
 * ("ties": "lower_index": exactly k winners, lower index first) and once
 * with every k-WTA layer switched to nupic.torch's rule ("ties": "nupic":
 * every unit >= the k-th boosted value wins). Printed: per k-WTA layer the
 * clips whose winner set differs and the largest winner count under the
 * nupic rule, then the clips whose predicted class differs and the largest
 * |difference| of the log-probabilities.
 *
 *   make lib && cc -O2 -Iinclude -Isrc -D_GNU_SOURCE scripts/tie_stats.c \
 *       build/libzeroskip.a -lcjson -ldnnl -lgomp -lsndfile -lsamplerate \
 *       -lfftw3f -lz -lm -lpthread -o build/tie_stats
 *   build/tie_stats models/gsc-sparse.safetensors ../shared/data/speech_commands_v0.02_test
 *
 * (Uses src/net.h to read the winner lists: a measuring tool, not part of
 * the library or the CLI.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "net.h"
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char **files;
static int nfiles, capfiles;

static int add_file(const char *p, const struct stat *s, int type, struct FTW *f) {
    (void)s; (void)f;
    size_t n = strlen(p);
    if (type != FTW_F || !((n > 4 && !strcmp(p + n - 4, ".wav")) || (n > 5 && !strcmp(p + n - 5, ".flac")))) return 0;
    if (nfiles == capfiles) {
        capfiles = capfiles ? 2 * capfiles : 1024;
        files = realloc(files, sizeof(char *) * (size_t)capfiles);
        if (!files) return 1;
    }
    files[nfiles++] = strdup(p);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int same_winners(const zs_layer *a, const zs_layer *b) {
    if (a->win.count[0] != b->win.count[0]) return 0;
    return !memcmp(a->win.idx, b->win.idx, sizeof(int32_t) * (size_t)a->win.count[0]);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tie_stats MODEL DIR\n");
        return 2;
    }
    zs_net *a = NULL, *b = NULL;
    if (zs_net_load(&a, argv[1]) || zs_net_load(&b, argv[1])) {
        fprintf(stderr, "tie_stats: %s\n", zs_last_error());
        return 1;
    }
    /* before the first inference reserves the winner buffers */
    for (int i = 0; i < b->n_layers; i++)
        if (b->layers[i].type == ZS_KWINNERS || b->layers[i].type == ZS_KWINNERS2D) b->layers[i].ties_nupic = 1;
    zs_net_set_dense(a, 1);
    zs_net_set_dense(b, 1);
    if (nftw(argv[2], add_file, 16, FTW_PHYS) != 0 || nfiles == 0) {
        fprintf(stderr, "tie_stats: no audio files under %s\n", argv[2]);
        return 1;
    }
    qsort(files, (size_t)nfiles, sizeof(char *), cmp_str);
    zs_frontend *fe = NULL;
    if (zs_frontend_create(&fe)) return 1;
    int L = a->n_layers, K = a->num_classes;
    int *differ = calloc((size_t)L, sizeof(int)), *maxcnt = calloc((size_t)L, sizeof(int));
    long *sumcnt = calloc((size_t)L, sizeof(long));
    float *pa = malloc(sizeof(float) * K), *pb = malloc(sizeof(float) * K);
    int n = 0, pred_differ = 0;
    double maxd = 0;
    for (int f = 0; f < nfiles; f++) {
        float *x = NULL, clip[ZS_CLIP_SAMPLES], feat[ZS_N_MELS * ZS_N_FRAMES];
        size_t len = 0;
        if (zs_audio_load(files[f], ZS_SAMPLE_RATE, 30, &x, &len)) {
            fprintf(stderr, "tie_stats: %s\n", zs_last_error());
            continue;
        }
        zs_clip_fit_centred(x, len, clip);
        free(x);
        if (zs_frontend_logmel(fe, clip, feat) || zs_net_infer(a, feat, 1, pa) || zs_net_infer(b, feat, 1, pb)) {
            fprintf(stderr, "tie_stats: %s: %s\n", files[f], zs_last_error());
            continue;
        }
        n++;
        for (int i = 0; i < L; i++) {
            const zs_layer *la = &a->layers[i], *lb = &b->layers[i];
            if (la->type != ZS_KWINNERS && la->type != ZS_KWINNERS2D) continue;
            differ[i] += !same_winners(la, lb);
            if (lb->win.count[0] > maxcnt[i]) maxcnt[i] = lb->win.count[0];
            sumcnt[i] += lb->win.count[0];
        }
        int ba = 0, bb = 0;
        for (int k = 1; k < K; k++) {
            if (pa[k] > pa[ba]) ba = k;
            if (pb[k] > pb[bb]) bb = k;
            double d = fabs((double)pa[k] - pb[k]);
            if (d > maxd) maxd = d;
        }
        if (fabs((double)pa[0] - pb[0]) > maxd) maxd = fabs((double)pa[0] - pb[0]);
        pred_differ += ba != bb;
    }
    printf("%d clips of %s through %s (eval mode, reference path)\n", n, argv[2], argv[1]);
    for (int i = 0; i < L; i++) {
        const zs_layer *la = &a->layers[i];
        if (la->type != ZS_KWINNERS && la->type != ZS_KWINNERS2D) continue;
        printf("%-16s k_inference %5d: winner set differs on %4d of %d clips (%.1f%%); nupic keeps up to %d (mean %.1f)\n",
               la->name, la->k_inference, differ[i], n, n ? 100.0 * differ[i] / n : 0.0, maxcnt[i],
               n ? (double)sumcnt[i] / n : 0.0);
    }
    printf("predicted class differs on %d of %d clips; max |log-prob difference| %.3g\n", pred_differ, n, maxd);
    zs_frontend_free(fe);
    zs_net_free(a);
    zs_net_free(b);
    return 0;
}

/* cmd_listen.c — `zeroskip listen`: words out.
 *
 * File mode: each FILE is read, resampled to 16 kHz, padded/cut to its first
 * second, turned into log-mel features and classified; one line per file.
 * A file that fails gets a message naming it on stderr and the others are
 * still processed; the exit status is then 1.
 *
 * Stream mode: one long recording (or stdin) is scanned with a 1 s window
 * every --hop seconds; posteriors are smoothed by a centred moving average
 * over --smooth windows; a window is a detection when its best word class
 * (any class but silence/unknown) has smoothed probability > --threshold;
 * consecutive detections of the same word merge into one line
 * `START_S END_S LABEL CONFIDENCE` (confidence: the highest smoothed
 * probability in the run). The last window may run past the end of the
 * audio and is zero-padded, as training clips are. */
#include "cli.h"
#include "audio_internal.h"
#include "zs_internal.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *USAGE =
    "zeroskip listen --model M [--top K] [--json] [--max-seconds S] FILE...\n"
    "       zeroskip listen --model M --stream FILE|- [--raw-rate R] [--hop S]\n"
    "                       [--smooth N] [--threshold P]";

static const char *HELP =
    "Recognise words with a trained model (see `zeroskip train`).\n"
    "File mode, one line per FILE: FILE<TAB>LABEL<TAB>CONFIDENCE (softmax\n"
    "probability). Any file libsndfile reads, any rate; the first second counts.\n"
    "  --model M           the model (safetensors written by zeroskip train)\n"
    "  --top K (1)         K best labels per file: ...<TAB>LABEL2<TAB>CONF2...\n"
    "  --json              one JSON object per line per file instead\n"
    "  --max-seconds S (30) refuse longer files (use --stream for recordings)\n"
    "Stream mode: scan a long recording or stdin ('-': WAV, or raw with --raw-rate)\n"
    "with a 1 s window; prints START_S END_S LABEL CONFIDENCE per detected word\n"
    "(silence/unknown are not words) and the real-time factor on stderr.\n"
    "  --stream FILE|-     the recording\n"
    "  --raw-rate R        stdin/FILE is headerless 16-bit LE mono PCM at R Hz\n"
    "  --hop S (0.25)      seconds between windows, in [0.01, 1]\n"
    "  --smooth N (3)      moving average over N windows (centred)\n"
    "  --threshold P (0.5) smoothed probability a word must exceed\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    zs_net *net;
    zs_frontend *fe;
    int k;               /* classes */
    float *logp;         /* (K) */
    char **names;        /* (K) labels, never NULL */
    int *is_word;        /* (K) 0 for silence/unknown */
} model;

static int word_class(const char *name) {
    char low[64];
    size_t n = 0;
    while (*name == '_') name++;
    for (; *name && n + 1 < sizeof low; name++) low[n++] = (char)tolower((unsigned char)*name);
    while (n && low[n - 1] == '_') n--;
    low[n] = '\0';
    return strcmp(low, "silence") && strcmp(low, "unknown") && strcmp(low, "background_noise");
}

static void model_free(model *m) {
    if (m->names)
        for (int i = 0; i < m->k; i++) free(m->names[i]);
    free(m->names);
    free(m->is_word);
    free(m->logp);
    zs_frontend_free(m->fe);
    zs_net_free(m->net);
}

static int model_open(model *m, const char *path) {
    memset(m, 0, sizeof *m);
    zs_status st = zs_net_load(&m->net, path);
    if (st != ZS_OK) return cli_fail("listen", st);
    int c, h, w;
    zs_net_input_shape(m->net, &c, &h, &w);
    if (c != 1 || h != ZS_N_MELS || w != ZS_N_FRAMES) {
        fprintf(stderr, "zeroskip listen: %s: the model takes inputs of (C, H, W) = (%d, %d, %d); "
                "the audio front end gives (1, %d, %d)\n", path, c, h, w, ZS_N_MELS, ZS_N_FRAMES);
        model_free(m);
        return EXIT_FAIL;
    }
    m->k = zs_net_num_classes(m->net);
    if (m->k < 1) {
        fprintf(stderr, "zeroskip listen: %s: the model has no classes\n", path);
        model_free(m);
        return EXIT_FAIL;
    }
    m->logp = calloc((size_t)m->k, sizeof(float));
    m->names = calloc((size_t)m->k, sizeof(char *));
    m->is_word = calloc((size_t)m->k, sizeof(int));
    st = m->logp && m->names && m->is_word ? zs_frontend_create(&m->fe) : ZS_ENOMEM;
    for (int i = 0; st == ZS_OK && i < m->k; i++) {
        const char *nm = zs_net_class_name(m->net, i);
        char tmp[32];
        if (!nm) { snprintf(tmp, sizeof tmp, "class%d", i); nm = tmp; }
        m->names[i] = zs_strdup(nm);
        if (!m->names[i]) st = ZS_ENOMEM;
        else m->is_word[i] = word_class(nm);
    }
    if (st != ZS_OK) {
        if (st == ZS_ENOMEM) fprintf(stderr, "zeroskip listen: out of memory\n");
        else cli_fail("listen", st);
        model_free(m);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* Features + inference of one 1 s clip; probabilities into p (K). */
static zs_status classify(model *m, const float *clip, float *p) {
    float feat[ZS_N_MELS * ZS_N_FRAMES];
    zs_status st = zs_frontend_logmel(m->fe, clip, feat);
    if (st == ZS_OK) st = zs_net_infer(m->net, feat, 1, m->logp);
    if (st != ZS_OK) return st;
    for (int i = 0; i < m->k; i++) p[i] = expf(m->logp[i]);
    return ZS_OK;
}

/* Indices of the k largest p (ties: lower index first). */
static void top_k(const float *p, int n, int k, int *idx) {
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            int used = 0;
            for (int q = 0; q < j; q++) used |= idx[q] == i;
            if (!used && (best < 0 || p[i] > p[best])) best = i;
        }
        idx[j] = best;
    }
}

static double round6(double x) { return round(x * 1e6) / 1e6; }

static void json_line(cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    if (s) { puts(s); free(s); }
    cJSON_Delete(o);
}

static int listen_files(model *m, char **files, int nfiles, int topk, int json, double max_s) {
    int failed = 0;
    float *p = calloc((size_t)m->k, sizeof(float));
    int *idx = calloc((size_t)m->k, sizeof(int));
    if (!p || !idx) { free(p); free(idx); fprintf(stderr, "zeroskip listen: out of memory\n"); return EXIT_FAIL; }
    if (topk > m->k) topk = m->k;
    for (int f = 0; f < nfiles; f++) {
        float *x = NULL, clip[ZS_CLIP_SAMPLES];
        size_t n = 0;
        zs_status st = zs_audio_load(files[f], ZS_SAMPLE_RATE, max_s, &x, &n);
        if (st == ZS_OK) {
            zs_clip_fit_centred(x, n, clip);
            free(x);
            st = classify(m, clip, p);
        }
        if (st != ZS_OK) {
            failed++;
            /* a message from deeper down may not name the file: make sure it does */
            const char *err = zs_last_error();
            int named = strstr(err, files[f]) != NULL;
            char msg[2048];
            snprintf(msg, sizeof msg, "%s%s%s%s", named ? "" : files[f], named ? "" : ": ", err,
                     st == ZS_ELIMIT ? " (use --stream for long recordings, or --max-seconds)" : "");
            fprintf(stderr, "zeroskip listen: %s\n", msg);
            if (json) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "file", files[f]);
                cJSON_AddStringToObject(o, "error", msg);
                cJSON_AddStringToObject(o, "status", zs_status_str(st));
                json_line(o);
            }
            fflush(stdout);
            continue;
        }
        top_k(p, m->k, topk, idx);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "file", files[f]);
            cJSON_AddStringToObject(o, "label", m->names[idx[0]]);
            cJSON_AddNumberToObject(o, "confidence", round6(p[idx[0]]));
            cJSON *top = cJSON_AddArrayToObject(o, "top");
            for (int j = 0; j < topk; j++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "label", m->names[idx[j]]);
                cJSON_AddNumberToObject(e, "confidence", round6(p[idx[j]]));
                cJSON_AddItemToArray(top, e);
            }
            json_line(o);
        } else {
            printf("%s", files[f]);
            for (int j = 0; j < topk; j++) printf("\t%s\t%.4f", m->names[idx[j]], (double)p[idx[j]]);
            putchar('\n');
        }
        fflush(stdout);
    }
    free(p);
    free(idx);
    if (ferror(stdout)) { fprintf(stderr, "zeroskip listen: cannot write to stdout\n"); return EXIT_IO; }
    if (failed) fprintf(stderr, "zeroskip listen: %d of %d files failed\n", failed, nfiles);
    return failed ? EXIT_FAIL : EXIT_OK;
}

/* ---- stream mode ------------------------------------------------------- */

typedef struct {
    model *m;
    int smooth, hop;                 /* windows; samples                       */
    double hop_s, threshold, total_s;
    float *hist;                     /* (smooth, K) ring of window posteriors  */
    float *avg;                      /* (K)                                    */
    long n_windows;                  /* windows classified so far              */
    long next_decide;                /* next window index to decide            */
    int seg_open, seg_label;         /* current run of detections              */
    long seg_first, seg_last;
    float seg_conf;
    long n_detections;
} scanner;

static void seg_close(scanner *s) {
    if (!s->seg_open) return;
    double start = s->seg_first * s->hop_s;
    double end = s->seg_last * s->hop_s + 1.0;
    if (end > s->total_s) end = s->total_s;
    if (end < start) end = start;
    printf("%.3f %.3f %s %.4f\n", start, end, s->m->names[s->seg_label], (double)s->seg_conf);
    fflush(stdout);
    s->seg_open = 0;
    s->n_detections++;
}

/* Decide window k with the windows [k - (N-1)/2, last] that are available. */
static void decide(scanner *s, long k, long last) {
    int K = s->m->k;
    long from = k - (s->smooth - 1) / 2;
    if (from < 0) from = 0;
    memset(s->avg, 0, sizeof(float) * (size_t)K);
    for (long j = from; j <= last; j++) {
        const float *p = s->hist + (size_t)(j % s->smooth) * (size_t)K;
        for (int i = 0; i < K; i++) s->avg[i] += p[i];
    }
    float inv = 1.0f / (float)(last - from + 1);
    int best = -1;
    for (int i = 0; i < K; i++) {
        s->avg[i] *= inv;
        if (s->m->is_word[i] && (best < 0 || s->avg[i] > s->avg[best])) best = i;
    }
    int hit = best >= 0 && s->avg[best] > s->threshold;
    if (s->seg_open && (!hit || best != s->seg_label || k != s->seg_last + 1)) seg_close(s);
    if (!hit) return;
    if (!s->seg_open) {
        s->seg_open = 1;
        s->seg_label = best;
        s->seg_first = k;
        s->seg_conf = 0;
    }
    s->seg_last = k;
    if (s->avg[best] > s->seg_conf) s->seg_conf = s->avg[best];
}

static zs_status scan_window(scanner *s, const float *clip) {
    float *p = s->hist + (size_t)(s->n_windows % s->smooth) * (size_t)s->m->k;
    zs_status st = classify(s->m, clip, p);
    if (st != ZS_OK) return st;
    long j = s->n_windows++;
    long k = j - s->smooth / 2;   /* lookahead of smooth/2 windows */
    if (k >= 0) { decide(s, k, j); s->next_decide = k + 1; }
    return ZS_OK;
}

static int listen_stream(model *m, const char *src, int raw_rate, double hop_s, int smooth, double threshold) {
    scanner s;
    memset(&s, 0, sizeof s);
    s.m = m;
    s.smooth = smooth;
    s.hop = (int)lround(hop_s * ZS_SAMPLE_RATE);
    s.hop_s = (double)s.hop / ZS_SAMPLE_RATE;
    s.threshold = threshold;
    s.total_s = INFINITY;
    s.hist = calloc((size_t)smooth * (size_t)m->k, sizeof(float));
    s.avg = calloc((size_t)m->k, sizeof(float));
    float *win = malloc(sizeof(float) * ZS_CLIP_SAMPLES);
    zs_audio_stream *as = NULL;
    zs_status st = (s.hist && s.avg && win) ? ZS_OK : ZS_ERR(ZS_ENOMEM, "out of memory");
    double t_proc = 0, t0;
    size_t filled = 0, total = 0;
    if (st == ZS_OK) {
        t0 = now_s();
        st = zs_audio_stream_open(&as, src, raw_rate, ZS_SAMPLE_RATE);
        t_proc += now_s() - t0;
    }
    int eof = 0;
    while (st == ZS_OK && !eof) {
        /* fill the window; classify whenever it is full, then slide by hop */
        size_t got = 0;
        t0 = now_s();
        st = zs_audio_stream_read(as, win + filled, ZS_CLIP_SAMPLES - filled, &got);
        t_proc += now_s() - t0;
        if (st != ZS_OK) break;
        if (got == 0) { eof = 1; break; }
        filled += got;
        total += got;
        if (filled == ZS_CLIP_SAMPLES) {
            t0 = now_s();
            st = scan_window(&s, win);
            memmove(win, win + s.hop, sizeof(float) * (size_t)(ZS_CLIP_SAMPLES - s.hop));
            filled -= (size_t)s.hop;
            t_proc += now_s() - t0;
        }
    }
    if (st == ZS_OK && total == 0)
        st = ZS_ERR(ZS_EFORMAT, "%s: no audio samples", strcmp(src, "-") ? src : "<stdin>");
    if (st == ZS_OK) {
        s.total_s = (double)total / ZS_SAMPLE_RATE;
        t0 = now_s();
        /* the last, zero-padded window if it holds audio no window has seen */
        if (filled > (size_t)(ZS_CLIP_SAMPLES - s.hop) || (s.n_windows == 0 && filled > 0)) {
            memset(win + filled, 0, sizeof(float) * (ZS_CLIP_SAMPLES - filled));
            st = scan_window(&s, win);
        }
        for (long k = s.next_decide; st == ZS_OK && k < s.n_windows; k++) decide(&s, k, s.n_windows - 1);
        seg_close(&s);
        t_proc += now_s() - t0;
    }
    zs_audio_stream_close(as);
    free(win);
    free(s.hist);
    free(s.avg);
    if (st != ZS_OK) return cli_fail("listen", st);
    fprintf(stderr, "zeroskip listen: %.2f s of audio, %ld windows, %ld detections; "
            "real-time factor %.4f (%.3f s processing)\n",
            s.total_s, s.n_windows, s.n_detections, t_proc / s.total_s, t_proc);
    if (ferror(stdout)) { fprintf(stderr, "zeroskip listen: cannot write to stdout\n"); return EXIT_IO; }
    return EXIT_OK;
}

int cmd_listen(int argc, char **argv) {
    const char *model_path = NULL, *stream = NULL, *v;
    long topk = 1, smooth = 3, raw_rate = 0;
    double hop = 0.25, threshold = 0.5, max_s = 30.0;
    int json = 0, nfiles = 0;
    char **files = calloc((size_t)argc + 1, sizeof(char *));
    if (!files) return EXIT_FAIL;
    int rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\n%s", USAGE, HELP);
            free(files);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--json")) { json = 1; continue; }
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
#define BAD(cond) do { if (cond) { free(files); return EXIT_USAGE; } } while (0)
        if (OPT("--model")) { BAD(r < 0); model_path = v; }
        else if (OPT("--stream")) { BAD(r < 0); stream = v; }
        else if (OPT("--top")) { BAD(r < 0 || cli_int("listen", "--top", v, 1, ZS_MAX_CLASSES, &topk)); }
        else if (OPT("--smooth")) { BAD(r < 0 || cli_int("listen", "--smooth", v, 1, 100, &smooth)); }
        else if (OPT("--raw-rate")) { BAD(r < 0 || cli_int("listen", "--raw-rate", v, 1000, 384000, &raw_rate)); }
        else if (OPT("--hop")) { BAD(r < 0 || cli_float("listen", "--hop", v, 0.01, 1.0, &hop)); }
        else if (OPT("--threshold")) { BAD(r < 0 || cli_float("listen", "--threshold", v, 0.0, 1.0, &threshold)); }
        else if (OPT("--max-seconds")) { BAD(r < 0 || cli_float("listen", "--max-seconds", v, 0.001, 1e6, &max_s)); }
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            free(files);
            return cli_usage("listen", USAGE, "unknown option '%s'", argv[i]);
        }
        else files[nfiles++] = argv[i];
#undef BAD
#undef OPT
    }
    if (!model_path) rc = cli_usage("listen", USAGE, "--model is required");
    else if (stream && nfiles) rc = cli_usage("listen", USAGE, "--stream takes one source; no FILE arguments");
    else if (!stream && !nfiles) rc = cli_usage("listen", USAGE, "give FILE... or --stream FILE|-");
    else if (!stream && raw_rate) rc = cli_usage("listen", USAGE, "--raw-rate goes with --stream");
    if (rc != EXIT_OK) { free(files); return rc; }

    model m;
    rc = model_open(&m, model_path);
    if (rc == EXIT_OK) {
        rc = stream ? listen_stream(&m, stream, (int)raw_rate, hop, (int)smooth, threshold)
                    : listen_files(&m, files, nfiles, (int)topk, json, max_s);
        model_free(&m);
    }
    free(files);
    return rc;
}

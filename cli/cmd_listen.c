/* cmd_listen.c — `zeroskip listen`: words out.
 *
 * File mode: each FILE is read, resampled to 16 kHz, cut to one second with
 * the speech centred in it (zs_clip_fit_centred, as the data sets are built),
 * turned into log-mel features and classified; one line per file.
 * A file that fails gets a message naming it on stderr and the others are
 * still processed; the exit status is then 3 if any file could not be read
 * (I/O: missing, unreadable, not a regular file), else 1.
 *
 * Stream mode: one long recording (or stdin) is read chunk by chunk
 * (zs_audio_stream) into the library's keyword scanner (zs_scanner, the
 * same one the Python module uses): a 1 s window every --hop seconds,
 * gated by a tracked noise floor (--gate-db) and centred on its word as
 * training clips are, posteriors smoothed over --smooth windows, a word
 * detected when its smoothed probability > --threshold, detections closer
 * than --min-gap merged; one line `START_S END_S LABEL CONFIDENCE` per
 * detection, printed as soon as it is final. --windows FILE.csv writes every
 * window's state and posteriors (for tuning, scripts/stream_eval.py). */
#include "cli.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *USAGE =
    "zeroskip listen --model M [--int8|--int16 --calib C | --int8-weights] [--top K] [--json] [--max-seconds S]\n"
    "                       FILE...\n"
    "       zeroskip listen --model M --stream FILE|- [--int8-weights] [--raw-rate R] [--hop S]\n"
    "                       [--smooth N] [--threshold P] [--gate-db D] [--min-gap S]\n"
    "                       [--no-centre] [--windows FILE.csv]";

static const char *HELP =
    "Recognise words with a trained model (see `zeroskip train`).\n"
    "File mode, one line per FILE: FILE<TAB>LABEL<TAB>CONFIDENCE (softmax\n"
    "probability). Any file libsndfile reads, any rate; one second with the speech\n"
    "centred in it counts (the loudest second of longer speech).\n"
    "  --model M           the model (safetensors written by zeroskip train)\n"
    "  --top K (1)         K best labels per file: ...<TAB>LABEL2<TAB>CONF2...\n"
    "  --json              one JSON object per line per file instead\n"
    "  --max-seconds S (30) refuse longer files (use --stream for recordings)\n"
    "  --int8              classify with the integer path (zs_qnet: int8 weights and\n"
    "                      activations, int32 accumulation; what the hw/ core computes)\n"
    "  --int16             the integer path's int16 scheme (fp32 first layer, 12-bit\n"
    "                      activations, int16 weights; top-1 as fp32 on >= 99.5 % of\n"
    "                      held-out clips, docs/FPGA.md); not what the core computes\n"
    "  --calib C           features (a data set file) that calibrate the activation\n"
    "                      scales for --int8/--int16, e.g. models/calib-gsc.safetensors\n"
    "  --int8-weights      the fp32 engine with its sparse-input convs in integers\n"
    "                      (int8 weights, u8 inputs scaled per clip): smaller and\n"
    "                      faster, not exact (zs_net_set_int8_weights; no calibration)\n"
    "Stream mode: scan a long recording or stdin ('-': WAV, or raw with --raw-rate)\n"
    "with a 1 s window; prints START_S END_S LABEL CONFIDENCE per detected word\n"
    "(silence/unknown are not words) and the real-time factor on stderr.\n"
    "  --stream FILE|-     the recording\n"
    "  --raw-rate R        stdin/FILE is headerless 16-bit LE mono PCM at R Hz\n"
    "  --hop S (0.1)       seconds between windows, in [0.01, 1]\n"
    "  --smooth N (3)      moving average over N windows (centred)\n"
    "  --threshold P (0.5) smoothed probability a word must exceed\n"
    "  --gate-db D (10)    a window is silence unless its loudest 10 ms is D dB above\n"
    "                      the tracked noise floor (and above -70 dBFS); 0: off\n"
    "  --min-gap S (0.3)   detections of one word closer than S seconds are one; 0:\n"
    "                      runs split where the best word changes\n"
    "  --no-centre         classify windows as they are (default: centred on their\n"
    "                      word as training clips are; a cut word gets no vote)\n"
    "  --windows FILE.csv  every window's state (g gated, e cut word, c classified)\n"
    "                      and posteriors, for tuning\n"
    "Exit status: 0 all files recognised; 3 a file (or the model) could not be\n"
    "read; 1 any other failure (the other files are still processed).\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    zs_net *net;
    zs_qnet *q;          /* --int8: the integer path, else NULL */
    zs_frontend *fe;
    int k;               /* classes */
    float *logp;         /* (K) */
    char **names;        /* (K) labels, never NULL */
} model;

static void model_free(model *m) {
    if (m->names)
        for (int i = 0; i < m->k; i++) free(m->names[i]);
    free(m->names);
    free(m->logp);
    zs_frontend_free(m->fe);
    zs_qnet_free(m->q);
    zs_net_free(m->net);
}

static int model_open(model *m, const char *path, const char *calib, int qmode, int int8_weights) {
    memset(m, 0, sizeof *m);
    zs_status st = zs_net_load(&m->net, path);
    if (st != ZS_OK) return cli_fail_file("listen", path, st);
    zs_net_set_int8_weights(m->net, int8_weights);
    if (calib) {
        zs_dataset *cd = NULL;
        st = zs_dataset_load(&cd, calib);
        if (st == ZS_OK) {
            int c, h, w, nc, nh, nw;
            zs_dataset_shape(cd, &c, &h, &w);
            zs_net_input_shape(m->net, &nc, &nh, &nw);
            if (c != nc || h != nh || w != nw) {
                fprintf(stderr, "zeroskip listen: %s: features of (%d, %d, %d), the model takes (%d, %d, %d)\n",
                        calib, c, h, w, nc, nh, nw);
                zs_dataset_free(cd);
                model_free(m);
                return EXIT_FAIL;
            }
            st = zs_qnet_create_mode(&m->q, m->net, zs_dataset_features_const(cd), zs_dataset_size(cd), qmode);
            zs_dataset_free(cd);
        }
        if (st != ZS_OK) {
            int rc = cli_fail_file("listen", calib, st);
            model_free(m);
            return rc;
        }
    }
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
    st = m->logp && m->names ? zs_frontend_create(&m->fe) : ZS_ENOMEM;
    for (int i = 0; st == ZS_OK && i < m->k; i++) {
        const char *nm = zs_net_class_name(m->net, i);
        char tmp[32];
        if (!nm) { snprintf(tmp, sizeof tmp, "class%d", i); nm = tmp; }
        m->names[i] = malloc(strlen(nm) + 1);
        if (!m->names[i]) st = ZS_ENOMEM;
        else strcpy(m->names[i], nm);
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
    if (st == ZS_OK) st = m->q ? zs_qnet_infer(m->q, feat, 1, NULL, m->logp) : zs_net_infer(m->net, feat, 1, m->logp);
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
    int failed = 0, io_failed = 0;
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
            io_failed += st == ZS_EIO;
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
    return io_failed ? EXIT_IO : failed ? EXIT_FAIL : EXIT_OK;
}

/* ---- stream mode: the library's zs_scanner over zs_audio_stream ------- */

/* Print the detections ready so far as START_S END_S LABEL CONFIDENCE. */
static long print_detections(zs_scanner *sc, const model *m) {
    zs_detection d;
    long n = 0;
    for (; zs_scanner_next(sc, &d); n++)
        printf("%.3f %.3f %s %.4f\n", d.start_s, d.end_s, m->names[d.label], (double)d.confidence);
    fflush(stdout);
    return n;
}

/* --windows: the windows classified since the last call, one line each. */
static void dump_windows(FILE *f, zs_scanner *sc, const model *m, long *done, double hop_s, float *p) {
    for (long n = zs_scanner_windows(sc); f && *done < n; (*done)++) {
        char state = '?';
        if (!zs_scanner_window(sc, *done, &state, p)) continue; /* cannot happen: chunks <= hop */
        fprintf(f, "%ld,%.3f,%c", *done, (double)*done * hop_s, state);
        for (int i = 0; i < m->k; i++) fprintf(f, ",%.5f", (double)p[i]);
        fputc('\n', f);
    }
}

static int listen_stream(model *m, const char *src, int raw_rate, const zs_scan_opts *opts, const char *dump) {
    enum { CHUNK_SAMPLES = 4000 };   /* 0.25 s at 16 kHz per read */
    static float buf[CHUNK_SAMPLES];
    zs_scanner *sc = NULL;
    zs_audio_stream *as = NULL;
    FILE *df = NULL;
    float *p = NULL;
    double t_proc = 0, t0 = now_s();
    long n_det = 0, dumped = 0;
    /* with --windows, read at most one hop at a time so that every window is
     * still in the scanner's history when it is written */
    size_t chunk = CHUNK_SAMPLES, hop = (size_t)lround(opts->hop_s * ZS_SAMPLE_RATE);
    double hop_s = (double)hop / ZS_SAMPLE_RATE;
    if (dump && hop < chunk) chunk = hop;
    zs_status st = zs_scanner_create(&sc, m->net, opts);
    if (st == ZS_OK) st = zs_audio_stream_open(&as, src, raw_rate, ZS_SAMPLE_RATE);
    if (st == ZS_OK && dump) {
        p = calloc((size_t)m->k, sizeof *p);
        if (!p || !(df = fopen(dump, "w"))) {
            fprintf(stderr, "zeroskip listen: --windows %s: %s\n", dump, p ? "cannot write" : "out of memory");
            zs_audio_stream_close(as);
            zs_scanner_free(sc);
            free(p);
            return p ? EXIT_IO : EXIT_FAIL;
        } else {
            fprintf(df, "window,start_s,state");
            for (int i = 0; i < m->k; i++) fprintf(df, ",%s", m->names[i]);
            fputc('\n', df);
        }
    }
    t_proc += now_s() - t0;
    while (st == ZS_OK) {
        size_t got = 0;
        t0 = now_s();
        st = zs_audio_stream_read(as, buf, chunk, &got);
        if (st == ZS_OK && got) st = zs_scanner_push(sc, buf, got);
        t_proc += now_s() - t0;
        if (st != ZS_OK || got == 0) break;
        dump_windows(df, sc, m, &dumped, hop_s, p);
        n_det += print_detections(sc, m);
    }
    if (st == ZS_OK) {
        t0 = now_s();
        st = zs_scanner_finish(sc);
        t_proc += now_s() - t0;
        dump_windows(df, sc, m, &dumped, hop_s, p);
    }
    free(p);
    if (df && fclose(df) != 0 && st == ZS_OK) {
        fprintf(stderr, "zeroskip listen: --windows %s: write failed\n", dump);
        zs_audio_stream_close(as);
        zs_scanner_free(sc);
        return EXIT_IO;
    }
    double total_s = zs_scanner_seconds(sc);
    long n_windows = zs_scanner_windows(sc);
    if (st == ZS_OK) n_det += print_detections(sc, m);
    zs_audio_stream_close(as);
    zs_scanner_free(sc);
    if (st != ZS_OK) return cli_fail_file("listen", strcmp(src, "-") ? src : "<stdin>", st);
    fprintf(stderr, "zeroskip listen: %.2f s of audio, %ld windows, %ld detections; "
            "real-time factor %.4f (%.3f s processing)\n",
            total_s, n_windows, n_det, t_proc / total_s, t_proc);
    if (ferror(stdout)) { fprintf(stderr, "zeroskip listen: cannot write to stdout\n"); return EXIT_IO; }
    return EXIT_OK;
}

int cmd_listen(int argc, char **argv) {
    const char *model_path = NULL, *stream = NULL, *v;
    long topk = 1, smooth, raw_rate = 0;
    zs_scan_opts so = zs_scan_defaults();
    double hop = so.hop_s, threshold = so.threshold, max_s = 30.0, gate_db = so.gate_db, min_gap = so.min_gap_s;
    long smooth_def = so.smooth;
    const char *dump = NULL;
    int json = 0, nfiles = 0, centre = 1;
    smooth = smooth_def;
    int int8 = 0, int16 = 0, i8w = 0;
    const char *calib = NULL;
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
        if (!strcmp(argv[i], "--no-centre")) { centre = 0; continue; }
        if (!strcmp(argv[i], "--int8")) { if (int8) int8 = 2; else int8 = 1; continue; }
        if (!strcmp(argv[i], "--int16")) { if (int16) int16 = 2; else int16 = 1; continue; }
        if (!strcmp(argv[i], "--int8-weights")) { i8w = 1; continue; }
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
#define BAD(cond) do { if (cond) { free(files); return EXIT_USAGE; } } while (0)
        if (OPT("--model")) { BAD(r < 0); model_path = v; }
        else if (OPT("--stream")) { BAD(r < 0); stream = v; }
        else if (OPT("--calib")) { BAD(r < 0); calib = v; }
        else if (OPT("--top")) { BAD(r < 0 || cli_int("listen", "--top", v, 1, ZS_MAX_CLASSES, &topk)); }
        else if (OPT("--smooth")) { BAD(r < 0 || cli_int("listen", "--smooth", v, 1, 100, &smooth)); }
        else if (OPT("--raw-rate")) { BAD(r < 0 || cli_int("listen", "--raw-rate", v, 1000, 384000, &raw_rate)); }
        else if (OPT("--hop")) { BAD(r < 0 || cli_float("listen", "--hop", v, 0.01, 1.0, &hop)); }
        else if (OPT("--threshold")) { BAD(r < 0 || cli_float("listen", "--threshold", v, 0.0, 1.0, &threshold)); }
        else if (OPT("--gate-db")) { BAD(r < 0 || cli_float("listen", "--gate-db", v, 0.0, 60.0, &gate_db)); }
        else if (OPT("--min-gap")) { BAD(r < 0 || cli_float("listen", "--min-gap", v, 0.0, 10.0, &min_gap)); }
        else if (OPT("--windows")) { BAD(r < 0); dump = v; }
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
    else if (int8 > 1 || int16 > 1) rc = cli_usage("listen", USAGE, "--int8/--int16 given twice");
    else if (int8 && int16) rc = cli_usage("listen", USAGE, "--int8 and --int16 exclude each other");
    else if ((int8 || int16) != (calib != NULL)) rc = cli_usage("listen", USAGE, "--int8/--int16 and --calib go together");
    else if ((int8 || int16) && i8w) rc = cli_usage("listen", USAGE, "--int8/--int16 (the integer path) and --int8-weights exclude each other");
    else if ((int8 || int16) && stream) rc = cli_usage("listen", USAGE, "--int8/--int16 work in file mode (FILE...), not with --stream");
    if (rc != EXIT_OK) { free(files); return rc; }

    model m;
    rc = model_open(&m, model_path, calib, int16 ? ZS_QNET_INT16 : ZS_QNET_INT8, i8w);
    if (rc == EXIT_OK) {
        so = (zs_scan_opts){hop, (int)smooth, threshold, gate_db, centre, min_gap};
        rc = stream ? listen_stream(&m, stream, (int)raw_rate, &so, dump)
                    : listen_files(&m, files, nfiles, (int)topk, json, max_s);
        model_free(&m);
    }
    free(files);
    return rc;
}

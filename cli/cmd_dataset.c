/*
 * cmd_dataset.c — `zeroskip dataset build|stats`: speech manifests to
 * feature/label files, and a look inside those files.
 *
 * build reads a manifest CSV (scripts/make_corpus.py writes one; columns
 * path,label,split required, source,speaker,word optional, any others
 * ignored), loads every clip at 16 kHz, fits it into one second centred on
 * its speech, computes the (1, 32, 32) log-mel image and writes
 * DIR/{train,val,test}.safetensors with DIR/manifest_{split}.csv (one row per
 * example, in the same order as the features). Training clips may get N
 * augmented copies (speed, time shift, gain, background noise) drawn from a
 * RNG seeded by (seed, manifest row, copy), so the bytes written depend on
 * the seed only, never on the number of threads.
 *
 * What it is not: a corpus generator (scripts/make_corpus.py), nor an
 * on-the-fly augmenter for training.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLASSES 64
static const char *const digit_classes[] = {
    "unknown", "silence", "zero", "one", "two", "three",
    "four", "five", "six", "seven", "eight", "nine"};
/* The label set of this build (--classes; default the digit task's 12). The
 * CLI is single-threaded when it sets them; workers only read. */
static const char *class_names[MAX_CLASSES];
static int N_CLASSES;
static char class_buf[1024];

static void classes_default(void) {
    N_CLASSES = (int)(sizeof digit_classes / sizeof *digit_classes);
    for (int i = 0; i < N_CLASSES; i++) class_names[i] = digit_classes[i];
}

/* "a,b,c" -> class_names; -1 on an empty, duplicate or too long list. */
static int classes_parse(const char *list) {
    size_t l = strlen(list);
    if (l >= sizeof class_buf || !l || list[0] == ',' || list[l - 1] == ',' || strstr(list, ",,")) return -1;
    memcpy(class_buf, list, strlen(list) + 1);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(class_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == MAX_CLASSES || !*t) return -1;
        for (int j = 0; j < n; j++) if (!strcmp(class_names[j], t)) return -1;
        class_names[n++] = t;
    }
    if (n < 2) return -1;
    N_CLASSES = n;
    return 0;
}
enum { SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST, N_SPLITS };
static const char *const split_names[N_SPLITS] = {"train", "val", "test"};

#define MAX_CLIP_SECONDS 30.0    /* longer source files are refused          */
#define MAX_NOISE_SECONDS 600.0  /* per background-noise file                */
#define MAX_AUGMENT 50
#define MAX_THREADS 64
#define FEAT (ZS_N_MELS * ZS_N_FRAMES)

static const char *const build_usage =
    "zeroskip dataset build --manifest CSV --out DIR [--augment N] [--seed S]\n"
    "                              [--noise-dir DIR] [--shift-ms MS] [--threads T] [--quiet]\n"
    "                              [--splits train,val,test] [--noise ALPHA [--noise-seed S]]\n"
    "                              [--classes LIST] [--augment-source SRC=N,...] [--reverb P]\n"
    "                              [--band-limit P] [--spec-mask P] [--noise-p P]";
static const char *const stats_usage = "zeroskip dataset stats [--labels] FILE...";

/* ---- manifest ----------------------------------------------------------- */

typedef struct row {
    char *path;      /* as written in the manifest                        */
    char *open_path; /* resolved against the manifest's directory         */
    char *source, *speaker, *word;
    int label, split, line;
    int copies;      /* augmented copies if in train (--augment, --augment-source) */
    int64_t out;     /* index of copy 0 in its split's data set           */
} row;

typedef struct manifest {
    row *rows;
    int n;
    char *text;      /* the file, fields point into it after unquoting    */
} manifest;

static void manifest_free(manifest *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) free(m->rows[i].open_path);
    free(m->rows);
    free(m->text);
    memset(m, 0, sizeof *m);
}

/* Split one CSV record in place (RFC 4180 quoting; no newlines inside
 * quotes). Returns the field count, or -1 for an unterminated quote or a
 * character after a closing quote. */
static int csv_split(char *s, char **fields, int max) {
    int n = 0;
    for (;;) {
        if (n == max) return max + 1;
        char *w = s;
        fields[n++] = w;
        if (*s == '"') {
            s++;
            for (;;) {
                if (!*s) return -1;
                if (*s == '"') {
                    if (s[1] == '"') { *w++ = '"'; s += 2; continue; }
                    s++;
                    break;
                }
                *w++ = *s++;
            }
            if (*s != ',' && *s) return -1;
        } else {
            while (*s && *s != ',') {
                if (*s == '"') return -1;
                *w++ = *s++;
            }
        }
        int more = *s == ',';
        *w = '\0';
        if (!more) return n;
        s++;
    }
}

static int find_class(const char *s) {
    for (int i = 0; i < N_CLASSES; i++)
        if (!strcmp(s, class_names[i])) return i;
    return -1;
}

static int find_split(const char *s) {
    for (int i = 0; i < N_SPLITS; i++)
        if (!strcmp(s, split_names[i])) return i;
    return -1;
}

#define MAX_FIELDS 64
static zs_status manifest_read(manifest *m, const char *path) {
    zs_status st = ZS_OK;
    void *data = NULL;
    size_t size = 0;
    memset(m, 0, sizeof *m);
    st = zs_read_file(path, (size_t)1 << 30, &data, &size);
    if (st) return st;
    m->text = realloc(data, size + 1);
    if (!m->text) { free(data); return ZS_ERR(ZS_ENOMEM, "%s: out of memory", path); }
    m->text[size] = '\0';
    if (memchr(m->text, '\0', size))
        ZS_FAIL(ZS_EFORMAT, "%s: not a text file (NUL byte)", path);

    size_t lines = 1;
    for (size_t i = 0; i < size; i++) lines += m->text[i] == '\n';
    m->rows = calloc(lines, sizeof *m->rows);
    if (!m->rows) ZS_FAIL(ZS_ENOMEM, "%s: out of memory", path);

    /* the manifest's directory, for relative paths */
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;

    int col_path = -1, col_label = -1, col_split = -1, col_source = -1, col_speaker = -1,
        col_word = -1, n_cols = 0, line_no = 0;
    char *fields[MAX_FIELDS + 1];
    for (char *s = m->text; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        char *line = s;
        s = nl ? nl + 1 : NULL;
        line_no++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[--len] = '\0';
        if (!len) continue;
        int nf = csv_split(line, fields, MAX_FIELDS);
        if (nf < 0) ZS_FAIL(ZS_EFORMAT, "%s:%d: bad CSV quoting", path, line_no);
        if (nf > MAX_FIELDS) ZS_FAIL(ZS_EFORMAT, "%s:%d: more than %d fields", path, line_no, MAX_FIELDS);
        if (!n_cols) { /* header */
            n_cols = nf;
            for (int i = 0; i < nf; i++) {
                const char *h = fields[i];
                if (!strcmp(h, "path")) col_path = i;
                else if (!strcmp(h, "label")) col_label = i;
                else if (!strcmp(h, "split")) col_split = i;
                else if (!strcmp(h, "source")) col_source = i;
                else if (!strcmp(h, "speaker")) col_speaker = i;
                else if (!strcmp(h, "word")) col_word = i;
            }
            if (col_path < 0 || col_label < 0 || col_split < 0)
                ZS_FAIL(ZS_EFORMAT, "%s:%d: header must name the columns path, label and split "
                        "(optional: source, speaker, word); got '%s'%s", path, line_no, fields[0],
                        nf > 1 ? ",..." : "");
            continue;
        }
        if (nf != n_cols)
            ZS_FAIL(ZS_EFORMAT, "%s:%d: %d fields, the header has %d", path, line_no, nf, n_cols);
        row *r = &m->rows[m->n];
        r->line = line_no;
        r->path = fields[col_path];
        r->label = find_class(fields[col_label]);
        r->split = find_split(fields[col_split]);
        r->source = col_source >= 0 ? fields[col_source] : "";
        r->speaker = col_speaker >= 0 ? fields[col_speaker] : "";
        r->word = col_word >= 0 ? fields[col_word] : "";
        if (!*r->path) ZS_FAIL(ZS_EFORMAT, "%s:%d: empty path", path, line_no);
        if (r->label < 0)
        {
            char names[1024] = "";
            for (int c = 0; c < N_CLASSES; c++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                         c ? (c + 1 == N_CLASSES ? " or " : ", ") : "", class_names[c]);
            ZS_FAIL(ZS_EFORMAT, "%s:%d: unknown label '%s' (expected %s)", path, line_no,
                    fields[col_label], names);
        }
        if (r->split < 0)
            ZS_FAIL(ZS_EFORMAT, "%s:%d: unknown split '%s' (expected train, val or test)",
                    path, line_no, fields[col_split]);
        if (strpbrk(r->source, ",\"\n") || strpbrk(r->speaker, ",\"\n") || strpbrk(r->word, ",\"\n") ||
            strpbrk(r->path, ",\"\n"))
            ZS_FAIL(ZS_EFORMAT, "%s:%d: commas or quotes inside path/source/speaker/word are not "
                    "supported", path, line_no);
        size_t pl = strlen(r->path);
        int absolute = r->path[0] == '/';
        r->open_path = malloc((absolute ? 0 : dir_len) + pl + 1);
        if (!r->open_path) ZS_FAIL(ZS_ENOMEM, "%s: out of memory", path);
        if (absolute) memcpy(r->open_path, r->path, pl + 1);
        else {
            memcpy(r->open_path, path, dir_len);
            memcpy(r->open_path + dir_len, r->path, pl + 1);
        }
        m->n++;
    }
    if (!n_cols) ZS_FAIL(ZS_EFORMAT, "%s: empty manifest (no header)", path);
    if (!m->n) ZS_FAIL(ZS_EFORMAT, "%s: no rows after the header", path);
    if (m->n > INT32_MAX / (MAX_AUGMENT + 1))
        ZS_FAIL(ZS_ELIMIT, "%s: too many rows (%d)", path, m->n);
    return ZS_OK;
fail:
    manifest_free(m);
    return st;
}

/* Speakers must not cross splits: warn (the data set is still built) for
 * every speaker found in more than one. Returns the number of such speakers. */
static const manifest *sort_m;
static int cmp_speaker(const void *a, const void *b) {
    const row *ra = &sort_m->rows[*(const int *)a], *rb = &sort_m->rows[*(const int *)b];
    int c = strcmp(ra->speaker, rb->speaker);
    return c ? c : ra->split - rb->split;
}
static int check_speakers(const manifest *m) {
    int *idx = malloc((size_t)m->n * sizeof *idx), bad = 0;
    if (!idx) return 0;
    for (int i = 0; i < m->n; i++) idx[i] = i;
    sort_m = m;
    qsort(idx, (size_t)m->n, sizeof *idx, cmp_speaker);
    for (int i = 1; i < m->n; i++) {
        const row *a = &m->rows[idx[i - 1]], *b = &m->rows[idx[i]];
        if (*a->speaker && !strcmp(a->speaker, b->speaker) && a->split != b->split) {
            fprintf(stderr, "zeroskip dataset: warning: speaker '%s' is in both %s and %s "
                    "(lines %d and %d)\n", a->speaker, split_names[a->split],
                    split_names[b->split], a->line, b->line);
            bad++;
            while (i + 1 < m->n && !strcmp(m->rows[idx[i + 1]].speaker, a->speaker)) i++;
        }
    }
    free(idx);
    return bad;
}

/* ---- audio fitting and augmentation ------------------------------------ */


/* Speed change for augmentation: y has round(n / f) samples, y[j] = x(j f),
 * band-limited to min(1, 1/f) of Nyquist with a Hann-windowed sinc of +-16
 * taps read from a table (1/256-sample steps, linear interpolation between).
 * Not libsamplerate's best sinc, which costs ~20 ms a clip against ~1 ms
 * here; for a +-10 % speed jitter the difference is far below the noise the
 * augmentation adds. Returns NULL on allocation failure. */
#define SPEED_HALF 16
#define SPEED_STEPS 256
static float *speed_change(const float *x, size_t n, double f, size_t *ny) {
    double c = f > 1.0 ? 1.0 / f : 1.0;            /* cutoff / Nyquist           */
    size_t m = (size_t)llround((double)n / f);
    float *y = malloc((m ? m : 1) * sizeof *y);
    float *tab = malloc((SPEED_HALF * SPEED_STEPS + 2) * sizeof *tab);
    if (!y || !tab) { free(y); free(tab); return NULL; }
    const double pi = 3.14159265358979323846;
    for (int i = 0; i <= SPEED_HALF * SPEED_STEPS + 1; i++) { /* h(d), d = i / STEPS */
        double d = (double)i / SPEED_STEPS;
        double s = d == 0 ? 1.0 : sin(pi * c * d) / (pi * c * d);
        double w = d >= SPEED_HALF ? 0.0 : 0.5 + 0.5 * cos(pi * d / SPEED_HALF);
        tab[i] = (float)(c * s * w);
    }
    for (size_t j = 0; j < m; j++) {
        double t = (double)j * f;
        long k0 = (long)floor(t) - SPEED_HALF + 1, k1 = (long)floor(t) + SPEED_HALF;
        if (k0 < 0) k0 = 0;
        if (k1 > (long)n - 1) k1 = (long)n - 1;
        double acc = 0;
        for (long k = k0; k <= k1; k++) {
            double p = fabs(t - (double)k) * SPEED_STEPS;
            long i = (long)p;
            if (i >= SPEED_HALF * SPEED_STEPS) continue;
            double fr = p - (double)i;
            acc += x[k] * ((1.0 - fr) * tab[i] + fr * tab[i + 1]);
        }
        y[j] = (float)acc;
    }
    free(tab);
    *ny = m;
    return y;
}

typedef struct noise_bed { float *x; size_t n; char *name; } noise_bed;

static float uniform(zs_rng *r, float lo, float hi) { return lo + (hi - lo) * zs_rng_uniform(r); }

typedef struct aug_opts {
    int copies;          /* extra copies per training clip                  */
    uint64_t seed;
    double shift_s;      /* max |time shift| in seconds                     */
    const noise_bed *beds;
    int n_beds;          /* 0: white noise from the RNG                     */
    double reverb_p;     /* probability of a synthetic room (reverb())      */
    double band_p;       /* probability of band-limiting to 8 kHz and back  */
    double mask_p;       /* probability of SpecAugment masks (spec_mask())  */
    double noise_p;      /* probability of background noise (default 0.8)   */
} aug_opts;

/* Room reverberation with a synthetic impulse response: the direct sound
 * plus a velvet-noise tail (sparse random +-1 taps, 2,000 a second, after a
 * 2-12 ms pre-delay) decaying by 60 dB over RT60 in [0.1, 0.6] s (cut at
 * 0.4 s) at a level of 0.05-0.3 per tap (direct-to-reverberant ratio about
 * +15 to -8 dB). Sparse taps cost ~600 multiply-adds per sample instead of
 * 6,400 for a dense 0.4 s response. *y has n + tail samples; NULL if out of
 * memory. */
#define RIR_TAPS_PER_S 2000
static float *reverb(zs_rng *r, const float *x, size_t n, size_t *ny) {
    double rt60 = uniform(r, 0.1f, 0.6f), level = uniform(r, 0.05f, 0.3f);
    double pre = uniform(r, 0.002f, 0.012f), len = rt60 < 0.4 ? rt60 : 0.4;
    int ntaps = (int)(len * RIR_TAPS_PER_S);
    size_t tail = (size_t)((pre + len) * ZS_SAMPLE_RATE) + 1;
    long *pos = malloc((size_t)(ntaps + 1) * sizeof *pos);
    float *amp = malloc((size_t)(ntaps + 1) * sizeof *amp);
    float *y = calloc(n + tail, sizeof *y);
    if (!pos || !amp || !y) { free(pos); free(amp); free(y); return NULL; }
    double grid = (double)ZS_SAMPLE_RATE / RIR_TAPS_PER_S;
    pos[0] = 0;
    amp[0] = 1.0f;
    for (int k = 0; k < ntaps; k++) { /* one tap at a random place in each grid cell */
        double t = pre * ZS_SAMPLE_RATE + grid * (k + zs_rng_uniform(r));
        pos[k + 1] = (long)t;
        double sign = zs_rng_uniform(r) < 0.5f ? -1.0 : 1.0;
        amp[k + 1] = (float)(sign * level * exp(-6.9078 * t / (rt60 * ZS_SAMPLE_RATE)));
    }
    for (int k = 0; k <= ntaps; k++)
        for (size_t i = 0; i < n; i++) y[i + (size_t)pos[k]] += amp[k] * x[i];
    free(pos);
    free(amp);
    *ny = n + tail;
    return y;
}

/* SpecAugment (Park et al. 2019) on one (ZS_N_MELS, ZS_N_FRAMES) log-mel
 * image: one band of 1-4 mel channels and one run of 1-4 frames set to the
 * image's mean. Its own generator, seeded like augment()'s. */
static void spec_mask(const aug_opts *o, uint64_t row_index, int k, float *feat) {
    zs_rng r;
    zs_rng_seed(&r, (o->seed + 0x5EC0) * 0x9E3779B97F4A7C15ull ^ (row_index + 1) * 0xBF58476D1CE4E5B9ull ^
                        (uint64_t)k * 0x94D049BB133111EBull);
    if (zs_rng_uniform(&r) >= o->mask_p) return;
    double mean = 0;
    for (int i = 0; i < ZS_N_MELS * ZS_N_FRAMES; i++) mean += feat[i];
    mean /= ZS_N_MELS * ZS_N_FRAMES;
    int fw = 1 + (int)zs_rng_below(&r, 4), f0 = (int)zs_rng_below(&r, (uint32_t)(ZS_N_MELS - fw + 1));
    int tw = 1 + (int)zs_rng_below(&r, 4), t0 = (int)zs_rng_below(&r, (uint32_t)(ZS_N_FRAMES - tw + 1));
    for (int m = 0; m < ZS_N_MELS; m++)
        for (int t = 0; t < ZS_N_FRAMES; t++)
            if ((m >= f0 && m < f0 + fw) || (t >= t0 && t < t0 + tw)) feat[m * ZS_N_FRAMES + t] = (float)mean;
}


/* Copy `k` (>= 1) of a training clip: speed x[0.9, 1.1] (speed_change;
 * tempo and pitch together), with probability reverb_p a synthetic room
 * (reverb), with probability band_p band-limited to 8 kHz sampling and back
 * (a telephone-like 4 kHz bandwidth), fit, shift, gain x[0.5, 1.5], then
 * with probability noise_p (0.8) background noise at a random SNR in
 * [3, 30] dB (silence clips: noise at -70..-20 dBFS). The draw is made
 * whatever noise_p is, so the other choices do not depend on it. The reverb and band-limit draws
 * come from a second generator, so with both off a copy is what it was
 * before they existed. */
static zs_status augment(const aug_opts *o, uint64_t row_index, int k, int label, const float *x,
                         size_t n, float *clip, float *tmp) {
    zs_rng r;
    zs_rng_seed(&r, o->seed * 0x9E3779B97F4A7C15ull ^ (row_index + 1) * 0xBF58476D1CE4E5B9ull ^
                        (uint64_t)k * 0x94D049BB133111EBull);
    float speed = uniform(&r, 0.9f, 1.1f);
    size_t ny = 0;
    float *y = speed_change(x, n, speed, &ny);
    if (!y) return ZS_ERR(ZS_ENOMEM, "out of memory");
    if (o->reverb_p > 0 || o->band_p > 0) {
        zs_rng r2;
        zs_rng_seed(&r2, (o->seed + 0x4EB) * 0x9E3779B97F4A7C15ull ^ (row_index + 1) * 0xBF58476D1CE4E5B9ull ^
                             (uint64_t)k * 0x94D049BB133111EBull);
        if (zs_rng_uniform(&r2) < o->reverb_p) {
            size_t nr = 0;
            float *yr = reverb(&r2, y, ny, &nr);
            free(y);
            if (!yr) return ZS_ERR(ZS_ENOMEM, "out of memory");
            y = yr;
            ny = nr;
        }
        if (zs_rng_uniform(&r2) < o->band_p) {
            size_t nd = 0, nu = 0;
            float *yd = speed_change(y, ny, 2.0, &nd), *yu = yd ? speed_change(yd, nd, 0.5, &nu) : NULL;
            free(yd);
            free(y);
            if (!yu) return ZS_ERR(ZS_ENOMEM, "out of memory");
            y = yu;
            ny = nu;
        }
    }
    zs_clip_fit_centred(y, ny, tmp);
    free(y);
    long shift = lround(uniform(&r, (float)-o->shift_s, (float)o->shift_s) * ZS_SAMPLE_RATE);
    float gain = uniform(&r, 0.5f, 1.5f);
    for (long i = 0; i < ZS_CLIP_SAMPLES; i++) {
        long j = i - shift;
        clip[i] = (j >= 0 && j < ZS_CLIP_SAMPLES) ? gain * tmp[j] : 0.0f;
    }
    if (zs_rng_uniform(&r) < (float)o->noise_p) {
        /* noise segment into tmp, unit RMS */
        if (o->n_beds) {
            const noise_bed *b = &o->beds[zs_rng_below(&r, (uint32_t)o->n_beds)];
            size_t off = (size_t)zs_rng_below(&r, (uint32_t)(b->n < UINT32_MAX ? b->n : UINT32_MAX));
            for (size_t i = 0; i < ZS_CLIP_SAMPLES; i++) tmp[i] = b->x[(off + i) % b->n];
        } else {
            for (size_t i = 0; i < ZS_CLIP_SAMPLES; i++) tmp[i] = 2.0f * zs_rng_uniform(&r) - 1.0f;
        }
        double pn = 0, ps = 0;
        for (size_t i = 0; i < ZS_CLIP_SAMPLES; i++) {
            pn += (double)tmp[i] * tmp[i];
            ps += (double)clip[i] * clip[i];
        }
        pn /= ZS_CLIP_SAMPLES;
        ps /= ZS_CLIP_SAMPLES;
        double scale = 0;
        if (pn > 0) {
            if (label == 1 || ps <= 0) { /* silence: an absolute level */
                double db = uniform(&r, -70.0f, -20.0f);
                scale = pow(10.0, db / 20.0) / sqrt(pn);
            } else {
                double snr = uniform(&r, 3.0f, 30.0f);
                scale = sqrt(ps / (pn * pow(10.0, snr / 10.0)));
            }
        }
        for (size_t i = 0; i < ZS_CLIP_SAMPLES; i++) clip[i] += (float)(scale * tmp[i]);
    }
    for (size_t i = 0; i < ZS_CLIP_SAMPLES; i++)
        clip[i] = clip[i] > 1.0f ? 1.0f : clip[i] < -1.0f ? -1.0f : clip[i];
    return ZS_OK;
}

/* ---- the parallel build ------------------------------------------------- */

typedef struct job {
    const manifest *m;
    zs_dataset *ds[N_SPLITS];
    aug_opts aug;
    atomic_int next;      /* next manifest row to take                       */
    atomic_int done;      /* rows finished                                   */
    atomic_int failed;    /* set by the first failure: everyone stops        */
    pthread_mutex_t lock; /* guards err_*                                    */
    zs_status err_st;
    char err_msg[1024];
    float noise_alpha;    /* --noise: applied to the waveform of every clip  */
    uint64_t noise_seed;
} job;

static void job_fail(job *J, const row *r, zs_status st) {
    pthread_mutex_lock(&J->lock);
    if (!atomic_load(&J->failed)) {
        const char *msg = zs_last_error()[0] ? zs_last_error() : zs_status_str(st);
        if (r) snprintf(J->err_msg, sizeof J->err_msg, "manifest line %d: %s", r->line, msg);
        else snprintf(J->err_msg, sizeof J->err_msg, "%s", msg);
        J->err_st = st;
        atomic_store(&J->failed, 1);
    }
    pthread_mutex_unlock(&J->lock);
}

static void *worker(void *arg) {
    job *J = arg;
    zs_frontend *fe = NULL;
    float *clip = malloc(ZS_CLIP_SAMPLES * sizeof *clip), *tmp = malloc(ZS_CLIP_SAMPLES * sizeof *tmp);
    zs_status st = zs_frontend_create(&fe);
    if (st || !clip || !tmp) {
        if (!st) st = ZS_ERR(ZS_ENOMEM, "out of memory");
        job_fail(J, NULL, st);
        goto out;
    }
    for (;;) {
        if (atomic_load(&J->failed)) break;
        int i = atomic_fetch_add(&J->next, 1);
        if (i >= J->m->n) break;
        const row *r = &J->m->rows[i];
        if (r->out < 0) { atomic_fetch_add(&J->done, 1); continue; } /* split not selected */
        zs_dataset *ds = J->ds[r->split];
        float *feat = zs_dataset_features(ds);
        int32_t *lab = zs_dataset_labels(ds);
        float *x = NULL;
        size_t n = 0;
        st = zs_audio_load(r->open_path, ZS_SAMPLE_RATE, MAX_CLIP_SECONDS, &x, &n);
        if (!st && n == 0) st = ZS_ERR(ZS_EFORMAT, "%s: no samples", r->open_path);
        if (!st) {
            zs_clip_fit_centred(x, n, clip);
            if (J->noise_alpha > 0) /* on the 1 s clip, as the paper's test */
                zs_add_noise(clip, ZS_CLIP_SAMPLES, J->noise_alpha, J->noise_seed * 0x9e3779b97f4a7c15ull + (uint64_t)i);
            st = zs_frontend_logmel(fe, clip, feat + (size_t)r->out * FEAT);
            lab[r->out] = r->label;
        }
        int copies = r->split == SPLIT_TRAIN ? r->copies : 0;
        for (int k = 1; !st && k <= copies; k++) {
            st = augment(&J->aug, (uint64_t)i, k, r->label, x, n, clip, tmp);
            if (!st && J->noise_alpha > 0) /* copies get their own noise */
                zs_add_noise(clip, ZS_CLIP_SAMPLES, J->noise_alpha,
                             J->noise_seed * 0x9e3779b97f4a7c15ull + (uint64_t)i + ((uint64_t)k << 40));
            if (!st) st = zs_frontend_logmel(fe, clip, feat + (size_t)(r->out + k) * FEAT);
            if (!st && J->aug.mask_p > 0) spec_mask(&J->aug, (uint64_t)i, k, feat + (size_t)(r->out + k) * FEAT);
            lab[r->out + k] = r->label;
        }
        free(x);
        if (st) { job_fail(J, r, st); break; }
        atomic_fetch_add(&J->done, 1);
    }
out:
    zs_frontend_free(fe);
    free(clip);
    free(tmp);
    return NULL;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void progress(int done, int total, double t0, int tty, int *last_decile) {
    double el = now_s() - t0;
    if (tty) {
        int w = 30, f = total ? (int)((int64_t)w * done / total) : w;
        double eta = done ? el * (total - done) / done : 0;
        fprintf(stderr, "\r[%.*s%*s] %d/%d clips  %.1f s  eta %.0f s ", f,
                "##############################", w - f, "", done, total, el, eta);
        if (done == total) fputc('\n', stderr);
    } else {
        int dec = total ? (int)((int64_t)10 * done / total) : 10;
        if (dec > *last_decile) {
            fprintf(stderr, "zeroskip dataset: %d/%d clips (%d%%), %.1f s\n", done, total, dec * 10, el);
            *last_decile = dec;
        }
    }
}

static zs_status load_noise_dir(const char *dir, noise_bed **out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) return ZS_ERR(ZS_EIO, "--noise-dir %s: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    zs_status st = ZS_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcasecmp(e->d_name + l - 4, ".wav")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) { st = ZS_ERR(ZS_ENOMEM, "out of memory"); break; }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) { st = ZS_ERR(ZS_ENOMEM, "out of memory"); break; }
        n++;
    }
    closedir(d);
    noise_bed *beds = NULL;
    if (!st && !n) st = ZS_ERR(ZS_EINVAL, "--noise-dir %s: no .wav files", dir);
    if (!st && !(beds = calloc((size_t)n, sizeof *beds))) st = ZS_ERR(ZS_ENOMEM, "out of memory");
    /* sorted by name: the augmentation must not depend on readdir order */
    for (int i = 1; !st && i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j]; names[j] = names[j - 1]; names[j - 1] = t;
        }
    for (int i = 0; !st && i < n; i++) {
        size_t l = strlen(dir) + strlen(names[i]) + 2;
        char *p = malloc(l);
        if (!p) { st = ZS_ERR(ZS_ENOMEM, "out of memory"); break; }
        snprintf(p, l, "%s/%s", dir, names[i]);
        st = zs_audio_load(p, ZS_SAMPLE_RATE, MAX_NOISE_SECONDS, &beds[i].x, &beds[i].n);
        beds[i].name = p;
        if (!st && beds[i].n == 0) st = ZS_ERR(ZS_EFORMAT, "%s: no samples", p);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    if (st) {
        for (int i = 0; beds && i < n; i++) { free(beds[i].x); free(beds[i].name); }
        free(beds);
        return st;
    }
    *out = beds;
    *n_out = n;
    return ZS_OK;
}

static int mkdir_p(const char *dir) {
    char buf[4096];
    size_t l = strlen(dir);
    if (l == 0 || l >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, dir, l + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST) return -1;
    struct stat sb;
    if (stat(buf, &sb) || !S_ISDIR(sb.st_mode)) { errno = ENOTDIR; return -1; }
    return 0;
}

/* DIR/manifest_{split}.csv: index,label,source,speaker,word,copy,path. */
static zs_status write_split_manifest(const manifest *m, int split, const char *path) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return ZS_ERR(ZS_ENOMEM, "out of memory");
    fprintf(f, "index,label,source,speaker,word,copy,path\n");
    for (int i = 0; i < m->n; i++) {
        const row *r = &m->rows[i];
        if (r->split != split) continue;
        for (int k = 0; k <= (split == SPLIT_TRAIN ? r->copies : 0); k++)
            fprintf(f, "%lld,%s,%s,%s,%s,%d,%s\n", (long long)(r->out + k), class_names[r->label],
                    r->source, r->speaker, r->word, k, r->path);
    }
    if (fclose(f)) { free(buf); return ZS_ERR(ZS_ENOMEM, "out of memory"); }
    const void *bufs[1] = {buf};
    size_t sizes[1] = {len};
    zs_status st = zs_write_file_atomic(path, bufs, sizes, 1);
    free(buf);
    return st;
}

static int cmd_build(int argc, char **argv) {
    const char *cmd = "dataset build", *man_path = NULL, *out_dir = NULL, *noise_dir = NULL, *v;
    long augment = 0, threads = 2;
    double shift_ms = 100.0;
    uint64_t seed = 1, noise_seed = 1;
    double noise_alpha = 0, reverb_p = 0, band_p = 0, mask_p = 0, noise_p = 0.8;
    const char *classes = NULL, *aug_source = NULL;
    int quiet = 0, split_mask = (1 << N_SPLITS) - 1;
    classes_default();
    for (int i = 1; i < argc; i++) {
        int g;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\n"
                   "Build feature/label data sets from a manifest CSV (header with columns path, label,\n"
                   "split; optional source, speaker, word). Labels: unknown silence zero one two three\n"
                   "four five six seven eight nine. Splits: train val test. Relative paths are relative\n"
                   "to the manifest's directory. Writes DIR/{train,val,test}.safetensors (features\n"
                   "[N,1,32,32] log-mel, labels [N]) and DIR/manifest_{split}.csv in the same order.\n\n"
                   "  --augment N    extra augmented copies of each training clip (default 0, max %d):\n"
                   "                 speed 0.9-1.1x, time shift, gain 0.5-1.5x, background noise at\n"
                   "                 3-30 dB SNR with probability 0.8 (--noise-p)\n"
                   "  --seed S       augmentation seed (default 1); same seed, same bytes\n"
                   "  --noise-dir D  background noise .wav files for augmentation (default: white noise)\n"
                   "  --shift-ms MS  maximum time shift (default 100)\n"
                   "  --threads T    worker threads (default 2)\n"
                   "  --splits LIST  only these splits (comma-separated; default all)\n"
                   "  --noise ALPHA  the paper's robustness test: every clip (all copies) becomes\n"
                   "                 (1 - ALPHA) x + ALPHA u, u ~ U(-1, 1), seeded per clip\n"
                   "  --noise-seed S seed of that noise (default 1)\n"
                   "  --classes LIST the label set, comma-separated (default unknown,silence,zero,...,nine)\n"
                   "  --augment-source SRC=N,...  N copies for training clips of source SRC instead\n"
                   "  --reverb P     probability of a synthetic room (velvet-noise RIR, RT60 0.1-0.6 s)\n"
                   "  --band-limit P probability of band-limiting to 8 kHz sampling and back\n"
                   "  --spec-mask P  probability of SpecAugment masks (1-4 mels, 1-4 frames) on a copy\n"
                   "  --noise-p P    probability of background noise on a copy (default 0.8)\n"
                   "Every option is recorded in DIR/build.json.\n"
                   "  --quiet        no progress on stderr\n", build_usage, MAX_AUGMENT);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--quiet")) { quiet = 1; continue; }
        if ((g = cli_opt(argc, argv, &i, "--manifest", &man_path))) { if (g < 0) return EXIT_USAGE; continue; }
        if ((g = cli_opt(argc, argv, &i, "--out", &out_dir))) { if (g < 0) return EXIT_USAGE; continue; }
        if ((g = cli_opt(argc, argv, &i, "--noise-dir", &noise_dir))) { if (g < 0) return EXIT_USAGE; continue; }
        if ((g = cli_opt(argc, argv, &i, "--augment", &v))) {
            if (g < 0 || cli_int(cmd, "--augment", v, 0, MAX_AUGMENT, &augment)) return EXIT_USAGE;
            continue;
        }
        if ((g = cli_opt(argc, argv, &i, "--threads", &v))) {
            if (g < 0 || cli_int(cmd, "--threads", v, 1, MAX_THREADS, &threads)) return EXIT_USAGE;
            continue;
        }
        if ((g = cli_opt(argc, argv, &i, "--seed", &v))) {
            if (g < 0 || cli_u64(cmd, "--seed", v, &seed)) return EXIT_USAGE;
            continue;
        }
        if ((g = cli_opt(argc, argv, &i, "--noise", &v))) {
            if (g < 0 || cli_float(cmd, "--noise", v, 0, 1, &noise_alpha)) return EXIT_USAGE;
            continue;
        }
        if ((g = cli_opt(argc, argv, &i, "--noise-seed", &v))) {
            if (g < 0 || cli_u64(cmd, "--noise-seed", v, &noise_seed)) return EXIT_USAGE;
            continue;
        }
        if ((g = cli_opt(argc, argv, &i, "--splits", &v))) {
            if (g < 0) return EXIT_USAGE;
            split_mask = 0;
            char buf[64];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                int k = -1;
                for (int s = 0; s < N_SPLITS; s++) if (!strcmp(tok, split_names[s])) k = s;
                if (k < 0) return cli_usage(cmd, build_usage, "--splits: unknown split '%s' (train, val, test)", tok);
                split_mask |= 1 << k;
            }
            if (!split_mask) return cli_usage(cmd, build_usage, "--splits: empty list");
            continue;
        }
        if ((g = cli_opt(argc, argv, &i, "--classes", &classes))) {
            if (g < 0) return EXIT_USAGE;
            if (classes_parse(classes))
                return cli_usage(cmd, build_usage, "--classes: 2 to %d distinct non-empty names, comma-separated",
                                 MAX_CLASSES);
            continue;
        }
        if ((g = cli_opt(argc, argv, &i, "--augment-source", &aug_source))) { if (g < 0) return EXIT_USAGE; continue; }
        if ((g = cli_opt(argc, argv, &i, "--reverb", &v))) {
            if (g < 0 || cli_float(cmd, "--reverb", v, 0, 1, &reverb_p)) return EXIT_USAGE;
            continue;
        }
        if ((g = cli_opt(argc, argv, &i, "--band-limit", &v))) {
            if (g < 0 || cli_float(cmd, "--band-limit", v, 0, 1, &band_p)) return EXIT_USAGE;
            continue;
        }
        if ((g = cli_opt(argc, argv, &i, "--noise-p", &v))) {
            if (g < 0 || cli_float(cmd, "--noise-p", v, 0, 1, &noise_p)) return EXIT_USAGE;
            continue;
        }
        if ((g = cli_opt(argc, argv, &i, "--spec-mask", &v))) {
            if (g < 0 || cli_float(cmd, "--spec-mask", v, 0, 1, &mask_p)) return EXIT_USAGE;
            continue;
        }
        if ((g = cli_opt(argc, argv, &i, "--shift-ms", &v))) {
            if (g < 0 || cli_float(cmd, "--shift-ms", v, 0, 500, &shift_ms)) return EXIT_USAGE;
            continue;
        }
        return cli_usage(cmd, build_usage, "unknown argument '%s'", argv[i]);
    }
    if (!man_path) return cli_usage(cmd, build_usage, "--manifest is required");
    if (!out_dir) return cli_usage(cmd, build_usage, "--out is required");

    double t0 = now_s();
    manifest m;
    zs_status st = manifest_read(&m, man_path);
    if (st) return cli_fail(cmd, st);
    check_speakers(&m);

    job J;
    memset(&J, 0, sizeof J);
    noise_bed *beds = NULL;
    int n_beds = 0, rc = EXIT_OK;
    int64_t count[N_SPLITS] = {0}, per_class[N_SPLITS][MAX_CLASSES];
    memset(per_class, 0, sizeof per_class);
    pthread_t tid[MAX_THREADS];
    int started = 0;
    if (noise_dir && (st = load_noise_dir(noise_dir, &beds, &n_beds))) { rc = cli_fail(cmd, st); goto done; }
    if (mkdir_p(out_dir)) {
        fprintf(stderr, "zeroskip %s: cannot create --out %s: %s\n", cmd, out_dir, strerror(errno));
        rc = EXIT_IO;
        goto done;
    }
    /* --augment-source SRC=N,...: per-source copies */
    char src_buf[1024];
    const char *src_name[32];
    int src_copies[32], n_src = 0;
    if (aug_source) {
        if (strlen(aug_source) >= sizeof src_buf) { rc = cli_usage(cmd, build_usage, "--augment-source: too long"); goto done; }
        memcpy(src_buf, aug_source, strlen(aug_source) + 1);
        for (char *save = NULL, *t = strtok_r(src_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(t, '=');
            long c = -1;
            if (eq && eq != t) { *eq = '\0'; char *end; c = strtol(eq + 1, &end, 10); if (*end || end == eq + 1) c = -1; }
            if (c < 0 || c > MAX_AUGMENT || n_src == 32) {
                rc = cli_usage(cmd, build_usage, "--augment-source: expected SRC=N,... with N in [0, %d] (at most 32)",
                               MAX_AUGMENT);
                goto done;
            }
            src_name[n_src] = t;
            src_copies[n_src++] = (int)c;
        }
    }
    for (int i = 0; i < m.n; i++) {
        row *r = &m.rows[i];
        r->copies = (int)augment;
        for (int k = 0; k < n_src; k++) if (!strcmp(r->source, src_name[k])) r->copies = src_copies[k];
        if (!(split_mask & (1 << r->split))) { r->out = -1; continue; }
        int copies = r->split == SPLIT_TRAIN ? r->copies : 0;
        r->out = count[r->split];
        count[r->split] += 1 + copies;
        per_class[r->split][r->label] += 1 + copies;
    }
    for (int s = 0; s < N_SPLITS; s++) {
        if (!count[s]) continue;
        if (count[s] > INT32_MAX) { st = ZS_ERR(ZS_ELIMIT, "%s: too many examples", split_names[s]); break; }
        if ((st = zs_dataset_create(&J.ds[s], (int)count[s], 1, ZS_N_MELS, ZS_N_FRAMES))) break;
        if ((st = zs_dataset_set_class_names(J.ds[s], N_CLASSES, class_names))) break;
    }
    if (st) { rc = cli_fail(cmd, st); goto done; }

    J.m = &m;
    J.noise_alpha = (float)noise_alpha;
    J.noise_seed = noise_seed;
    J.aug = (aug_opts){(int)augment, seed, shift_ms / 1000.0, beds, n_beds, reverb_p, band_p, mask_p, noise_p};
    pthread_mutex_init(&J.lock, NULL);
    if (!quiet)
        fprintf(stderr, "zeroskip dataset: %d clips from %s -> %lld examples, %ld threads\n", m.n,
                man_path, (long long)(count[0] + count[1] + count[2]), threads);
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, worker, &J)) break;
    if (!started) {
        fprintf(stderr, "zeroskip %s: cannot start threads\n", cmd);
        rc = EXIT_FAIL;
        goto done;
    }
    int tty = isatty(2), last_dec = 0;
    while (atomic_load(&J.done) < m.n && !atomic_load(&J.failed)) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (!quiet) progress(atomic_load(&J.done), m.n, t0, tty, &last_dec);
    }
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&J.lock);
    if (atomic_load(&J.failed)) {
        if (!quiet && tty) fputc('\n', stderr);
        fprintf(stderr, "zeroskip %s: %s\n", cmd, J.err_msg);
        rc = J.err_st == ZS_EIO ? EXIT_IO : EXIT_FAIL;
        goto done;
    }
    if (!quiet && last_dec < 10) progress(m.n, m.n, t0, tty, &last_dec);

    for (int s = 0; s < N_SPLITS; s++) {
        char path[4096];
        if (!(split_mask & (1 << s))) continue; /* not asked for: left alone */
        if (!J.ds[s]) { /* and no stale file from an earlier build either */
            fprintf(stderr, "zeroskip dataset: no %s clips; %s/%s.safetensors not written\n",
                    split_names[s], out_dir, split_names[s]);
            snprintf(path, sizeof path, "%s/%s.safetensors", out_dir, split_names[s]);
            unlink(path);
            snprintf(path, sizeof path, "%s/manifest_%s.csv", out_dir, split_names[s]);
            unlink(path);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s.safetensors", out_dir, split_names[s]);
        if ((st = zs_dataset_save(J.ds[s], path))) break;
        snprintf(path, sizeof path, "%s/manifest_%s.csv", out_dir, split_names[s]);
        if ((st = write_split_manifest(&m, s, path))) break;
    }
    if (!st) { /* every choice of this build, to rebuild it byte for byte */
        char path[4096], *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) st = ZS_ERR(ZS_ENOMEM, "out of memory");
        else {
            fprintf(f, "{\n \"manifest\": \"%s\",\n \"rows\": %d,\n \"classes\": [", man_path, m.n);
            for (int c = 0; c < N_CLASSES; c++) fprintf(f, "%s\"%s\"", c ? ", " : "", class_names[c]);
            fprintf(f, "],\n \"seed\": %llu,\n \"augment\": %ld,\n \"augment_source\": \"%s\",\n"
                    " \"shift_ms\": %g,\n \"speed\": [0.9, 1.1],\n \"gain\": [0.5, 1.5],\n"
                    " \"noise_p\": %g,\n \"snr_db\": [3, 30],\n \"reverb_p\": %g,\n \"band_limit_p\": %g,\n"
                    " \"spec_mask_p\": %g,\n \"noise_dir\": \"%s\",\n \"noise_files\": [",
                    (unsigned long long)seed, augment, aug_source ? aug_source : "", shift_ms, noise_p, reverb_p,
                    band_p, mask_p, noise_dir ? noise_dir : "");
            for (int b = 0; b < n_beds; b++)
                fprintf(f, "%s{\"file\": \"%s\", \"samples\": %zu}", b ? ", " : "", beds[b].name, beds[b].n);
            fprintf(f, "],\n \"splits\": [");
            for (int s2 = 0, first = 1; s2 < N_SPLITS; s2++)
                if (split_mask & (1 << s2)) { fprintf(f, "%s\"%s\"", first ? "" : ", ", split_names[s2]); first = 0; }
            fprintf(f, "],\n \"noise_alpha\": %g,\n \"noise_seed\": %llu,\n \"examples\": [%lld, %lld, %lld]\n}\n",
                    noise_alpha, (unsigned long long)noise_seed, (long long)count[0], (long long)count[1],
                    (long long)count[2]);
            if (fclose(f)) st = ZS_ERR(ZS_ENOMEM, "out of memory");
            else {
                const void *bufs[1] = {buf};
                size_t sizes[1] = {len};
                snprintf(path, sizeof path, "%s/build.json", out_dir);
                st = zs_write_file_atomic(path, bufs, sizes, 1);
            }
            free(buf);
        }
    }
    if (st) { rc = cli_fail(cmd, st); goto done; }

    printf("%-8s %8s %8s %8s %8s\n", "class", "train", "val", "test", "total");
    for (int c = 0; c < N_CLASSES; c++)
        printf("%-8s %8lld %8lld %8lld %8lld\n", class_names[c], (long long)per_class[0][c],
               (long long)per_class[1][c], (long long)per_class[2][c],
               (long long)(per_class[0][c] + per_class[1][c] + per_class[2][c]));
    printf("%-8s %8lld %8lld %8lld %8lld\n", "all", (long long)count[0], (long long)count[1],
           (long long)count[2], (long long)(count[0] + count[1] + count[2]));
    printf("wrote %s/{train,val,test}.safetensors (features [N,1,%d,%d]) and manifest_*.csv; "
           "%d clips, augment %ld, seed %llu, %.1f s\n", out_dir, ZS_N_MELS, ZS_N_FRAMES, m.n,
           augment, (unsigned long long)seed, now_s() - t0);
done:
    for (int s = 0; s < N_SPLITS; s++) zs_dataset_free(J.ds[s]);
    for (int i = 0; i < n_beds; i++) { free(beds[i].x); free(beds[i].name); }
    free(beds);
    manifest_free(&m);
    return rc;
}

/* ---- stats -------------------------------------------------------------- */

static int cmd_stats(int argc, char **argv) {
    const char *cmd = "dataset stats";
    int labels = 0, files = 0, rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\nExamples, shape and per-class counts of data set files; --labels\n"
                   "also prints INDEX<TAB>LABEL<TAB>CLASS for every example.\n", stats_usage);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--labels")) { labels = 1; continue; }
        if (argv[i][0] == '-' && argv[i][1]) return cli_usage(cmd, stats_usage, "unknown option '%s'", argv[i]);
        files++;
    }
    if (!files) return cli_usage(cmd, stats_usage, "no FILE given");
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) continue;
        zs_dataset *ds = NULL;
        zs_status st = zs_dataset_load(&ds, argv[i]);
        if (st) { int r = cli_fail(cmd, st); if (rc == EXIT_OK) rc = r; continue; }
        int n = zs_dataset_size(ds), c, h, w, k = zs_dataset_num_classes(ds);
        zs_dataset_shape(ds, &c, &h, &w);
        const int32_t *y = zs_dataset_labels_const(ds);
        const float *x = zs_dataset_features_const(ds);
        printf("%s: %d examples of %dx%dx%d, %d classes\n", argv[i], n, c, h, w, k);
        int64_t *cnt = calloc((size_t)(k > 0 ? k : 1), sizeof *cnt);
        int64_t bad = 0;
        for (int j = 0; j < n; j++) {
            if (cnt && y[j] >= 0 && y[j] < k) cnt[y[j]]++;
            else bad++;
        }
        printf("  %5s  %-10s %8s %7s\n", "label", "class", "count", "%");
        for (int j = 0; cnt && j < k; j++) {
            const char *name = zs_dataset_class_name(ds, j);
            printf("  %5d  %-10s %8lld %7.2f\n", j, name ? name : "-", (long long)cnt[j],
                   n ? 100.0 * (double)cnt[j] / n : 0.0);
        }
        if (bad) printf("  labels outside [0, %d): %lld\n", k, (long long)bad);
        size_t ne = (size_t)n * (size_t)c * (size_t)h * (size_t)w;
        if (ne) {
            double mn = x[0], mx = x[0], s = 0, s2 = 0;
            for (size_t j = 0; j < ne; j++) {
                mn = x[j] < mn ? x[j] : mn;
                mx = x[j] > mx ? x[j] : mx;
                s += x[j];
                s2 += (double)x[j] * x[j];
            }
            double mean = s / (double)ne, var = s2 / (double)ne - mean * mean;
            printf("  features: min %.3f max %.3f mean %.3f std %.3f\n", mn, mx, mean,
                   sqrt(var > 0 ? var : 0));
        }
        if (labels)
            for (int j = 0; j < n; j++) {
                const char *name = zs_dataset_class_name(ds, y[j]);
                printf("%d\t%d\t%s\n", j, (int)y[j], name ? name : "-");
            }
        free(cnt);
        zs_dataset_free(ds);
    }
    return rc;
}

int cmd_dataset(int argc, char **argv) {
    static const char *usage = "zeroskip dataset build|stats ... (--help after each for details)";
    if (argc < 2) return cli_usage("dataset", usage, "missing subcommand");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: %s\n       %s\n\nbuild  features and labels from a manifest CSV (see docs/DATASET.md)\n"
               "stats  examples, shape and per-class counts of data set files\n", build_usage, stats_usage);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "build")) return cmd_build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "stats")) return cmd_stats(argc - 1, argv + 1);
    return cli_usage("dataset", usage, "unknown subcommand '%s'", argv[1]);
}

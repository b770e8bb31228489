/*
 * frontend.c — the log-mel front end of nupic.torch's GSC example, i.e.
 * librosa's defaults:
 *   librosa.feature.melspectrogram(y, sr=16000, n_mels=32)  then
 *   librosa.power_to_db(S, ref=np.max)
 * which unrolls to
 *   STFT: n_fft 2048, hop 512, periodic Hann window of 2048, center=True
 *         with reflect padding of n_fft/2 on both sides -> 1 + 16000/512 = 32
 *         frames; power |X|^2 over the 1025 rfft bins;
 *   mel:  32 triangular filters, Slaney mel scale (htk=False), edges evenly
 *         spaced in mel between 0 and 8000 Hz, Slaney area normalisation
 *         (each filter scaled by 2 / (f_right - f_left));
 *   dB:   10 log10(max(1e-10, S)) - 10 log10(max(1e-10, max S)), then
 *         floored at (its maximum - 80).
 * Output: (ZS_N_MELS, ZS_N_FRAMES) float32, row-major (mel band, frame).
 *
 * Precision: the FFT is FFTW single precision (as librosa's stft stores
 * complex64); the window, filterbank, mel sums and dB are in double.
 * scripts/ref_logmel.py is an independent float64 numpy version;
 * tests/test_frontend.c states the tolerance against it.
 *
 * What it is not: a general spectrogram library. Sizes are fixed.
 */
#include "audio_internal.h"
#include "zs_internal.h"
#include <fftw3.h>
#include <math.h>
#include <pthread.h>

#define PADDED (ZS_CLIP_SAMPLES + ZS_N_FFT)   /* 18048: centred, reflect-padded */

/* FFTW's planner is not thread-safe; this mutex is the library's only
 * global besides the CPU-feature cache. */
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

struct zs_frontend {
    fftwf_plan plan;
    float *frame;                          /* (ZS_N_FFT) windowed frame, FFTW-allocated */
    fftwf_complex *spec;                   /* (ZS_N_BINS)                               */
    float window[ZS_N_FFT];                /* periodic Hann                              */
    float fb[ZS_N_MELS * ZS_N_BINS];       /* (ZS_N_MELS, ZS_N_BINS) filterbank          */
    int lo[ZS_N_MELS], hi[ZS_N_MELS];      /* non-zero support [lo, hi) of each filter   */
    float padded[PADDED];                  /* the clip, reflect-padded by ZS_N_FFT/2     */
    double power[ZS_N_BINS];               /* |X|^2 of one frame                         */
    double mel[ZS_N_MELS * ZS_N_FRAMES];   /* (ZS_N_MELS, ZS_N_FRAMES) mel power         */
};

/* Slaney's Auditory Toolbox scale: 3 mels per 200 Hz up to 1 kHz (15 mel),
 * then logarithmic with 27 mels per factor 6.4. */
#define F_SP (200.0 / 3.0)
#define MIN_LOG_HZ 1000.0
#define MIN_LOG_MEL (MIN_LOG_HZ / F_SP)
#define LOGSTEP (0.06875177742094912)   /* log(6.4) / 27 */

double zs_hz_to_mel(double hz) {
    if (hz >= MIN_LOG_HZ) return MIN_LOG_MEL + log(hz / MIN_LOG_HZ) / LOGSTEP;
    return hz / F_SP;
}

double zs_mel_to_hz(double mel) {
    if (mel >= MIN_LOG_MEL) return MIN_LOG_HZ * exp(LOGSTEP * (mel - MIN_LOG_MEL));
    return F_SP * mel;
}

/* librosa.filters.mel(sr=16000, n_fft=2048, n_mels=32, fmin=0, fmax=8000,
 * htk=False, norm='slaney'). */
static void build_filterbank(zs_frontend *fe) {
    double edges[ZS_N_MELS + 2];   /* band edges/centres in Hz */
    double mlo = zs_hz_to_mel(ZS_FMIN), mhi = zs_hz_to_mel(ZS_FMAX);
    for (int i = 0; i < ZS_N_MELS + 2; i++)
        edges[i] = zs_mel_to_hz(mlo + (mhi - mlo) * i / (ZS_N_MELS + 1));
    for (int m = 0; m < ZS_N_MELS; m++) {
        double left = edges[m], centre = edges[m + 1], right = edges[m + 2];
        double enorm = 2.0 / (right - left);
        fe->lo[m] = ZS_N_BINS;
        fe->hi[m] = 0;
        for (int k = 0; k < ZS_N_BINS; k++) {
            double f = (double)k * ZS_SAMPLE_RATE / ZS_N_FFT;   /* linspace(0, sr/2, 1025) */
            double up = (f - left) / (centre - left);
            double down = (right - f) / (right - centre);
            double w = up < down ? up : down;
            if (w < 0) w = 0;
            fe->fb[m * ZS_N_BINS + k] = (float)(w * enorm);
            if (w > 0) {
                if (k < fe->lo[m]) fe->lo[m] = k;
                fe->hi[m] = k + 1;
            }
        }
        if (fe->hi[m] == 0) fe->lo[m] = 0;
    }
}

zs_status zs_frontend_create(zs_frontend **out) {
    ZS_RETURN_IF(!out, ZS_EINVAL, "zs_frontend_create: NULL argument");
    zs_frontend *fe = calloc(1, sizeof *fe);
    ZS_RETURN_IF(!fe, ZS_ENOMEM, "zs_frontend_create: out of memory");
    fe->frame = fftwf_alloc_real(ZS_N_FFT);
    fe->spec = fftwf_alloc_complex(ZS_N_BINS);
    if (!fe->frame || !fe->spec) {
        zs_frontend_free(fe);
        return ZS_ERR(ZS_ENOMEM, "zs_frontend_create: out of memory");
    }
    pthread_mutex_lock(&plan_lock);
    fe->plan = fftwf_plan_dft_r2c_1d(ZS_N_FFT, fe->frame, fe->spec, FFTW_ESTIMATE);
    pthread_mutex_unlock(&plan_lock);
    if (!fe->plan) {
        zs_frontend_free(fe);
        return ZS_ERR(ZS_ENOMEM, "zs_frontend_create: FFTW could not plan a %d-point FFT", ZS_N_FFT);
    }
    /* scipy.signal.get_window('hann', 2048, fftbins=True): periodic. */
    for (int i = 0; i < ZS_N_FFT; i++)
        fe->window[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / ZS_N_FFT));
    build_filterbank(fe);
    *out = fe;
    return ZS_OK;
}

void zs_frontend_free(zs_frontend *fe) {
    if (!fe) return;
    if (fe->plan) {
        pthread_mutex_lock(&plan_lock);
        fftwf_destroy_plan(fe->plan);
        pthread_mutex_unlock(&plan_lock);
    }
    fftwf_free(fe->frame);
    fftwf_free(fe->spec);
    free(fe);
}

zs_status zs_frontend_logmel(zs_frontend *fe, const float *clip, float *out) {
    ZS_RETURN_IF(!fe || !clip || !out, ZS_EINVAL, "zs_frontend_logmel: NULL argument");
    ZS_RETURN_IF(!zs_all_finite(clip, ZS_CLIP_SAMPLES), ZS_ENUMERIC,
                 "zs_frontend_logmel: the clip holds NaN or infinite samples");
    const int half = ZS_N_FFT / 2;
    /* numpy.pad(mode='reflect'): mirror about the first/last sample, which
     * itself is not repeated. */
    for (int i = 0; i < PADDED; i++) {
        int j = i - half;
        if (j < 0) j = -j;
        if (j >= ZS_CLIP_SAMPLES) j = 2 * (ZS_CLIP_SAMPLES - 1) - j;
        fe->padded[i] = clip[j];
    }
    double ref = 0.0;
    for (int t = 0; t < ZS_N_FRAMES; t++) {
        const float *x = fe->padded + t * ZS_HOP;
        for (int i = 0; i < ZS_N_FFT; i++) fe->frame[i] = x[i] * fe->window[i];
        fftwf_execute(fe->plan);
        for (int k = 0; k < ZS_N_BINS; k++) {
            double re = fe->spec[k][0], im = fe->spec[k][1];
            fe->power[k] = re * re + im * im;
        }
        for (int m = 0; m < ZS_N_MELS; m++) {
            const float *w = fe->fb + m * ZS_N_BINS;
            double acc = 0.0;
            for (int k = fe->lo[m]; k < fe->hi[m]; k++) acc += (double)w[k] * fe->power[k];
            fe->mel[m * ZS_N_FRAMES + t] = acc;
            if (acc > ref) ref = acc;
        }
    }
    /* power_to_db(S, ref=np.max, amin=1e-10, top_db=80) */
    double ref_db = 10.0 * log10(ref > ZS_AMIN ? ref : ZS_AMIN);
    double top = -INFINITY;
    for (int i = 0; i < ZS_N_MELS * ZS_N_FRAMES; i++) {
        double s = fe->mel[i];
        double db = 10.0 * log10(s > ZS_AMIN ? s : ZS_AMIN) - ref_db;
        out[i] = (float)db;
        if (db > top) top = db;
    }
    double floor_db = top - ZS_TOP_DB;
    for (int i = 0; i < ZS_N_MELS * ZS_N_FRAMES; i++)
        if (out[i] < floor_db) out[i] = (float)floor_db;
    return ZS_OK;
}

const float *zs_frontend_melfb(const zs_frontend *fe) { return fe ? fe->fb : NULL; }

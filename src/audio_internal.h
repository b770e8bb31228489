/*
 * audio_internal.h — the parts of the audio front end that are not public:
 * an incremental reader for long recordings and pipes (used by
 * `zeroskip listen --stream`) and read access to the log-mel front end's
 * constants and filterbank (used by the tests).
 *
 * What it is not: a general audio I/O layer. Output is always mono float
 * at one fixed rate.
 */
#ifndef ZS_AUDIO_INTERNAL_H
#define ZS_AUDIO_INTERNAL_H

#include "zeroskip.h"
#include <stddef.h>

/* librosa defaults used by nupic.torch's GSC example. */
#define ZS_N_FFT 2048
#define ZS_HOP 512
#define ZS_N_BINS (ZS_N_FFT / 2 + 1)        /* 1025 rfft bins              */
#define ZS_FMIN 0.0
#define ZS_FMAX 8000.0
#define ZS_AMIN 1e-10
#define ZS_TOP_DB 80.0
/* zs_audio_load and the stream refuse more channels than this. */
#define ZS_MAX_CHANNELS 8

/* Slaney mel scale (librosa htk=False): linear below 1 kHz, log above. */
double zs_hz_to_mel(double hz);
double zs_mel_to_hz(double mel);

/* The front end's filterbank, (ZS_N_MELS, ZS_N_BINS) row-major, Slaney
 * area-normalised. Owned by `fe`. */
const float *zs_frontend_melfb(const zs_frontend *fe);
/* The mel power spectrogram before power_to_db, (ZS_N_MELS, ZS_N_FRAMES),
 * of the last zs_frontend_logmel call. Owned by `fe`. */
const double *zs_frontend_melpower(const zs_frontend *fe);

/* Incremental reader: any file libsndfile reads (or "-" for stdin, where
 * libsndfile reads WAV/AU/raw from a pipe), mixed to mono and resampled to
 * `rate` with libsamplerate (best sinc) chunk by chunk, so arbitrarily long
 * recordings use constant memory. raw_rate > 0 reads headerless signed
 * 16-bit little-endian mono PCM at raw_rate Hz instead. Not thread-safe per
 * stream. */
typedef struct zs_audio_stream zs_audio_stream;
zs_status zs_audio_stream_open(zs_audio_stream **out, const char *path, int raw_rate, int rate);
/* Read up to `max` samples into buf. *got == 0 means the end. */
zs_status zs_audio_stream_read(zs_audio_stream *s, float *buf, size_t max, size_t *got);
/* Sample rate and channel count of the source. */
int zs_audio_stream_source_rate(const zs_audio_stream *s);
int zs_audio_stream_source_channels(const zs_audio_stream *s);
void zs_audio_stream_close(zs_audio_stream *s);

#endif

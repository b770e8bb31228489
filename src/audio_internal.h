/*
 * audio_internal.h — the parts of the audio front end that are not public:
 * read access to the log-mel front end's constants and filterbank (used by
 * the tests). (The incremental reader zs_audio_stream is public, in
 * zeroskip.h.)
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

#endif

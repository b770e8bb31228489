/*
 * peak.h — the measured per-core peaks behind zs_cpu_peak_gflops and
 * zs_cpu_stream_gbps (peak.c): one loop pair per ISA file (the SIMD ones
 * from one source, peak_kern.h). Each returns the
 * work it did (FLOPs or bytes) for `iters` iterations; the caller times it.
 */
#ifndef ZS_PEAK_H
#define ZS_PEAK_H
#include <stddef.h>
double zs_peak_fma__scalar(long iters, float *sink);
double zs_peak_fma__avx2(long iters, float *sink);
double zs_peak_fma__avx512(long iters, float *sink);
/* one max-reduction pass over n floats (n a multiple of 64) */
double zs_peak_stream__scalar(const float *x, size_t n, float *sink);
double zs_peak_stream__avx2(const float *x, size_t n, float *sink);
double zs_peak_stream__avx512(const float *x, size_t n, float *sink);
#endif

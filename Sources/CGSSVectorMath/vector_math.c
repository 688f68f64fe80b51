/*
 * Array logarithms on libmvec's vector entry points (glibc >= 2.35 for log1p). The width is
 * chosen once per process from the CPU (vector_width.h): 8 lanes with AVX-512, 4 with AVX2, else 2
 * (SSE2, which every x86-64 has). The vector types and calls live in functions compiled for their ISA only.
 */
#include "gss_vector_math.h"
#include "vector_width.h"

#include <immintrin.h>
#include <string.h>

__m128d _ZGVbN2v_log1p(__m128d);
__m128d _ZGVbN2v_log(__m128d);
GSS_TARGET_4 __m256d _ZGVdN4v_log1p(__m256d);
GSS_TARGET_4 __m256d _ZGVdN4v_log(__m256d);
GSS_TARGET_8 __m512d _ZGVeN8v_log1p(__m512d);
GSS_TARGET_8 __m512d _ZGVeN8v_log(__m512d);

gss_vector_width gss_detect_vector_width(void) {
    static gss_vector_width width = GSS_WIDTH_UNKNOWN;  /* benign race: every thread computes the same value */
    if (width == GSS_WIDTH_UNKNOWN) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")) width = GSS_WIDTH_8;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) width = GSS_WIDTH_4;
        else width = GSS_WIDTH_2;
    }
    return width;
}

/* One body per width: full vectors straight from the array, the tail through a padded copy
 * (padding 1.0 keeps both logarithms finite). */
#define DEFINE_APPLY(name, attribute, vtype, lanes, load, store, function)             \
    attribute static void name(const double *x, double *y, size_t count) {           \
        size_t i = 0;                                                                  \
        for (; i + (lanes) <= count; i += (lanes)) store(y + i, function(load(x + i))); \
        if (i < count) {                                                               \
            double buffer[lanes];                                                      \
            for (size_t k = 0; k < (lanes); ++k) buffer[k] = i + k < count ? x[i + k] : 1.0; \
            store(buffer, function(load(buffer)));                                     \
            memcpy(y + i, buffer, (count - i) * sizeof(double));                       \
        }                                                                              \
    }

DEFINE_APPLY(log1p_2, , __m128d, 2, _mm_loadu_pd, _mm_storeu_pd, _ZGVbN2v_log1p)
DEFINE_APPLY(log1p_4, GSS_TARGET_4, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, _ZGVdN4v_log1p)
DEFINE_APPLY(log1p_8, GSS_TARGET_8, __m512d, 8, _mm512_loadu_pd, _mm512_storeu_pd, _ZGVeN8v_log1p)
DEFINE_APPLY(log_2, , __m128d, 2, _mm_loadu_pd, _mm_storeu_pd, _ZGVbN2v_log)
DEFINE_APPLY(log_4, GSS_TARGET_4, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, _ZGVdN4v_log)
DEFINE_APPLY(log_8, GSS_TARGET_8, __m512d, 8, _mm512_loadu_pd, _mm512_storeu_pd, _ZGVeN8v_log)

void gss_log1p_array(const double *x, double *y, size_t count) {
    switch (gss_detect_vector_width()) {
    case GSS_WIDTH_8: log1p_8(x, y, count); break;
    case GSS_WIDTH_4: log1p_4(x, y, count); break;
    default: log1p_2(x, y, count); break;
    }
}

void gss_log_array(const double *x, double *y, size_t count) {
    switch (gss_detect_vector_width()) {
    case GSS_WIDTH_8: log_8(x, y, count); break;
    case GSS_WIDTH_4: log_4(x, y, count); break;
    default: log_2(x, y, count); break;
    }
}

/* ---- The logistic quantile: two elementwise passes around the vector log1p ---- */

#include <math.h>

#pragma STDC FP_CONTRACT OFF

INLINE void logistic_prepare_body(const double *restrict u, double *restrict noise, double *restrict score, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        const double centred = 2 * u[i] - 1, mirror = 1 - u[i];
        noise[i] = fabs(centred) / (mirror < u[i] ? mirror : u[i]);  /* the smaller side is exact */
        score[i] = centred;
    }
}

INLINE void logistic_sign_body(double *restrict noise, const double *restrict score, size_t count) {
    for (size_t i = 0; i < count; ++i) noise[i] = copysign(noise[i], score[i]);
}

DEFINE_WIDTHS(logistic_prepare, (const double *u, double *noise, double *score, size_t count), (u, noise, score, count))
DEFINE_WIDTHS(logistic_sign, (double *noise, const double *score, size_t count), (noise, score, count))

void gss_logistic_quantile_array(const double *u, double *noise, double *score, size_t count) {
    logistic_prepare(u, noise, score, count);
    gss_log1p_array(noise, noise, count);
    logistic_sign(noise, score, count);
}

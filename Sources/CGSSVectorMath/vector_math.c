/*
 * Array logarithms on libmvec's vector entry points (glibc >= 2.35 for log1p), and the logistic
 * and Gaussian quantiles. The width is chosen once per process from the CPU (vector_width.h):
 * 8 lanes with AVX-512, 4 with AVX2, else 2 (SSE2, which every x86-64 has). The vector types and
 * calls live in functions compiled for their ISA only.
 */
#include "gss_vector_math.h"
#include "vector_width.h"

#include <dlfcn.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libmvec is opened on first use (dlopen), not linked: most runs of gss (eval, --help, list) take
 * no array logarithm, and every library linked in costs every start its loading (BENCHMARKS.md,
 * "Start-up"). It is part of glibc on x86-64, so it is always there. */
typedef __m128d (*vector_2)(__m128d);
typedef __m256d (*vector_4)(__m256d);
typedef __m512d (*vector_8)(__m512d);
static struct {
    vector_2 log1p_2, log_2;
    vector_4 log1p_4, log_4;
    vector_8 log1p_8, log_8;
} mvec;
static pthread_once_t mvec_opened = PTHREAD_ONCE_INIT;

static void *mvec_symbol(void *library, const char *name) {
    void *symbol = library ? dlsym(library, name) : NULL;
    if (!symbol) {
        fprintf(stderr, "gss: cannot load %s from libmvec.so.1 (%s)\n", name, library ? dlerror() : "not found");
        abort();
    }
    return symbol;
}

static void mvec_open(void) {
    void *library = dlopen("libmvec.so.1", RTLD_NOW | RTLD_LOCAL);
    mvec.log1p_2 = (vector_2)mvec_symbol(library, "_ZGVbN2v_log1p");
    mvec.log_2 = (vector_2)mvec_symbol(library, "_ZGVbN2v_log");
    mvec.log1p_4 = (vector_4)mvec_symbol(library, "_ZGVdN4v_log1p");
    mvec.log_4 = (vector_4)mvec_symbol(library, "_ZGVdN4v_log");
    mvec.log1p_8 = (vector_8)mvec_symbol(library, "_ZGVeN8v_log1p");
    mvec.log_8 = (vector_8)mvec_symbol(library, "_ZGVeN8v_log");
}

gss_vector_width gss_detect_vector_width(void) {
    static gss_vector_width width = GSS_WIDTH_UNKNOWN;  /* benign race: every thread computes the same value */
    if (width == GSS_WIDTH_UNKNOWN) {
        __builtin_cpu_init();
        gss_vector_width widest = GSS_WIDTH_2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")) widest = GSS_WIDTH_8;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) widest = GSS_WIDTH_4;
        /* GSS_VECTOR_WIDTH=2|4|8 asks for at most that many doubles per vector (tests compare widths). */
        const char *asked = getenv("GSS_VECTOR_WIDTH");
        gss_vector_width limit = GSS_WIDTH_8;
        if (asked && strcmp(asked, "2") == 0) limit = GSS_WIDTH_2;
        else if (asked && strcmp(asked, "4") == 0) limit = GSS_WIDTH_4;
        width = widest < limit ? widest : limit;
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

DEFINE_APPLY(log1p_2, , __m128d, 2, _mm_loadu_pd, _mm_storeu_pd, mvec.log1p_2)
DEFINE_APPLY(log1p_4, GSS_TARGET_4, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, mvec.log1p_4)
DEFINE_APPLY(log1p_8, GSS_TARGET_8, __m512d, 8, _mm512_loadu_pd, _mm512_storeu_pd, mvec.log1p_8)
DEFINE_APPLY(log_2, , __m128d, 2, _mm_loadu_pd, _mm_storeu_pd, mvec.log_2)
DEFINE_APPLY(log_4, GSS_TARGET_4, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, mvec.log_4)
DEFINE_APPLY(log_8, GSS_TARGET_8, __m512d, 8, _mm512_loadu_pd, _mm512_storeu_pd, mvec.log_8)

void gss_log1p_array(const double *x, double *y, size_t count) {
    pthread_once(&mvec_opened, mvec_open);
    switch (gss_detect_vector_width()) {
    case GSS_WIDTH_8: log1p_8(x, y, count); break;
    case GSS_WIDTH_4: log1p_4(x, y, count); break;
    default: log1p_2(x, y, count); break;
    }
}

void gss_log_array(const double *x, double *y, size_t count) {
    pthread_once(&mvec_opened, mvec_open);
    switch (gss_detect_vector_width()) {
    case GSS_WIDTH_8: log_8(x, y, count); break;
    case GSS_WIDTH_4: log_4(x, y, count); break;
    default: log_2(x, y, count); break;
    }
}

/* ---- The logistic quantile: two elementwise passes around the vector log1p ---- */

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

/* ---- The normal quantile: Wichura, "The Percentage Points of the Normal Distribution",
 * Applied Statistics 37(3), 477–484, 1988 (AS 241, PPND16) ---- */

/* Central region |u − 1/2| ≤ 0.425. */
static const double central_num[8] = {
    3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3, 1.3731693765509461125e+4,
    4.5921953931549871457e+4, 6.7265770927008700853e+4, 3.3430575583588128105e+4, 2.5090809287301226727e+3};
static const double central_den[7] = {
    4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3, 2.1213794301586595867e+4,
    3.9307895800092710610e+4, 2.8729085735721942674e+4, 5.2264952788528545610e+3};
/* Intermediate tail, r = √(−log min(u, 1 − u)) ≤ 5. */
static const double near_num[8] = {
    1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0, 3.64784832476320460504e0,
    1.27045825245236838258e0, 2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4};
static const double near_den[7] = {
    2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1, 1.48103976427480074590e-1,
    1.51986665636164571966e-2, 5.47593808499534494600e-4, 1.05075007164441684324e-9};
/* Far tail, r > 5. */
static const double far_num[8] = {
    6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0, 2.96560571828504891230e-1,
    2.65321895265761230930e-2, 1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7};
static const double far_den[7] = {
    5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2, 7.86869131145613259100e-4,
    1.84631831751005468180e-5, 1.42151175831644588870e-7, 2.04426310338993978564e-15};

/* num(r) by Horner's rule from the highest power, and den(r), whose constant term is 1. */
INLINE double horner_num(const double num[8], double r) {
    double value = num[7];
    for (int k = 6; k >= 0; --k) value = value * r + num[k];
    return value;
}

INLINE double horner_den(const double den[7], double r) {
    double value = den[6];
    for (int k = 5; k >= 0; --k) value = value * r + den[k];
    return value * r + 1;
}

static double normal_tail(double u) {
    const double q = u - 0.5;
    /* u < 1/2 uses u itself; u > 1/2 uses 1 − u, which is exact there (Sterbenz). */
    const double r = sqrt(-log(q < 0 ? u : 1 - u));
    double z;
    if (r <= 5) z = horner_num(near_num, r - 1.6) / horner_den(near_den, r - 1.6);
    else z = horner_num(far_num, r - 5) / horner_den(far_den, r - 5);
    return q < 0 ? -z : z;
}

/* Every element through the central formula (vectorised), then the tail ones again, one by one. */
INLINE void normal_quantile_body(const double *restrict u, double *restrict z, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        const double q = u[i] - 0.5, r = 0.180625 - q * q;
        z[i] = q * horner_num(central_num, r) / horner_den(central_den, r);
    }
    for (size_t i = 0; i < count; ++i) {
        if (fabs(u[i] - 0.5) > 0.425) z[i] = normal_tail(u[i]);
    }
}

DEFINE_EXPORTED_WIDTHS(gss_normal_quantile_array, normal_quantile, (const double *u, double *z, size_t count), (u, z, count))

/* Rows of fewer than 8 numbers run as one flat array whose offsets and scales repeat with period
 * n: tiled 8 times, a block of 8n numbers is one vectorisable pass. Wider rows vectorise as they are. */
enum { PERTURB_TILED_MAX = 8 };

INLINE void perturb_rows_body(
    const double *x, const double *gamma, const double *noise, size_t rows, size_t n, double *out) {
    if (n >= PERTURB_TILED_MAX) {
        for (size_t r = 0; r < rows; ++r)
            for (size_t j = 0; j < n; ++j) out[r * n + j] = x[j] + gamma[j] * noise[r * n + j];
        return;
    }
    const size_t period = PERTURB_TILED_MAX * n, total = rows * n;
    double offsets[PERTURB_TILED_MAX * PERTURB_TILED_MAX], scales[PERTURB_TILED_MAX * PERTURB_TILED_MAX];
    for (size_t t = 0; t < period; ++t) {
        offsets[t] = x[t % n];
        scales[t] = gamma[t % n];
    }
    size_t start = 0;
    for (; start + period <= total; start += period)
        for (size_t t = 0; t < period; ++t) out[start + t] = offsets[t] + scales[t] * noise[start + t];
    for (size_t t = 0; start + t < total; ++t) out[start + t] = offsets[t] + scales[t] * noise[start + t];
}

DEFINE_EXPORTED_WIDTHS(gss_perturb_rows, perturb_rows,
    (const double *x, const double *gamma, const double *noise, size_t rows, size_t n, double *out),
    (x, gamma, noise, rows, n, out))

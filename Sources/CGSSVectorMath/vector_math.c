/*
 * Array logarithms on libmvec's vector entry points (glibc >= 2.35 for log1p). The width is
 * chosen once per process from the CPU: 8 lanes with AVX-512, 4 with AVX2, else 2 (SSE2, which
 * every x86-64 has). The vector types and calls live in functions compiled for their ISA only.
 */
#include "gss_vector_math.h"

#include <immintrin.h>
#include <string.h>

__m128d _ZGVbN2v_log1p(__m128d);
__m128d _ZGVbN2v_log(__m128d);
__attribute__((target("avx2,fma"))) __m256d _ZGVdN4v_log1p(__m256d);
__attribute__((target("avx2,fma"))) __m256d _ZGVdN4v_log(__m256d);
__attribute__((target("avx512f"))) __m512d _ZGVeN8v_log1p(__m512d);
__attribute__((target("avx512f"))) __m512d _ZGVeN8v_log(__m512d);

typedef enum { WIDTH_UNKNOWN = 0, WIDTH_2, WIDTH_4, WIDTH_8 } vector_width;

static vector_width detect_width(void) {
    static vector_width width = WIDTH_UNKNOWN;  /* benign race: every thread computes the same value */
    if (width == WIDTH_UNKNOWN) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f")) width = WIDTH_8;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) width = WIDTH_4;
        else width = WIDTH_2;
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
DEFINE_APPLY(log1p_4, __attribute__((target("avx2,fma"))), __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, _ZGVdN4v_log1p)
DEFINE_APPLY(log1p_8, __attribute__((target("avx512f"))), __m512d, 8, _mm512_loadu_pd, _mm512_storeu_pd, _ZGVeN8v_log1p)
DEFINE_APPLY(log_2, , __m128d, 2, _mm_loadu_pd, _mm_storeu_pd, _ZGVbN2v_log)
DEFINE_APPLY(log_4, __attribute__((target("avx2,fma"))), __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, _ZGVdN4v_log)
DEFINE_APPLY(log_8, __attribute__((target("avx512f"))), __m512d, 8, _mm512_loadu_pd, _mm512_storeu_pd, _ZGVeN8v_log)

void gss_log1p_array(const double *x, double *y, size_t count) {
    switch (detect_width()) {
    case WIDTH_8: log1p_8(x, y, count); break;
    case WIDTH_4: log1p_4(x, y, count); break;
    default: log1p_2(x, y, count); break;
    }
}

void gss_log_array(const double *x, double *y, size_t count) {
    switch (detect_width()) {
    case WIDTH_8: log_8(x, y, count); break;
    case WIDTH_4: log_4(x, y, count); break;
    default: log_2(x, y, count); break;
    }
}

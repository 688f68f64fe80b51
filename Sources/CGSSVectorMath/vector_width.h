/* The widest vector instruction set this CPU runs, detected once per process (internal); the
 * environment variable GSS_VECTOR_WIDTH=2 or 4 caps it (for comparing widths). */
#ifndef GSS_VECTOR_WIDTH_H
#define GSS_VECTOR_WIDTH_H

typedef enum {
    GSS_WIDTH_UNKNOWN = 0,
    GSS_WIDTH_2,  /* SSE2: every x86-64 */
    GSS_WIDTH_4,  /* AVX2 and FMA */
    GSS_WIDTH_8,  /* AVX-512 F, DQ, VL and BW */
} gss_vector_width;

/* The attributes that compile a function for each width. */
#define GSS_TARGET_4 __attribute__((target("avx2,fma")))
#define GSS_TARGET_8 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))

__attribute__((visibility("hidden"))) gss_vector_width gss_detect_vector_width(void);

#define INLINE static inline __attribute__((always_inline))

/* From an always-inline `name##_body`, three static wrappers compiled for SSE2, AVX2 and AVX-512
 * (inlining compiles the body for each), and `static void name params` calling the widest this
 * CPU runs. */
#define DEFINE_WIDTHS(name, params, args)                               \
    static void name##_2 params { name##_body args; }                 \
    GSS_TARGET_4 static void name##_4 params { name##_body args; }    \
    GSS_TARGET_8 static void name##_8 params { name##_body args; }    \
    static void name params {                                         \
        switch (gss_detect_vector_width()) {                          \
        case GSS_WIDTH_8: name##_8 args; break;                       \
        case GSS_WIDTH_4: name##_4 args; break;                       \
        default: name##_2 args; break;                                \
        }                                                             \
    }

#endif /* GSS_VECTOR_WIDTH_H */

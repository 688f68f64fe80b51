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

/* Three static wrappers around the always-inline bodies `body_2`, `body_4` and `body_8`, compiled
 * for SSE2, AVX2 and AVX-512 (inlining compiles each body for its target), named name##_2, _4, _8. */
#define GSS_WIDTH_VARIANTS(type, ret, name, body_2, body_4, body_8, params, args) \
    static type name##_2 params { ret body_2 args; }                             \
    GSS_TARGET_4 static type name##_4 params { ret body_4 args; }                \
    GSS_TARGET_8 static type name##_8 params { ret body_8 args; }

/* `type dispatcher params`, calling the variant of `name` for the widest width this CPU runs.
 * `ret` is `return` for a value, empty for void. */
#define GSS_WIDTH_DISPATCHER(type, ret, dispatcher, name, params, args) \
    type dispatcher params {                                             \
        switch (gss_detect_vector_width()) {                             \
        case GSS_WIDTH_8: ret name##_8 args; break;                      \
        case GSS_WIDTH_4: ret name##_4 args; break;                      \
        default: ret name##_2 args; break;                               \
        }                                                                \
    }

/* The variants and a static dispatcher `name`. */
#define GSS_WIDTH_WRAPPERS(type, ret, name, body_2, body_4, body_8, params, args) \
    GSS_WIDTH_VARIANTS(type, ret, name, body_2, body_4, body_8, params, args)   \
    GSS_WIDTH_DISPATCHER(static type, ret, name, name, params, args)

/* The wrappers of one body `name##_body`, for every width: void, or returning `type`. */
#define DEFINE_WIDTHS(name, params, args) \
    GSS_WIDTH_WRAPPERS(void, , name, name##_body, name##_body, name##_body, params, args)
#define DEFINE_WIDTHS_RETURNING(type, name, params, args) \
    GSS_WIDTH_WRAPPERS(type, return, name, name##_body, name##_body, name##_body, params, args)

/* The same, with the dispatcher the public entry `exported` (declared in a public header). */
#define DEFINE_EXPORTED_WIDTHS(exported, name, params, args)                                  \
    GSS_WIDTH_VARIANTS(void, , name, name##_body, name##_body, name##_body, params, args) \
    GSS_WIDTH_DISPATCHER(void, , exported, name, params, args)
#define DEFINE_EXPORTED_WIDTHS_RETURNING(type, exported, name, params, args)                      \
    GSS_WIDTH_VARIANTS(type, return, name, name##_body, name##_body, name##_body, params, args) \
    GSS_WIDTH_DISPATCHER(type, return, exported, name, params, args)

#endif /* GSS_VECTOR_WIDTH_H */

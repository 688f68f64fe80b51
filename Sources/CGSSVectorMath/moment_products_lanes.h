/*
 * The fused moment products (gss_moment_products) for one vector length: included by
 * moment_kernels.c once per LANES (8 for AVX-512, 4 for AVX2, 2 for SSE2), which names the
 * functions with that suffix. Internal; not a public header.
 */
#define LANES_NAME_(name, lanes) name##_##lanes
#define LANES_NAME(name, lanes) LANES_NAME_(name, lanes)
#define LANES_F64 LANES_NAME(lanes_f64, LANES)
#define LANES_I64 LANES_NAME(lanes_i64, LANES)

typedef double LANES_F64 __attribute__((vector_size(8 * LANES)));
typedef int64_t LANES_I64 __attribute__((vector_size(8 * LANES)));

/* One span: responses [base, base + blocks·LANES), blocks vectors side by side, each with its
 * 3p + 2 sums in registers (p and blocks are constants in every instantiation, see
 * moment_products_body). Writes the lanes from `fresh` on (those below repeat finished responses).
 * The design's last column is 1, so its products are the responses themselves: added, not
 * multiplied (the same bits). Returns 1 when the written lanes' Σr are finite, which they are
 * exactly when those lanes' responses are, unless the sum overflows (the caller tells which). */
INLINE int LANES_NAME(moment_span, LANES)(
    const double *restrict responses, const double *restrict shift, const double *restrict design, size_t rows,
    size_t q, const size_t p, const size_t blocks, size_t base, size_t fresh, double *restrict shifted,
    double *restrict first, double *restrict second) {
    const size_t width = 2 * p + 1, second_width = p + 1;
    LANES_F64 offset[MAX_BLOCKS], sums[MAX_BLOCKS][MAX_SUMS];
    for (size_t k = 0; k < blocks; ++k) {
        memcpy(&offset[k], shift + base + k * LANES, sizeof offset[k]);
        for (size_t b = 0; b < 3 * p + 2; ++b) sums[k][b] = (LANES_F64){0};
    }
    /* Rows of a page or more put each row of a span on a page of its own, and the span's rows are
     * more streams than the prefetchers follow: fetch both lines of every vector two spans ahead
     * (measured on the 64 × 64 renderer's chunks: 310–350 µs a chunk without, 170–180 µs with). */
    const size_t ahead = q * sizeof(double) >= PREFETCH_MIN_ROW_BYTES && base + 3 * blocks * LANES <= q
        ? 2 * blocks * LANES : 0;
    for (size_t row = 0; row < rows; ++row) {
        const double *d = design + row * width;
        if (ahead) {
            for (size_t k = 0; k < blocks; ++k) {
                const double *next = responses + row * q + base + k * LANES + ahead;
                __builtin_prefetch(next);
                __builtin_prefetch(next + LANES - 1);
            }
        }
        for (size_t k = 0; k < blocks; ++k) {
            const size_t at = row * q + base + k * LANES;
            LANES_F64 r;
            memcpy(&r, responses + at, sizeof r);
            r = r - offset[k];
            if (shifted) memcpy(shifted + at, &r, sizeof r);
            const LANES_F64 r2 = r * r;
            for (size_t b = 0; b < 2 * p; ++b) sums[k][b] += r * d[b];
            sums[k][2 * p] += r;
            for (size_t b = 0; b < p; ++b) sums[k][width + b] += r2 * d[p + b];
            sums[k][width + p] += r2;
        }
    }
    /* x − x is 0 exactly when x is finite. The lanes below `fresh` were checked before. */
    LANES_I64 finite = (LANES_I64){0} - 1;
    for (size_t k = 0; k < blocks; ++k) {
        finite &= sums[k][2 * p] - sums[k][2 * p] == 0;
        for (size_t lane = 0; lane < LANES; ++lane) {
            const size_t a = base + k * LANES + lane;
            if (a < fresh) continue;
            for (size_t b = 0; b < width; ++b) first[a * width + b] = sums[k][b][lane];
            for (size_t b = 0; b < second_width; ++b) second[a * second_width + b] = sums[k][width + b][lane];
        }
    }
    int all = 1;
    for (size_t lane = 0; lane < LANES; ++lane) all &= finite[lane] != 0;
    return all;
}

/* Every response in spans of blocks·LANES, then the rest in single vectors; a last partial vector
 * moves back to end at q, at half the width when the rest fits (a narrower vector costs less). */
INLINE int LANES_NAME(moment_products_fixed, LANES)(
    const double *responses, const double *shift, const double *design, size_t rows, size_t q, const size_t p,
    const size_t blocks, double *shifted, double *first, double *second) {
    const size_t span = blocks * LANES;
    int finite = 1;
    size_t start = 0;
    for (; start + span <= q; start += span)
        finite &= LANES_NAME(moment_span, LANES)(
            responses, shift, design, rows, q, p, blocks, start, start, shifted, first, second);
    for (; start + LANES <= q; start += LANES)
        finite &= LANES_NAME(moment_span, LANES)(
            responses, shift, design, rows, q, p, 1, start, start, shifted, first, second);
    if (start < q) {
#ifdef LANES_HALF_SPAN
        if (q - start <= LANES / 2)
            return finite & LANES_HALF_SPAN(
                responses, shift, design, rows, q, p, 1, q - LANES / 2, start, shifted, first, second);
#endif
        finite &= LANES_NAME(moment_span, LANES)(
            responses, shift, design, rows, q, p, 1, q - LANES, start, shifted, first, second);
    }
    return finite;
}

INLINE int LANES_NAME(moment_products_body, LANES)(
    const double *responses, const double *shift, const double *design, size_t rows, size_t q, size_t p,
    double *shifted, double *first, double *second) {
    /* Two vectors side by side when their sums fit the 32 AVX-512 registers (p ≤ 4): half the
     * strided passes over a wide chunk's rows. */
    const size_t blocks = LANES == 8 && q >= 2 * LANES ? 2 : 1;
    switch (p) {
#define CASE(features, most_blocks) \
    case features: \
        return blocks == 2 && most_blocks == 2 \
            ? LANES_NAME(moment_products_fixed, LANES)(responses, shift, design, rows, q, features, 2, shifted, first, second) \
            : LANES_NAME(moment_products_fixed, LANES)(responses, shift, design, rows, q, features, 1, shifted, first, second);
    CASE(1, 2) CASE(2, 2) CASE(3, 2) CASE(4, 2) CASE(5, 1) CASE(6, 1) CASE(7, 1) CASE(8, 1)
#undef CASE
    default: return 0;  /* outside the contract (the header's limits) */
    }
}

#undef LANES_F64
#undef LANES_I64

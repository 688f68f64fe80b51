/*
 * The estimators' per-chunk sums (gss_moment_kernels.h), one body per vector width.
 */
#include "gss_moment_kernels.h"
#include "vector_width.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Every multiply and add rounds on its own, as in the Swift fallbacks, at every width. */
#pragma STDC FP_CONTRACT OFF

/* ---- Shift, square, check ---- */

/* out = values − pattern and out² = out∘out over count numbers; clears *finite on NaN or ±∞. */
INLINE void shift_span(
    const double *restrict values, const double *restrict pattern, size_t count, double *restrict out,
    double *restrict out2, int *finite) {
    int all = 1;  /* an integer reduction, so that it vectorises */
    for (size_t k = 0; k < count; ++k) {
        const double value = values[k] - pattern[k];
        out[k] = value;
        out2[k] = value * value;
        all &= fabs(value) <= DBL_MAX;
    }
    *finite &= all;
}

enum { SHIFT_TILE_ROWS = 8, SHIFT_TILE_MAX_WIDTH = 64 };

INLINE void shift_square_check_body(
    const double *responses, const double *shift, size_t rows, size_t q, double *shifted, double *squared,
    int *finite) {
    *finite = 1;
    size_t r = 0;
    if (q < SHIFT_TILE_MAX_WIDTH) {
        /* Narrow rows: eight at a time against eight copies of the shift, one long vector loop. */
        double tile[SHIFT_TILE_ROWS * SHIFT_TILE_MAX_WIDTH];
        for (size_t t = 0; t < SHIFT_TILE_ROWS; ++t) memcpy(tile + t * q, shift, q * sizeof *shift);
        for (; r + SHIFT_TILE_ROWS <= rows; r += SHIFT_TILE_ROWS)
            shift_span(responses + r * q, tile, SHIFT_TILE_ROWS * q, shifted + r * q, squared + r * q, finite);
    }
    for (; r < rows; ++r) shift_span(responses + r * q, shift, q, shifted + r * q, squared + r * q, finite);
}

DEFINE_WIDTHS(shift_square_check,
    (const double *responses, const double *shift, size_t rows, size_t q, double *shifted, double *squared,
        int *finite),
    (responses, shift, rows, q, shifted, squared, finite))

int gss_shift_square_check(
    const double *responses, const double *shift, size_t rows, size_t q, double *shifted, double *squared) {
    int finite = 0;
    shift_square_check(responses, shift, rows, q, shifted, squared, &finite);
    return finite;
}

/* ---- Design rows ---- */

enum { DESIGN_MAX_UNROLLED = GSS_MOMENT_PRODUCTS_MAX_FEATURES };

/* With p a constant (see moment_design_body), the running sums stay in registers. */
INLINE void moment_design_fixed(
    const double *restrict features, size_t rows, const size_t p, double *restrict design, double *restrict sum_phi,
    double *restrict sum_phi2) {
    double sums[DESIGN_MAX_UNROLLED], squares[DESIGN_MAX_UNROLLED];
    for (size_t b = 0; b < p; ++b) {
        sums[b] = sum_phi[b];
        squares[b] = sum_phi2[b];
    }
    for (size_t row = 0; row < rows; ++row) {
        const double *phi = features + row * p;
        double *out = design + row * (2 * p + 1);
        for (size_t b = 0; b < p; ++b) {
            const double value = phi[b], square = value * value;
            out[b] = value;
            out[p + b] = square;
            sums[b] += value;
            squares[b] += square;
        }
        out[2 * p] = 1;
    }
    for (size_t b = 0; b < p; ++b) {
        sum_phi[b] = sums[b];
        sum_phi2[b] = squares[b];
    }
}

INLINE void moment_design_body(
    const double *features, size_t rows, size_t p, double *design, double *sum_phi, double *sum_phi2) {
    switch (p) {
#define CASE(count) \
    case count: moment_design_fixed(features, rows, count, design, sum_phi, sum_phi2); return;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default: break;
    }
    for (size_t row = 0; row < rows; ++row) {  /* many features: column sums through memory */
        const double *phi = features + row * p;
        double *out = design + row * (2 * p + 1);
        for (size_t b = 0; b < p; ++b) {
            const double value = phi[b], square = value * value;
            out[b] = value;
            out[p + b] = square;
            sum_phi[b] += value;
            sum_phi2[b] += square;
        }
        out[2 * p] = 1;
    }
}

DEFINE_WIDTHS(moment_design,
    (const double *features, size_t rows, size_t p, double *design, double *sum_phi, double *sum_phi2),
    (features, rows, p, design, sum_phi, sum_phi2))

void gss_moment_design(
    const double *features, size_t rows, size_t p, double *design, double *sum_phi, double *sum_phi2) {
    moment_design(features, rows, p, design, sum_phi, sum_phi2);
}

/* ---- The fused products ---- */

/* Eight responses at a time (GSS_MOMENT_PRODUCTS_MIN_RESPONSES), their 3p + 2 sums in registers:
 * a vector type of eight doubles is one register with AVX-512, two with AVX2, four with SSE2. */
typedef double lanes_f64 __attribute__((vector_size(64)));
typedef int64_t lanes_i64 __attribute__((vector_size(64)));
enum { LANES = 8, MAX_SUMS = 3 * GSS_MOMENT_PRODUCTS_MAX_FEATURES + 2, MAX_BLOCKS = 2 };

/* p and blocks are constants in every instantiation (see moment_products_body), so the sums stay
 * in registers: blocks vectors of responses side by side, 3p + 2 sums each. */
INLINE int moment_products_fixed(
    const double *restrict responses, const double *restrict shift, const double *restrict design, size_t rows,
    size_t q, const size_t p, const size_t blocks, double *restrict shifted, double *restrict first,
    double *restrict second) {
    const size_t width = 2 * p + 1, second_width = p + 1, span = blocks * LANES;
    const lanes_i64 exponent = (lanes_i64){0} + 0x7FF0000000000000ll;
    lanes_i64 finite = (lanes_i64){0} - 1;
    for (size_t start = 0; start < q; start += span) {
        /* A last partial span moves back to end at q: its first lanes repeat finished responses. */
        const size_t base = start + span <= q ? start : q - span;
        lanes_f64 offset[MAX_BLOCKS], sums[MAX_BLOCKS][MAX_SUMS];
        for (size_t k = 0; k < blocks; ++k) {
            memcpy(&offset[k], shift + base + k * LANES, sizeof offset[k]);
            for (size_t b = 0; b < 3 * p + 2; ++b) sums[k][b] = (lanes_f64){0};
        }
        for (size_t row = 0; row < rows; ++row) {
            const double *d = design + row * width;
            for (size_t k = 0; k < blocks; ++k) {
                const size_t at = row * q + base + k * LANES;
                lanes_f64 r;
                memcpy(&r, responses + at, sizeof r);
                r = r - offset[k];
                if (shifted) memcpy(shifted + at, &r, sizeof r);
                lanes_i64 bits;
                memcpy(&bits, &r, sizeof bits);
                finite &= (bits & exponent) != exponent;
                const lanes_f64 r2 = r * r;
                for (size_t b = 0; b < width; ++b) sums[k][b] += r * d[b];
                for (size_t b = 0; b < second_width; ++b) sums[k][width + b] += r2 * d[p + b];
            }
        }
        for (size_t k = 0; k < blocks; ++k) {
            for (size_t lane = 0; lane < LANES; ++lane) {
                const size_t a = base + k * LANES + lane;
                if (a < start) continue;  /* done by the previous span */
                for (size_t b = 0; b < width; ++b) first[a * width + b] = sums[k][b][lane];
                for (size_t b = 0; b < second_width; ++b) second[a * second_width + b] = sums[k][width + b][lane];
            }
        }
    }
    int all = 1;
    for (size_t lane = 0; lane < LANES; ++lane) all &= finite[lane] != 0;
    return all;
}

INLINE void moment_products_body(
    const double *responses, const double *shift, const double *design, size_t rows, size_t q, size_t p,
    double *shifted, double *first, double *second, int *finite) {
    /* Two vectors side by side when their sums fit the 32 AVX-512 registers (p ≤ 4): half the
     * strided passes over a wide chunk's rows. */
    const int paired = q >= 2 * LANES;
    switch (p) {
#define CASE(features, blocks) \
    case features: *finite = moment_products_fixed(responses, shift, design, rows, q, features, blocks, shifted, first, second); break;
#define PAIRED_CASE(features) \
    case features: \
        *finite = paired ? moment_products_fixed(responses, shift, design, rows, q, features, 2, shifted, first, second) \
                         : moment_products_fixed(responses, shift, design, rows, q, features, 1, shifted, first, second); \
        break;
    PAIRED_CASE(1) PAIRED_CASE(2) PAIRED_CASE(3) PAIRED_CASE(4) CASE(5, 1) CASE(6, 1) CASE(7, 1) CASE(8, 1)
#undef CASE
#undef PAIRED_CASE
    default: *finite = 0; break;  /* outside the contract (the header's limits) */
    }
}

DEFINE_WIDTHS(moment_products,
    (const double *responses, const double *shift, const double *design, size_t rows, size_t q, size_t p,
        double *shifted, double *first, double *second, int *finite),
    (responses, shift, design, rows, q, p, shifted, first, second, finite))

int gss_moment_products(
    const double *responses, const double *shift, const double *design, size_t rows, size_t q, size_t p,
    double *shifted, double *first, double *second) {
    if (p < 1 || p > GSS_MOMENT_PRODUCTS_MAX_FEATURES || q < GSS_MOMENT_PRODUCTS_MIN_RESPONSES) return 0;
    int finite = 0;
    moment_products(responses, shift, design, rows, q, p, shifted, first, second, &finite);
    return finite;
}

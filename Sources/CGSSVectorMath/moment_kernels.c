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

INLINE int shift_square_check_body(
    const double *responses, const double *shift, size_t rows, size_t q, double *shifted, double *squared) {
    int finite = 1;
    size_t r = 0;
    if (q < SHIFT_TILE_MAX_WIDTH) {
        /* Narrow rows: eight at a time against eight copies of the shift, one long vector loop. */
        double tile[SHIFT_TILE_ROWS * SHIFT_TILE_MAX_WIDTH];
        for (size_t t = 0; t < SHIFT_TILE_ROWS; ++t) memcpy(tile + t * q, shift, q * sizeof *shift);
        for (; r + SHIFT_TILE_ROWS <= rows; r += SHIFT_TILE_ROWS)
            shift_span(responses + r * q, tile, SHIFT_TILE_ROWS * q, shifted + r * q, squared + r * q, &finite);
    }
    for (; r < rows; ++r) shift_span(responses + r * q, shift, q, shifted + r * q, squared + r * q, &finite);
    return finite;
}

DEFINE_EXPORTED_WIDTHS_RETURNING(int, gss_shift_square_check, shift_square_check,
    (const double *responses, const double *shift, size_t rows, size_t q, double *shifted, double *squared),
    (responses, shift, rows, q, shifted, squared))

/* ---- Survey of the zeros ---- */

INLINE size_t survey_rows_body(
    const double *restrict responses, const double *restrict reference, size_t rows, size_t q,
    uint8_t *restrict flags, size_t *differing) {
    size_t count = 0;
    for (size_t row = 0; row < rows; ++row) {
        const double *values = responses + row * q;
        for (size_t a = 0; a < q; ++a) {
            const uint8_t differs = values[a] != reference[a];
            flags[a] |= differs;
            count += differs;
        }
    }
    *differing += count;
    size_t active = 0;
    for (size_t a = 0; a < q; ++a) active += flags[a];
    return active;
}

DEFINE_EXPORTED_WIDTHS_RETURNING(size_t, gss_survey_rows, survey_rows,
    (const double *responses, const double *reference, size_t rows, size_t q, uint8_t *flags, size_t *differing),
    (responses, reference, rows, q, flags, differing))

/* ---- Design rows ---- */

/* The design rows, and the running column sums sums[b] += φ_b, squares[b] += φ_b². */
INLINE void design_rows(
    const double *restrict features, size_t rows, size_t p, double *restrict design, double *restrict sums,
    double *restrict squares) {
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
}

enum { DESIGN_MAX_UNROLLED = GSS_MOMENT_PRODUCTS_MAX_FEATURES };

/* With p a constant (see moment_design_body), the running sums stay in registers. */
INLINE void moment_design_fixed(
    const double *features, size_t rows, const size_t p, double *design, double *sum_phi, double *sum_phi2) {
    double sums[DESIGN_MAX_UNROLLED], squares[DESIGN_MAX_UNROLLED];
    memcpy(sums, sum_phi, p * sizeof *sums);
    memcpy(squares, sum_phi2, p * sizeof *squares);
    design_rows(features, rows, p, design, sums, squares);
    memcpy(sum_phi, sums, p * sizeof *sums);
    memcpy(sum_phi2, squares, p * sizeof *squares);
}

INLINE void moment_design_body(
    const double *features, size_t rows, size_t p, double *design, double *sum_phi, double *sum_phi2) {
    switch (p) {
#define CASE(count) \
    case count: moment_design_fixed(features, rows, count, design, sum_phi, sum_phi2); return;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default: design_rows(features, rows, p, design, sum_phi, sum_phi2); return;  /* sums through memory */
    }
}

DEFINE_EXPORTED_WIDTHS(gss_moment_design, moment_design,
    (const double *features, size_t rows, size_t p, double *design, double *sum_phi, double *sum_phi2),
    (features, rows, p, design, sum_phi, sum_phi2))

/* ---- The fused products ---- */

/* Responses a vector at a time, their 3p + 2 sums in registers: 8 lanes with AVX-512 (32
 * registers of 8 doubles), 4 with AVX2 and 2 with SSE2 (16 registers of 4 and of 2). Every lane is
 * one response summed over the rows in order, so the bits do not depend on the lane count. */
enum { MAX_SUMS = 3 * GSS_MOMENT_PRODUCTS_MAX_FEATURES + 2, MAX_BLOCKS = 2, PREFETCH_MIN_ROW_BYTES = 4096 };

/* Narrowest first: each width's tail may use the span of half its width (LANES_HALF_SPAN). */
#define LANES 2
#include "moment_products_lanes.h"
#undef LANES
#define LANES 4
#define LANES_HALF_SPAN moment_span_2
#include "moment_products_lanes.h"
#undef LANES_HALF_SPAN
#undef LANES
#define LANES 8
#define LANES_HALF_SPAN moment_span_4
#include "moment_products_lanes.h"
#undef LANES_HALF_SPAN
#undef LANES

GSS_WIDTH_WRAPPERS(int, return, moment_products, moment_products_body_2, moment_products_body_4,
    moment_products_body_8,
    (const double *responses, const double *shift, const double *design, size_t rows, size_t q, size_t p,
        double *shifted, double *first, double *second),
    (responses, shift, design, rows, q, p, shifted, first, second))

/* Whether every responses[r·q + a] − shift[a] is finite (the rare path: a sum was not). */
static int shifted_responses_finite(const double *responses, const double *shift, size_t rows, size_t q) {
    for (size_t r = 0; r < rows; ++r)
        for (size_t a = 0; a < q; ++a)
            if (!(fabs(responses[r * q + a] - shift[a]) <= DBL_MAX)) return 0;
    return 1;
}

int gss_moment_products(
    const double *responses, const double *shift, const double *design, size_t rows, size_t q, size_t p,
    double *shifted, double *first, double *second) {
    if (p < 1 || p > GSS_MOMENT_PRODUCTS_MAX_FEATURES || q < GSS_MOMENT_PRODUCTS_MIN_RESPONSES) return 0;
    if (moment_products(responses, shift, design, rows, q, p, shifted, first, second)) return 1;
    /* A Σr is not finite: a response is, or finite ones overflowed the sum; the responses tell. */
    return shifted_responses_finite(responses, shift, rows, q);
}

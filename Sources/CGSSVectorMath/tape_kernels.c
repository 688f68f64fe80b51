/*
 * The loops of a vector-Jacobian tape (declared in gss_moment_kernels.h), each body written once
 * and compiled for AVX-512, AVX2 and SSE2 (vector_width.h).
 */
#include "gss_moment_kernels.h"
#include "vector_width.h"

/* No fused multiply-adds: every width must round alike. */
#pragma STDC FP_CONTRACT OFF

INLINE int tape_shift_rows_body(const double *y, const double *shift, size_t rows, size_t m, double *out) {
    int nonfinite = 0;  /* d·0 is 0 for finite d, NaN otherwise: one branch-free check */
    for (size_t r = 0; r < rows; ++r) {
        const double *row = y + r * m;
        double *target = out + r * m;
        for (size_t i = 0; i < m; ++i) {
            const double d = row[i] - shift[i];
            target[i] = d;
            nonfinite |= d * 0 != 0;
        }
    }
    return !nonfinite;
}

INLINE void tape_unit_moments_body(const double *r, size_t rows, size_t m, size_t unit, double *sum, double *squares) {
    if (unit == 1) {
        for (size_t k = 0; k < rows; ++k) {
            const double *row = r + k * m;
            for (size_t i = 0; i < m; ++i) {
                sum[i] += row[i];
                squares[i] += row[i] * row[i];
            }
        }
    } else {
        for (size_t k = 0; k + 1 < rows; k += 2) {
            const double *row = r + k * m;
            for (size_t i = 0; i < m; ++i) {
                const double u = row[i] + row[m + i];
                sum[i] += u;
                squares[i] += u * u;
            }
        }
    }
}

INLINE void tape_project_rows_body(const double *x, size_t rows, size_t m, const double *g, double *out) {
    const size_t whole = m - m % 4;
    for (size_t r = 0; r < rows; ++r) {
        const double *row = x + r * m;
        double p0 = 0, p1 = 0, p2 = 0, p3 = 0;
        for (size_t i = 0; i < whole; i += 4) {
            p0 += g[i] * row[i];
            p1 += g[i + 1] * row[i + 1];
            p2 += g[i + 2] * row[i + 2];
            p3 += g[i + 3] * row[i + 3];
        }
        double dot = (p0 + p1) + (p2 + p3);
        for (size_t i = whole; i < m; ++i) dot += g[i] * row[i];
        out[r] = dot;
    }
}

INLINE void tape_weighted_rows_body(const double *phi, size_t rows, size_t p, const double *h, double c, double *total) {
    for (size_t r = 0; r < rows; ++r) {
        const double weight = h[r] - c;
        const double *row = phi + r * p;
        for (size_t b = 0; b < p; ++b) total[b] += weight * row[b];
    }
}

DEFINE_EXPORTED_WIDTHS_RETURNING(int, gss_tape_shift_rows, tape_shift_rows,
    (const double *y, const double *shift, size_t rows, size_t m, double *out), (y, shift, rows, m, out))
DEFINE_EXPORTED_WIDTHS(gss_tape_unit_moments, tape_unit_moments,
    (const double *r, size_t rows, size_t m, size_t unit, double *sum, double *squares), (r, rows, m, unit, sum, squares))
DEFINE_EXPORTED_WIDTHS(gss_tape_project_rows, tape_project_rows,
    (const double *x, size_t rows, size_t m, const double *g, double *out), (x, rows, m, g, out))
DEFINE_EXPORTED_WIDTHS(gss_tape_weighted_rows, tape_weighted_rows,
    (const double *phi, size_t rows, size_t p, const double *h, double c, double *total), (phi, rows, p, h, c, total))

/*
 * gss_tape_kernels.h: the loops of a vector-Jacobian tape (GSSCore's Smoother+Tape.swift): kept
 * samples written, their mean and spread, and gᵀJ from them, at the widest vector width the CPU
 * runs. Every width computes the same bits (no contraction, no reassociation: vectors run across
 * independent columns, or over four fixed partial sums). Thread-safe; no pointer is kept.
 */
#ifndef GSS_TAPE_KERNELS_H
#define GSS_TAPE_KERNELS_H

#include <stddef.h>

/* out[r·m + i] = y[r·m + i] − shift[i] for rows × m numbers; returns 1 when every result is
 * finite, else 0 (out is written either way). */
int gss_tape_shift_rows(const double *y, const double *shift, size_t rows, size_t m, double *out);

/* For each column i of rows × m numbers taken in units of `unit` (1 or 2) consecutive rows:
 * sum[i] += Σ unit sums, squares[i] += Σ (unit sums)², units in row order. rows is a multiple of
 * unit. */
void gss_tape_unit_moments(const double *r, size_t rows, size_t m, size_t unit, double *sum, double *squares);

/* out[r] = Σ_i g[i]·x[r·m + i] for each of `rows` rows, as four partial sums over i ≡ 0..3 (mod 4)
 * added pairwise, then the last m mod 4 terms in order. */
void gss_tape_project_rows(const double *x, size_t rows, size_t m, const double *g, double *out);

/* total[b] += Σ_r (h[r] − c)·phi[r·p + b] for b < p, rows in order. */
void gss_tape_weighted_rows(const double *phi, size_t rows, size_t p, const double *h, double c, double *total);

#endif /* GSS_TAPE_KERNELS_H */

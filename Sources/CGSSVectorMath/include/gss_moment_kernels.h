/*
 * gss_moment_kernels.h: the per-chunk sums of the score-function estimators (GSSCore's
 * MomentSums), in C so that they run at the widest vector width the CPU supports (AVX-512, AVX2,
 * else SSE2), chosen once per process. Floating point without contraction: each width rounds
 * every multiply and add separately. Thread-safe; no function keeps a pointer after it returns.
 */
#ifndef GSS_MOMENT_KERNELS_H
#define GSS_MOMENT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* shifted[r·q + a] = responses[r·q + a] − shift[a] and squared[…] = shifted², for r < rows, a < q.
 * Returns 1 when every shifted value is finite, else 0 (the outputs are then partly written). */
int gss_shift_square_check(
    const double *responses, const double *shift, size_t rows, size_t q, double *shifted, double *squared);

/* Surveys rows × q responses for the entries that differ from reference[a] (the zeros of the
 * shifted responses): flags[a] |= 1 for each column a with such an entry, adds their number to
 * *differing, and returns how many flags are set afterwards. */
size_t gss_survey_rows(
    const double *responses, const double *reference, size_t rows, size_t q, uint8_t *flags, size_t *differing);

/* The design rows D = [φ | φ∘φ | 1] (rows × (2p + 1), row-major) of single samples' features φ
 * (rows × p, row-major), adding Σφ to sum_phi[0..<p] and Σφ∘φ to sum_phi2[0..<p], each an in-order
 * sum over the rows onto the value already there. Any p ≥ 1. */
void gss_moment_design(
    const double *features, size_t rows, size_t p, double *design, double *sum_phi, double *sum_phi2);

/* The shapes gss_moment_products takes: at most this many features, at least this many responses. */
enum { GSS_MOMENT_PRODUCTS_MAX_FEATURES = 8, GSS_MOMENT_PRODUCTS_MIN_RESPONSES = 8 };

/* The two products of a chunk in one pass over its responses, fused with their shift. With
 * R = responses − shift (rows × q, row-major) and design rows D = [φ (p) | φ∘φ (p) | 1]
 * (rows × (2p + 1), row-major), writes (does not accumulate)
 *   first  = Rᵀ D             (q × (2p + 1), row-major),
 *   second = (R∘R)ᵀ D[:, p…2p] (q × (p + 1), row-major),
 *   shifted = R               (rows × q, row-major; skipped when shifted is NULL),
 * each entry a sum over the rows in order (so an entry's bits do not depend on p or q). Needs 1 ≤ p ≤ GSS_MOMENT_PRODUCTS_MAX_FEATURES and
 * q ≥ GSS_MOMENT_PRODUCTS_MIN_RESPONSES. Returns 1 when every entry of R is finite, else 0 (first
 * and second then hold no meaningful numbers; also 0, writing nothing, for sizes outside these). */
int gss_moment_products(
    const double *responses, const double *shift, const double *design, size_t rows, size_t q, size_t p,
    double *shifted, double *first, double *second);

/* ---- A vector-Jacobian tape (GSSCore's Smoother+Tape.swift; tape_kernels.c): kept samples
 * written, their mean and spread, and gᵀJ from them. Vectors run across independent columns, or
 * over four fixed partial sums, so every width computes the same bits. ---- */

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

#endif /* GSS_MOMENT_KERNELS_H */

/*
 * gss_vector_math.h: elementwise functions over arrays at the widest vector width the CPU
 * supports: logarithms through glibc's vector math library (libmvec), and the inverse CDFs built
 * on them. Every element of an array goes through the same vector routine (a partial last vector
 * is padded), so a value's result never depends on where it sits in the array. Thread-safe; the
 * logarithms' arrays may alias (in place is fine), the quantiles' may not.
 */
#ifndef GSS_VECTOR_MATH_H
#define GSS_VECTOR_MATH_H

#include <stddef.h>

/* y[i] = log1p(x[i]) for i < count (libmvec's log1p: at most a few ulp from the exact value). */
void gss_log1p_array(const double *x, double *y, size_t count);

/* y[i] = log(x[i]) for i < count. */
void gss_log_array(const double *x, double *y, size_t count);

/* The logistic quantile and its score for u in (0, 1): noise[i] = ±log1p(|2u − 1| / min(u, 1 − u))
 * with the sign of 2u − 1, score[i] = 2u − 1 (= tanh(ε/2), exact). The arrays must not alias. */
void gss_logistic_quantile_array(const double *u, double *noise, double *score, size_t count);

/* The standard normal quantile Φ⁻¹(u[i]) for u in (0, 1), by Wichura's AS 241 (PPND16): about
 * 1 part in 10¹⁶ over the whole interval. The central region |u − 1/2| ≤ 0.425 at the widest
 * vector width, the tails through glibc's scalar log; the same bits at every width. The arrays must
 * not alias. */
void gss_normal_quantile_array(const double *u, double *z, size_t count);

/* The perturbed points of rows samples: out[r·n + j] = x[j] + gamma[j] · noise[r·n + j] for r < rows,
 * j < n (row-major; a product then a sum, never fused). out may alias noise. */
void gss_perturb_rows(const double *x, const double *gamma, const double *noise, size_t rows, size_t n, double *out);

#endif /* GSS_VECTOR_MATH_H */

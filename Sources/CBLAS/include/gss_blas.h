/*
 * gss_blas.h — OpenBLAS's matrix product, loaded on first use. The estimators need a BLAS only for
 * chunks with more than 8 score features; loading OpenBLAS with the executable cost every `gss`
 * process ~5 ms of start-up (the library, libgfortran and libquadmath, and a thread pool that spins
 * while it waits), so it is opened with dlopen the first time a product is asked for.
 * Thread-safe; no function keeps a pointer after it returns.
 */
#ifndef GSS_BLAS_H
#define GSS_BLAS_H

/* Loads OpenBLAS (libopenblas.so.0) once and sets it to compute on the calling thread (our workers
 * already use every core) with its own pool stopped. Returns 1 when it is ready, 0 when it could not
 * be loaded; then gss_blas_error() says why. Safe to call from any thread, any number of times. */
int gss_blas_load(void);

/* Why gss_blas_load failed (a static string), or NULL when it did not. */
const char *gss_blas_error(void);

/* C = alpha · Aᵀ B + beta · C, row-major: A is k × m (leading dimension lda), B is k × n (ldb),
 * C is m × n (ldc). Needs a successful gss_blas_load first. */
void gss_blas_dgemm_transposed_a(
    int m, int n, int k, double alpha, const double *a, int lda, const double *b, int ldb, double beta, double *c,
    int ldc);

#endif /* GSS_BLAS_H */

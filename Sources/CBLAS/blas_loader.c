/*
 * OpenBLAS through dlopen (gss_blas.h): the three entry points we use, resolved once.
 */
#include "gss_blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

/* CBLAS's enumerations (cblas.h), fixed by the reference interface. */
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

typedef void (*dgemm_function)(
    int order, int transpose_a, int transpose_b, int m, int n, int k, double alpha, const double *a, int lda,
    const double *b, int ldb, double beta, double *c, int ldc);
typedef void (*set_threads_function)(int count);
typedef int (*shutdown_function)(void);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static dgemm_function dgemm;
static const char *load_error;

static void load(void) {
    /* Debian's runtime package (libopenblas0) names it .so.0; the unversioned name needs -dev. */
    void *library = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!library) library = dlopen("libopenblas.so", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        load_error = "OpenBLAS (libopenblas.so.0) could not be loaded; install it (Debian: apt-get install libopenblas0)";
        return;
    }
    dgemm_function product = (dgemm_function)dlsym(library, "cblas_dgemm");
    set_threads_function set_threads = (set_threads_function)dlsym(library, "openblas_set_num_threads");
    if (!product || !set_threads) {
        load_error = "the loaded libopenblas.so.0 lacks cblas_dgemm or openblas_set_num_threads";
        return;
    }
    set_threads(1);
    /* Exported by OpenBLAS (its fork handler uses it) but not in cblas.h: joins the pool's
     * threads, which otherwise spin idly on our cores for ~0.1 s. */
    shutdown_function shutdown = (shutdown_function)dlsym(library, "blas_thread_shutdown_");
    if (shutdown) shutdown();
    dgemm = product;
}

int gss_blas_load(void) {
    pthread_once(&load_once, load);
    return dgemm != NULL;
}

const char *gss_blas_error(void) {
    pthread_once(&load_once, load);
    return load_error;
}

void gss_blas_dgemm_transposed_a(
    int m, int n, int k, double alpha, const double *a, int lda, const double *b, int ldb, double beta, double *c,
    int ldc) {
    dgemm(CBLAS_ROW_MAJOR, CBLAS_TRANS, CBLAS_NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

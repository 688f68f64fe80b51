// OpenBLAS from the system (Debian: libopenblas-dev): the estimators' per-chunk matrix products.
#include <cblas.h>

// Exported by OpenBLAS (its fork handler uses it) but not declared in cblas.h: stops and joins
// the library's own worker threads, which otherwise spin idly for a while after start-up.
int blas_thread_shutdown_(void);

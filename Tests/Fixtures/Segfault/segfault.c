/* Fixture: evaluate dereferences a NULL pointer (SIGSEGV) for rows with x > 2; f(x) = 2x otherwise. */
#include "gss_plugin.h"

static gss_status segfault_evaluate(gss_instance *, const double *, size_t, double *, char *, size_t);
#define FIXTURE_ID "segfault"
#define FIXTURE_EVALUATE segfault_evaluate
#include "broken_descriptor.h"

static gss_status segfault_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                                    char *error, size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    double *volatile lookup = NULL; /* volatile: the compiler must really load through it */
    for (size_t r = 0; r < batch; ++r) y[r] = x[r] > 2 ? *lookup : 2.0 * x[r];
    return GSS_OK;
}

/* Fixture: evaluate fails an assertion and calls abort() (SIGABRT) for rows with x > 2; f(x) = 2x otherwise. */
#include "gss_plugin.h"

static gss_status abort_evaluate(gss_instance *, const double *, size_t, double *, char *, size_t);
#define FIXTURE_ID "abort"
#define FIXTURE_EVALUATE abort_evaluate
#include "broken_descriptor.h"

static gss_status abort_evaluate(gss_instance *instance, const double *x, size_t batch, double *y, char *error,
                                 size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    for (size_t r = 0; r < batch; ++r) {
        if (x[r] > 2) {
            fprintf(stderr, "abort fixture: assertion 'x <= 2' failed (x = %g)\n", x[r]);
            abort();
        }
        y[r] = 2.0 * x[r];
    }
    return GSS_OK;
}

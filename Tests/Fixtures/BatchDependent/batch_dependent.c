/* Fixture: f(x) = 2x plus 0.001 times the row's position within its batch, so results depend on
 * how rows are batched (a row index leaking into the computation). */
#include "gss_plugin.h"

static gss_status batch_dependent_evaluate(gss_instance *, const double *, size_t, double *, char *, size_t);
#define FIXTURE_ID "batch-dependent"
#define FIXTURE_EVALUATE batch_dependent_evaluate
#include "broken_descriptor.h"

static gss_status batch_dependent_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                                           char *error, size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    for (size_t r = 0; r < batch; ++r) y[r] = 2.0 * x[r] + 0.001 * (double)r;
    return GSS_OK;
}

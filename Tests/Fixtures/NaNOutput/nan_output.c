/* Fixture: f(x) = 2x for x >= -2, but sqrt(x + 2) below: NaN returned with GSS_OK (a plugin that lies). */
#include "gss_plugin.h"

#include <math.h>

static gss_status nan_evaluate(gss_instance *, const double *, size_t, double *, char *, size_t);
#define FIXTURE_ID "nan-output"
#define FIXTURE_EVALUATE nan_evaluate
#include "broken_descriptor.h"

static gss_status nan_evaluate(gss_instance *instance, const double *x, size_t batch, double *y, char *error,
                               size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    for (size_t r = 0; r < batch; ++r) y[r] = x[r] >= -2 ? 2.0 * x[r] : sqrt(x[r] + 2.0);
    return GSS_OK;
}

/* Fixture: an off-by-one loop bound writes one double past the end of y on every call. */
#include "gss_plugin.h"

static gss_status overrun_evaluate(gss_instance *, const double *, size_t, double *, char *, size_t);
#define FIXTURE_ID "overrun"
#define FIXTURE_EVALUATE overrun_evaluate
#include "broken_descriptor.h"

static gss_status overrun_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                                   char *error, size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    for (size_t r = 0; r < batch; ++r) y[r] = 2.0 * x[r];
    y[batch] = 0.0; /* the bug: one element past the end */
    return GSS_OK;
}

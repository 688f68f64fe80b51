/* Fixture: writes one double before the start of y on every call (a -1 index). */
#include "gss_plugin.h"

static gss_status underrun_evaluate(gss_instance *, const double *, size_t, double *, char *, size_t);
#define FIXTURE_ID "underrun"
#define FIXTURE_EVALUATE underrun_evaluate
#include "broken_descriptor.h"

static gss_status underrun_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                                    char *error, size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    for (size_t r = 0; r < batch; ++r) y[r] = 2.0 * x[r];
    y[-1] = 0.0; /* the bug: one element before the start */
    return GSS_OK;
}

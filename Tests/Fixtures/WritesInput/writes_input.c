/* Fixture: uses the host's input buffer x as scratch space (casts away const and doubles it in place). */
#include "gss_plugin.h"

static gss_status writes_input_evaluate(gss_instance *, const double *, size_t, double *, char *, size_t);
#define FIXTURE_ID "writes-input"
#define FIXTURE_EVALUATE writes_input_evaluate
#include "broken_descriptor.h"

static gss_status writes_input_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                                        char *error, size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    double *scratch = (double *)x; /* the bug: x belongs to the host and is read-only */
    for (size_t r = 0; r < batch; ++r) {
        scratch[r] *= 2.0;
        y[r] = scratch[r];
    }
    return GSS_OK;
}

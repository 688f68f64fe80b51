/* Fixture: m = 2, but evaluate writes only y[0] of each row (y[1] is left as it was). */
#include "gss_plugin.h"

static gss_status partial_output_evaluate(gss_instance *, const double *, size_t, double *, char *, size_t);
#define FIXTURE_ID "partialoutput"
#define FIXTURE_OUTPUTS 2
#define FIXTURE_EVALUATE partial_output_evaluate
#include "broken_descriptor.h"

static gss_status partial_output_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                                          char *error, size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    for (size_t r = 0; r < batch; ++r) y[2 * r] = 2.0 * x[r]; /* the bug: y[2r + 1] is never written */
    return GSS_OK;
}

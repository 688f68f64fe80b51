/* Fixture: claims GSS_F_DETERMINISTIC but adds a tiny jitter that depends on how many calls came
 * before (hidden state across calls). */
#include "gss_plugin.h"

#include <stdatomic.h>

static gss_status jitter_evaluate(gss_instance *, const double *, size_t, double *, char *, size_t);
#define FIXTURE_ID "nondeterministic"
#define FIXTURE_EVALUATE jitter_evaluate
#include "broken_descriptor.h"

static atomic_uint calls;

static gss_status jitter_evaluate(gss_instance *instance, const double *x, size_t batch, double *y, char *error,
                                  size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    double jitter = 1e-12 * (double)(atomic_fetch_add(&calls, 1) % 3);
    for (size_t r = 0; r < batch; ++r) y[r] = 2.0 * x[r] + jitter;
    return GSS_OK;
}

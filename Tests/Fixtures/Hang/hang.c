/* Fixture: evaluate loops forever, waiting for a condition that never comes, for rows with x > 2;
 * f(x) = 2x otherwise. It sleeps in the loop so a hung test costs no CPU. */
#include "gss_plugin.h"

#include <unistd.h>

static gss_status hang_evaluate(gss_instance *, const double *, size_t, double *, char *, size_t);
#define FIXTURE_ID "hang"
#define FIXTURE_EVALUATE hang_evaluate
#include "broken_descriptor.h"

static volatile int never_set;

static gss_status hang_evaluate(gss_instance *instance, const double *x, size_t batch, double *y, char *error,
                                size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    for (size_t r = 0; r < batch; ++r) {
        if (x[r] > 2) {
            while (!never_set) usleep(1000);
        }
        y[r] = 2.0 * x[r];
    }
    return GSS_OK;
}

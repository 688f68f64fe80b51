/* Fixture: claims GSS_F_REENTRANT but stages every batch in one static buffer shared by all calls,
 * so concurrent calls on one instance overwrite each other's rows. */
#include "gss_plugin.h"

#include <sched.h>

static gss_status racy_evaluate(gss_instance *, const double *, size_t, double *, char *, size_t);
#define FIXTURE_ID "racy-reentrant"
#define FIXTURE_EVALUATE racy_evaluate
#include "broken_descriptor.h"

enum { STAGING_ROWS = 4096 };
static double staging[STAGING_ROWS]; /* the bug: shared by concurrent calls */

static gss_status racy_evaluate(gss_instance *instance, const double *x, size_t batch, double *y, char *error,
                                size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    for (size_t r = 0; r < batch; ++r) staging[r % STAGING_ROWS] = x[r];
    sched_yield(); /* any pause between staging and use lets another call overwrite the rows */
    for (size_t r = 0; r < batch; ++r) y[r] = 2.0 * staging[r % STAGING_ROWS];
    return GSS_OK;
}

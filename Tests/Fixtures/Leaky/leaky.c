/* Fixture: every instance allocates a 1 KiB scratch buffer that destroy forgets to free. */
#include "gss_plugin.h"

static gss_status leaky_create(const gss_option *, size_t, gss_instance **, char *, size_t);
static void leaky_destroy(gss_instance *);
#define FIXTURE_ID "leaky"
#define FIXTURE_CREATE leaky_create
#define FIXTURE_DESTROY leaky_destroy
#include "broken_descriptor.h"

#include <string.h>

enum { SCRATCH_DOUBLES = 128 };

static gss_status leaky_create(const gss_option *options, size_t count, gss_instance **out, char *error,
                               size_t capacity) {
    gss_status status = fixture_create(options, count, out, error, capacity);
    if (status != GSS_OK) return status;
    (*out)->scratch = malloc(SCRATCH_DOUBLES * sizeof(double));
    if (!(*out)->scratch) {
        free(*out);
        return GSS_E_OUT_OF_MEMORY;
    }
    memset((*out)->scratch, 0, SCRATCH_DOUBLES * sizeof(double));
    return GSS_OK;
}

static void leaky_destroy(gss_instance *instance) {
    free(instance); /* the bug: instance->scratch is never freed */
}

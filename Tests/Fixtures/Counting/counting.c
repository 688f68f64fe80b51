/*
 * Fixture: a well-behaved but NOT reentrant plugin, f(x) = 2x (n = m from option `n`, default 2),
 * instrumented so tests can check the host's instance discipline: it counts live instances and
 * fails an evaluate that overlaps another evaluate on the same instance.
 */
#include "gss_plugin.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int live_instances;
static atomic_int created_instances;

struct gss_instance {
    size_t n;
    atomic_int busy;
};

GSS_PLUGIN_EXPORT int fixture_live_instances(void) { return atomic_load(&live_instances); }
GSS_PLUGIN_EXPORT int fixture_created_instances(void) { return atomic_load(&created_instances); }

static gss_status counting_create(const gss_option *options, size_t count, gss_instance **out, char *error,
                                  size_t capacity) {
    size_t n = 2;
    for (size_t k = 0; k < count; ++k) {
        if (strcmp(options[k].key, "n") == 0 && atoi(options[k].value) > 0) {
            n = (size_t)atoi(options[k].value);
        } else {
            char message[256];
            snprintf(message, sizeof message, "unknown option '%s' (counting takes n)", options[k].key);
            gss_write_error(error, capacity, message);
            return GSS_E_INVALID_ARGUMENT;
        }
    }
    struct gss_instance *instance = calloc(1, sizeof *instance);
    if (!instance) return GSS_E_OUT_OF_MEMORY;
    instance->n = n;
    atomic_fetch_add(&live_instances, 1);
    atomic_fetch_add(&created_instances, 1);
    *out = instance;
    return GSS_OK;
}

static void counting_destroy(gss_instance *instance) {
    if (!instance) return;
    atomic_fetch_sub(&live_instances, 1);
    free(instance);
}

static void counting_dims(const gss_instance *instance, size_t *n, size_t *m) {
    *n = instance->n;
    *m = instance->n;
}

static gss_status counting_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                                    char *error, size_t capacity) {
    if (atomic_exchange(&instance->busy, 1) != 0) {
        gss_write_error(error, capacity, "evaluate was called concurrently on one non-reentrant instance");
        return GSS_E_INTERNAL;
    }
    usleep(200); /* widen the window in which an overlapping call would be caught */
    for (size_t k = 0; k < batch * instance->n; ++k) y[k] = 2.0 * x[k];
    atomic_store(&instance->busy, 0);
    return GSS_OK;
}

static const gss_plugin descriptor = {
    .struct_size = sizeof(gss_plugin),
    .abi_major = GSS_ABI_MAJOR,
    .abi_minor = GSS_ABI_MINOR,
    .id = "counting",
    .name = "Instance-counting doubler (test fixture)",
    .version = "1.0.0",
    .description = "f(x) = 2x; counts live instances; not reentrant. Options: n=2.",
    .flags = GSS_F_DETERMINISTIC,
    .create = counting_create,
    .destroy = counting_destroy,
    .dims = counting_dims,
    .evaluate = counting_evaluate,
    .output_shape = NULL,
    .default_input = NULL,
};

GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entry(uint32_t host_abi_major) {
    return host_abi_major == GSS_ABI_MAJOR ? &descriptor : NULL;
}

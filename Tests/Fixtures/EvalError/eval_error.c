/*
 * Fixture: f(x) = x (n = m = 1) that cannot compute rows with x > 5: it fills them with NaN and
 * returns GSS_E_EVALUATION naming the row, as the ABI asks. With option `silent=1` it instead
 * returns GSS_OK with a NaN output (a plugin that lies), which the host must also catch.
 */
#include "gss_plugin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gss_instance {
    int silent;
};

static gss_status fixture_create(const gss_option *options, size_t count, gss_instance **out, char *error,
                                 size_t capacity) {
    int silent = 0;
    for (size_t k = 0; k < count; ++k) {
        if (strcmp(options[k].key, "silent") == 0) {
            silent = atoi(options[k].value) != 0;
        } else {
            char message[256];
            snprintf(message, sizeof message, "unknown option '%s' (eval-error takes silent)", options[k].key);
            gss_write_error(error, capacity, message);
            return GSS_E_INVALID_ARGUMENT;
        }
    }
    struct gss_instance *instance = malloc(sizeof *instance);
    if (!instance) return GSS_E_OUT_OF_MEMORY;
    instance->silent = silent;
    *out = instance;
    return GSS_OK;
}

static void fixture_destroy(gss_instance *instance) { free(instance); }

static void fixture_dims(const gss_instance *instance, size_t *n, size_t *m) {
    (void)instance;
    *n = 1;
    *m = 1;
}

static gss_status fixture_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                                   char *error, size_t capacity) {
    gss_status status = GSS_OK;
    for (size_t r = 0; r < batch; ++r) {
        if (x[r] > 5) {
            y[r] = NAN;
            if (!instance->silent && status == GSS_OK) {
                char message[128];
                snprintf(message, sizeof message, "row %zu: x = %g is above 5", r, x[r]);
                gss_write_error(error, capacity, message);
                status = GSS_E_EVALUATION;
            }
        } else {
            y[r] = x[r];
        }
    }
    return status;
}

static const gss_plugin descriptor = {
    .struct_size = sizeof(gss_plugin),
    .abi_major = GSS_ABI_MAJOR,
    .abi_minor = GSS_ABI_MINOR,
    .id = "eval-error",
    .name = "Fails above 5 (test fixture)",
    .version = "1.0.0",
    .description = "f(x) = x for x <= 5; rows above 5 fail. Options: silent=0|1.",
    .flags = GSS_F_REENTRANT | GSS_F_DETERMINISTIC,
    .create = fixture_create,
    .destroy = fixture_destroy,
    .dims = fixture_dims,
    .evaluate = fixture_evaluate,
    .output_shape = NULL,
    .default_input = NULL,
};

GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entry(uint32_t host_abi_major) {
    return host_abi_major == GSS_ABI_MAJOR ? &descriptor : NULL;
}

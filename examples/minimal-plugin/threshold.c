/*
 * A minimal, complete gss plugin: f(x) = 1 if x_1 + ... + x_n > t, else 0.
 * Options: n (inputs, default 2), t (threshold, default 0).
 *
 *   cc -shared -fPIC -O2 -I../../include threshold.c -o libthreshold.so
 *   gss grad ./libthreshold.so --x 0.3,-0.1
 */
#include "gss_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gss_instance {
    size_t n;
    double t;
};

static gss_status threshold_create(const gss_option *options, size_t count, gss_instance **out,
                                   char *error, size_t capacity) {
    struct gss_instance config = {.n = 2, .t = 0.0};
    for (size_t k = 0; k < count; ++k) {
        char *end = NULL;
        if (strcmp(options[k].key, "n") == 0) {
            long n = strtol(options[k].value, &end, 10);
            if (*end != '\0' || n < 1 || n > 1000000) {
                snprintf(error, capacity, "option n='%s' is not a whole number from 1 to 1000000",
                         options[k].value);
                return GSS_E_INVALID_ARGUMENT;
            }
            config.n = (size_t)n;
        } else if (strcmp(options[k].key, "t") == 0) {
            config.t = strtod(options[k].value, &end);
            if (*end != '\0' || end == options[k].value) {
                snprintf(error, capacity, "option t='%s' is not a number", options[k].value);
                return GSS_E_INVALID_ARGUMENT;
            }
        } else {
            snprintf(error, capacity, "unknown option '%s' (threshold takes n, t)", options[k].key);
            return GSS_E_INVALID_ARGUMENT;
        }
    }
    struct gss_instance *instance = malloc(sizeof *instance);
    if (!instance) return GSS_E_OUT_OF_MEMORY;
    *instance = config;
    *out = instance;
    return GSS_OK;
}

static void threshold_destroy(gss_instance *instance) { free(instance); }

static void threshold_dims(const gss_instance *instance, size_t *n, size_t *m) {
    *n = instance->n;
    *m = 1;
}

static gss_status threshold_evaluate(gss_instance *instance, const double *x, size_t batch,
                                     double *y, char *error, size_t capacity) {
    (void)error;
    (void)capacity;
    for (size_t r = 0; r < batch; ++r) {
        double sum = 0;
        for (size_t i = 0; i < instance->n; ++i) sum += x[r * instance->n + i];
        y[r] = sum > instance->t ? 1.0 : 0.0;
    }
    return GSS_OK;
}

static const gss_plugin threshold = {
    .struct_size = sizeof(gss_plugin),
    .abi_major = GSS_ABI_MAJOR,
    .abi_minor = GSS_ABI_MINOR,
    .id = "threshold",
    .name = "Hard threshold of a sum",
    .version = "1.0.0",
    .description = "f(x) = 1 if sum(x) > t else 0. Options: n=2, t=0.",
    .flags = GSS_F_REENTRANT | GSS_F_DETERMINISTIC,
    .create = threshold_create,
    .destroy = threshold_destroy,
    .dims = threshold_dims,
    .evaluate = threshold_evaluate,
    .output_shape = NULL,  /* optional */
    .default_input = NULL, /* optional: without it, --x is required */
};

GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entry(uint32_t host_abi_major) {
    return host_abi_major == GSS_ABI_MAJOR ? &threshold : NULL;
}

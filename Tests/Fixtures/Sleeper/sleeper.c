/*
 * Fixture: a costly black box that costs wall time, not CPU: f(x0, x1) = (x0 + x1, x0 * x1) after
 * sleeping `seconds` per row (default 0.01), or with `vary=1` between 1 and 5 times that depending on
 * the row, so that calls finish out of order. For the MPI checks and their measurements.
 */
#include "gss_plugin.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gss_instance {
    double seconds;
    int vary;
};

static gss_status sleeper_create(const gss_option *options, size_t count, gss_instance **out, char *error,
                                 size_t capacity) {
    double seconds = 0.01;
    int vary = 0;
    for (size_t k = 0; k < count; ++k) {
        char *end = NULL;
        if (strcmp(options[k].key, "seconds") == 0) {
            seconds = strtod(options[k].value, &end);
            if (*end != '\0' || !(seconds >= 0 && seconds <= 60)) {
                gss_write_error(error, capacity, "seconds must be a number from 0 to 60");
                return GSS_E_INVALID_ARGUMENT;
            }
        } else if (strcmp(options[k].key, "vary") == 0) {
            vary = atoi(options[k].value) != 0;
        } else {
            char message[256];
            snprintf(message, sizeof message, "unknown option '%s' (sleeper takes seconds, vary)", options[k].key);
            gss_write_error(error, capacity, message);
            return GSS_E_INVALID_ARGUMENT;
        }
    }
    struct gss_instance *instance = malloc(sizeof *instance);
    if (!instance) return GSS_E_OUT_OF_MEMORY;
    instance->seconds = seconds;
    instance->vary = vary;
    *out = instance;
    return GSS_OK;
}

static void sleeper_destroy(gss_instance *instance) { free(instance); }

static void sleeper_dims(const gss_instance *instance, size_t *n, size_t *m) {
    (void)instance;
    *n = 2;
    *m = 2;
}

static void sleep_for(double seconds) {
    struct timespec left = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {}
}

static gss_status sleeper_evaluate(gss_instance *instance, const double *x, size_t batch, double *y, char *error,
                                   size_t capacity) {
    (void)error;
    (void)capacity;
    for (size_t r = 0; r < batch; ++r) {
        const double *row = x + 2 * r;
        double factor = instance->vary ? 1 + (long)(fabs(row[0]) * 1000) % 5 : 1;
        if (instance->seconds > 0) sleep_for(instance->seconds * factor);
        y[2 * r] = row[0] + row[1];
        y[2 * r + 1] = row[0] * row[1];
    }
    return GSS_OK;
}

static const gss_plugin descriptor = {
    .struct_size = sizeof(gss_plugin),
    .abi_major = GSS_ABI_MAJOR,
    .abi_minor = GSS_ABI_MINOR,
    .id = "sleeper",
    .name = "Sleeps per row (test fixture)",
    .version = "1.0.0",
    .description = "f(x0, x1) = (x0 + x1, x0 x1) after sleeping per row. Options: seconds=S (0.01), vary=0|1.",
    .flags = GSS_F_REENTRANT | GSS_F_DETERMINISTIC,
    .create = sleeper_create,
    .destroy = sleeper_destroy,
    .dims = sleeper_dims,
    .evaluate = sleeper_evaluate,
    .output_shape = NULL,
    .default_input = NULL,
};

GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entry(uint32_t host_abi_major) {
    return host_abi_major == GSS_ABI_MAJOR ? &descriptor : NULL;
}

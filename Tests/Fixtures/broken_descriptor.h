/*
 * Shared body of the one-fault fixtures: a valid doubler f(x) = 2x (n = m = 1) whose descriptor or
 * one behaviour is broken in exactly one way. A fixture defines one of the FIXTURE_* macros below
 * to override one field (declaring its own function first when it overrides one), then includes
 * this file.
 */
#include "gss_plugin.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef FIXTURE_STRUCT_SIZE
#define FIXTURE_STRUCT_SIZE sizeof(gss_plugin)
#endif
#ifndef FIXTURE_ABI_MAJOR
#define FIXTURE_ABI_MAJOR GSS_ABI_MAJOR
#endif
#ifndef FIXTURE_ABI_MINOR
#define FIXTURE_ABI_MINOR GSS_ABI_MINOR
#endif
#ifndef FIXTURE_TYPICAL_SCALE
#define FIXTURE_TYPICAL_SCALE NULL
#endif
#ifndef FIXTURE_ID
#define FIXTURE_ID "broken"
#endif
#ifndef FIXTURE_EVALUATE
#define FIXTURE_EVALUATE fixture_evaluate
#endif
#ifndef FIXTURE_CREATE
#define FIXTURE_CREATE fixture_create
#endif
#ifndef FIXTURE_DESTROY
#define FIXTURE_DESTROY fixture_destroy
#endif
#ifndef FIXTURE_OUTPUTS
#define FIXTURE_OUTPUTS 1
#endif
#ifndef FIXTURE_FLAGS
#define FIXTURE_FLAGS (GSS_F_REENTRANT | GSS_F_DETERMINISTIC)
#endif

struct gss_instance {
    double *scratch; /* for fixtures that keep a buffer; NULL otherwise */
};

__attribute__((unused)) static gss_status fixture_create(const gss_option *options, size_t count,
                                                         gss_instance **out, char *error, size_t capacity) {
    if (count > 0) {
        char message[256];
        snprintf(message, sizeof message, "unknown option '%s' (this fixture takes none)", options[0].key);
        gss_write_error(error, capacity, message);
        return GSS_E_INVALID_ARGUMENT;
    }
    *out = calloc(1, sizeof(struct gss_instance));
    return *out ? GSS_OK : GSS_E_OUT_OF_MEMORY;
}

__attribute__((unused)) static void fixture_destroy(gss_instance *instance) {
    if (instance) free(instance->scratch);
    free(instance);
}

static void fixture_dims(const gss_instance *instance, size_t *n, size_t *m) {
    (void)instance;
    *n = 1;
    *m = FIXTURE_OUTPUTS;
}

__attribute__((unused)) static gss_status fixture_evaluate(gss_instance *instance, const double *x, size_t batch,
                                                           double *y, char *error, size_t capacity) {
    (void)instance;
    (void)error;
    (void)capacity;
    for (size_t r = 0; r < batch; ++r) y[r] = 2.0 * x[r];
    return GSS_OK;
}

static const gss_plugin descriptor = {
    .struct_size = FIXTURE_STRUCT_SIZE,
    .abi_major = FIXTURE_ABI_MAJOR,
    .abi_minor = FIXTURE_ABI_MINOR,
    .id = FIXTURE_ID,
    .name = "Broken descriptor (test fixture)",
    .version = "1.0.0",
    .description = "f(x) = 2x behind a descriptor broken in one way.",
    .flags = FIXTURE_FLAGS,
    .create = FIXTURE_CREATE,
    .destroy = FIXTURE_DESTROY,
    .dims = fixture_dims,
    .evaluate = FIXTURE_EVALUATE,
    .output_shape = NULL,
    .default_input = NULL,
    .typical_scale = FIXTURE_TYPICAL_SCALE,
};

GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entry(uint32_t host_abi_major) {
    return host_abi_major == GSS_ABI_MAJOR ? &descriptor : NULL;
}

/*
 * sorter: the hard permutation matrix (or the ranks) of a vector: f: R^n -> {0,1}^(n*n).
 *
 *   mode=permutation (default)  y[i*n + j] = 1 iff x_i has ascending rank j, else 0   (m = n*n)
 *   mode=ranks                  y[i] = ascending rank of x_i, 0 .. n-1                (m = n)
 *
 * Ties are broken by index: among equal values the lower index has the lower rank, so every
 * output is a permutation.  Reentrant and deterministic: an instance only holds its options.
 */
#include "gss_plugin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SORTER_MAX_N = 1024, SORTER_QUADRATIC_MAX_N = 32 };

typedef enum { MODE_PERMUTATION, MODE_RANKS } sorter_mode;

struct gss_instance {
    size_t n;
    sorter_mode mode;
};

/* A whole decimal number of digits only (no sign, no spaces), at most SORTER_MAX_N. */
static int parse_size(const char *text, size_t *out) {
    size_t value = 0;
    if (text[0] == '\0') return 0;
    for (const char *c = text; *c != '\0'; ++c) {
        if (*c < '0' || *c > '9') return 0;
        value = value * 10 + (size_t)(*c - '0');
        if (value > SORTER_MAX_N) return 0;
    }
    *out = value;
    return 1;
}

static gss_status sorter_create(const gss_option *options, size_t option_count, gss_instance **out,
                                char *error, size_t error_capacity) {
    struct gss_instance config = {.n = 5, .mode = MODE_PERMUTATION};
    char message[256];
    for (size_t k = 0; k < option_count; ++k) {
        const char *key = options[k].key, *value = options[k].value;
        if (strcmp(key, "n") == 0) {
            if (!parse_size(value, &config.n) || config.n < 1 || config.n > SORTER_MAX_N) {
                snprintf(message, sizeof message,
                         "option n='%s' is not a whole number from 1 to %d", value, SORTER_MAX_N);
                gss_write_error(error, error_capacity, message);
                return GSS_E_INVALID_ARGUMENT;
            }
        } else if (strcmp(key, "mode") == 0) {
            if (strcmp(value, "permutation") == 0) config.mode = MODE_PERMUTATION;
            else if (strcmp(value, "ranks") == 0) config.mode = MODE_RANKS;
            else {
                snprintf(message, sizeof message,
                         "option mode='%s' is not one of permutation, ranks", value);
                gss_write_error(error, error_capacity, message);
                return GSS_E_INVALID_ARGUMENT;
            }
        } else {
            snprintf(message, sizeof message, "unknown option '%s' (sorter takes n, mode)", key);
            gss_write_error(error, error_capacity, message);
            return GSS_E_INVALID_ARGUMENT;
        }
    }
    struct gss_instance *instance = malloc(sizeof *instance);
    if (!instance) {
        gss_write_error(error, error_capacity, "out of memory creating the sorter");
        return GSS_E_OUT_OF_MEMORY;
    }
    *instance = config;
    *out = instance;
    return GSS_OK;
}

static void sorter_destroy(gss_instance *instance) { free(instance); }

static void sorter_dims(const gss_instance *instance, size_t *n, size_t *m) {
    *n = instance->n;
    *m = instance->mode == MODE_PERMUTATION ? instance->n * instance->n : instance->n;
}

/* Ascending rank with ties by index: the number of elements that come before x_i. */
static void ranks_quadratic(const double *x, size_t n, size_t *rank) {
    for (size_t i = 0; i < n; ++i) {
        size_t r = 0;
        const double xi = x[i];
        for (size_t k = 0; k < i; ++k) r += x[k] <= xi;
        for (size_t k = i + 1; k < n; ++k) r += x[k] < xi;
        rank[i] = r;
    }
}

typedef struct { double value; size_t index; } keyed;

static int compare_keyed(const void *a, const void *b) {
    const keyed *p = a, *q = b;
    if (p->value < q->value) return -1;
    if (p->value > q->value) return 1;
    return (p->index > q->index) - (p->index < q->index);
}

static void ranks_sorted(const double *x, size_t n, size_t *rank, keyed *scratch) {
    for (size_t i = 0; i < n; ++i) scratch[i] = (keyed){x[i], i};
    qsort(scratch, n, sizeof(keyed), compare_keyed);
    for (size_t j = 0; j < n; ++j) rank[scratch[j].index] = j;
}

static gss_status sorter_evaluate(gss_instance *instance, const double *x, size_t batch, double *y,
                                  char *error, size_t error_capacity) {
    const size_t n = instance->n;
    const size_t m = instance->mode == MODE_PERMUTATION ? n * n : n;
    size_t stack_rank[SORTER_QUADRATIC_MAX_N];
    size_t *rank = stack_rank;
    keyed *scratch = NULL;
    if (n > SORTER_QUADRATIC_MAX_N) {
        rank = malloc(n * sizeof *rank);
        scratch = malloc(n * sizeof *scratch);
        if (!rank || !scratch) {
            free(scratch);
            if (rank != stack_rank) free(rank);
            gss_write_error(error, error_capacity, "out of memory sorting a row");
            return GSS_E_OUT_OF_MEMORY;
        }
    }
    gss_status status = GSS_OK;
    for (size_t r = 0; r < batch; ++r) {
        const double *row = x + r * n;
        double *out = y + r * m;
        int finite = 1;
        for (size_t i = 0; i < n; ++i) finite &= isfinite(row[i]) != 0;
        if (!finite) {
            for (size_t k = 0; k < m; ++k) out[k] = NAN;
            if (status == GSS_OK) {
                char message[128];
                snprintf(message, sizeof message, "row %zu has a non-finite input", r);
                gss_write_error(error, error_capacity, message);
            }
            status = GSS_E_EVALUATION;
            continue;
        }
        if (n <= SORTER_QUADRATIC_MAX_N) ranks_quadratic(row, n, rank);
        else ranks_sorted(row, n, rank, scratch);
        if (instance->mode == MODE_RANKS) {
            for (size_t i = 0; i < n; ++i) out[i] = (double)rank[i];
        } else {
            memset(out, 0, m * sizeof *out);
            for (size_t i = 0; i < n; ++i) out[i * n + rank[i]] = 1.0;
        }
    }
    if (rank != stack_rank) free(rank);
    free(scratch);
    return status;
}

static size_t sorter_output_shape(const gss_instance *instance, size_t shape[4]) {
    if (instance->mode == MODE_RANKS) {
        shape[0] = instance->n;
        return 1;
    }
    shape[0] = instance->n;
    shape[1] = instance->n;
    return 2;
}

/* Evenly spread, unsorted values: a point where every permutation entry has a useful gradient. */
static void sorter_default_input(const gss_instance *instance, double *x) {
    const size_t n = instance->n;
    for (size_t i = 0; i < n; ++i) {
        size_t position = (i * 3 + 1) % n; /* a fixed shuffle of 0..n-1 when gcd(3, n) == 1 */
        x[i] = n > 1 ? -1.0 + 2.0 * (double)position / (double)(n - 1) : 0.0;
    }
}

/* Scores have no unit: 1, half the span [-1, 1] of the default input (the smoothing the paper's
 * sorting experiments start from). */
static void sorter_typical_scale(const gss_instance *instance, double *scale) {
    const size_t n = instance->n;
    for (size_t i = 0; i < n; ++i) scale[i] = 1.0;
}

static const gss_plugin sorter_descriptor = {
    .struct_size = sizeof(gss_plugin),
    .abi_major = GSS_ABI_MAJOR,
    .abi_minor = GSS_ABI_MINOR,
    .id = "sorter",
    .name = "Hard sorter",
    .version = "1.0.0",
    .description =
        "The hard permutation matrix that sorts x ascending: y[i*n+j] = 1 iff x_i has rank j\n"
        "(ties broken by index), or with mode=ranks the rank of every x_i (0 = smallest).\n"
        "Inputs: n numbers.  Outputs: n*n (permutation) or n (ranks).\n"
        "Options: n=5 (1..1024), mode=permutation|ranks.",
    .flags = GSS_F_REENTRANT | GSS_F_DETERMINISTIC,
    .create = sorter_create,
    .destroy = sorter_destroy,
    .dims = sorter_dims,
    .evaluate = sorter_evaluate,
    .output_shape = sorter_output_shape,
    .default_input = sorter_default_input,
    .typical_scale = sorter_typical_scale,
};

GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entry(uint32_t host_abi_major) {
    return host_abi_major == GSS_ABI_MAJOR ? &sorter_descriptor : NULL;
}

/*
 * plugin_throughput: rows per second of one plugin on one core, independent of the Swift host.
 *
 *   cc -O2 -Iinclude bench/plugin_throughput.c -o /tmp/plugin_throughput -ldl -lm
 *   /tmp/plugin_throughput .build/release/libgss-sorter.so [-o key=value ...] [--rows N] [--batch B]
 *
 * Rows are the plugin's default input (or zeros) plus uniform jitter in [-1, 1], generated
 * before the clock starts, so only evaluate() is timed.  Prints the median of 5 runs.
 */
#include "gss_plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLUGIN.so [-o key=value ...] [--rows N] [--batch B]\n", argv[0]);
        return 2;
    }
    gss_option options[64];
    size_t option_count = 0;
    size_t rows = 100000, batch = 256;
    for (int i = 2; i < argc; ++i) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc && option_count < 64) {
            char *kv = argv[++i];
            char *eq = strchr(kv, '=');
            if (!eq) { fprintf(stderr, "option '%s' is not key=value\n", kv); return 2; }
            *eq = '\0';
            options[option_count].key = kv;
            options[option_count].value = eq + 1;
            ++option_count;
        } else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
            rows = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            batch = strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    void *handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!handle) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    gss_plugin_entry_fn entry = (gss_plugin_entry_fn)dlsym(handle, GSS_PLUGIN_ENTRY_SYMBOL);
    if (!entry) { fprintf(stderr, "no %s\n", GSS_PLUGIN_ENTRY_SYMBOL); return 1; }
    const gss_plugin *plugin = entry(GSS_ABI_MAJOR);
    if (!plugin) { fprintf(stderr, "entry returned NULL\n"); return 1; }

    char error[512] = {0};
    gss_instance *instance = NULL;
    if (plugin->create(options, option_count, &instance, error, sizeof error) != GSS_OK) {
        fprintf(stderr, "create failed: %s\n", error);
        return 1;
    }
    size_t n = 0, m = 0;
    plugin->dims(instance, &n, &m);
    double *base = calloc(n, sizeof(double));
    if (plugin->default_input) plugin->default_input(instance, base);
    if (batch > rows) batch = rows;
    double *x = malloc(rows * n * sizeof(double));
    double *y = malloc(batch * m * sizeof(double));
    srand(1);
    for (size_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < n; ++j)
            x[r * n + j] = base[j] + 2.0 * ((double)rand() / RAND_MAX) - 1.0;

    double seconds[5];
    double checksum = 0;
    for (int run = 0; run < 5; ++run) {
        double start = now_seconds();
        for (size_t r = 0; r < rows; r += batch) {
            size_t count = rows - r < batch ? rows - r : batch;
            gss_status status = plugin->evaluate(instance, x + r * n, count, y, error, sizeof error);
            if (status != GSS_OK) { fprintf(stderr, "evaluate failed (%d): %s\n", status, error); return 1; }
            for (size_t k = 0; k < count * m; ++k) checksum += y[k]; /* keeps every output live */
        }
        seconds[run] = now_seconds() - start;
    }
    qsort(seconds, 5, sizeof(double), compare_doubles);
    printf("%s: n=%zu m=%zu rows=%zu batch=%zu median %.4f s  %.0f rows/s per core  (checksum %g)\n",
           plugin->id, n, m, rows, batch, seconds[2], (double)rows / seconds[2], checksum);
    plugin->destroy(instance);
    free(base); free(x); free(y);
    dlclose(handle);
    return 0;
}

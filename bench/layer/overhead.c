/*
 * The C-level time of one tiny gss_estimate call (the floor under the Python binding's overhead):
 * the bundled sorter with n = 2, one point, s = 2 samples, value and Jacobian with standard errors
 * (what gss.smooth asks for), timed call by call with CLOCK_MONOTONIC after warm-up calls.
 *
 *   cc -O2 -Iinclude bench/layer/overhead.c -o /tmp/gss-overhead .build/release/libGSS.so \
 *      -Wl,-rpath,$PWD/.build/release
 *   GSS_PLUGIN_PATH=.build/release /tmp/gss-overhead CALLS THREADS
 *
 * Prints one JSON line: {"calls": N, "threads": T, "median_ns": ..., "p25_ns", "p75_ns", "min_ns"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gss.h"

static int compare(const void *a, const void *b) {
    const long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    const long calls = argc > 1 ? atol(argv[1]) : 2000;
    const unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
    char error[512];
    gss_black_box *box;
    gss_config *config;
    const gss_option options[] = {{"n", "2"}};
    if (gss_black_box_open_plugin("sorter", options, 1, &box, error, sizeof error) != GSS_OK ||
        gss_config_create(&config) != GSS_OK ||
        gss_config_set_samples(config, 2, error, sizeof error) != GSS_OK ||
        gss_config_set_threads(config, threads, error, sizeof error) != GSS_OK) {
        fprintf(stderr, "setup failed: %s\n", error);
        return 1;
    }
    double x[2] = {0.3, -0.2}, value[4], value_se[4], jacobian[8], jacobian_se[8];
    gss_estimate_outputs out = {sizeof out};
    out.value = value;
    out.value_stderr = value_se;
    out.jacobian = jacobian;
    out.jacobian_stderr = jacobian_se;
    long long *times = malloc(sizeof *times * (size_t)calls);
    for (long i = 0; i < calls + 200; ++i) {
        if (gss_config_set_seed(config, (uint64_t)i, error, sizeof error) != GSS_OK) return 1;
        const long long t0 = now_ns();
        const gss_status status = gss_estimate(box, config, x, 1, &out, NULL, error, sizeof error);
        const long long t1 = now_ns();
        if (status != GSS_OK) {
            fprintf(stderr, "gss_estimate failed: %s\n", error);
            return 1;
        }
        if (i >= 200) times[i - 200] = t1 - t0; /* the first 200 calls warm up */
    }
    qsort(times, (size_t)calls, sizeof *times, compare);
    printf("{\"calls\": %ld, \"threads\": %u, \"median_ns\": %lld, \"p25_ns\": %lld, "
           "\"p75_ns\": %lld, \"min_ns\": %lld}\n",
           calls, threads, times[calls / 2], times[calls / 4], times[3 * calls / 4], times[0]);
    free(times);
    gss_config_free(config);
    gss_black_box_free(box);
    return 0;
}

/*
 * plugin_throughput: rows per second of one plugin, or of several side by side, independent of
 * the Swift host.
 *
 *   cc -O2 -Iinclude bench/plugin_throughput.c -o /tmp/plugin_throughput -ldl -lm -lpthread
 *   /tmp/plugin_throughput .build/release/libgss-sorter.so [OTHER.so ...] [-o key=value ...]
 *       [--rows N] [--batch B] [--threads T] [--runs R]
 *
 * Rows are the first plugin's default input (or zeros) plus uniform jitter in [-1, 1], generated
 * before the clock starts, so only evaluate() is timed (and a cheap sum over every output, which
 * keeps them read).  With T threads the rows are split into T contiguous parts, each evaluated by
 * its own thread on one shared instance (plugins with GSS_F_REENTRANT; others get one instance
 * per thread); the time is the wall clock over all of them.  With several plugins (the same
 * options and sizes, e.g. a new build and the old one kept as a reference), the runs interleave
 * (A B A B ...) so the machine's drift falls on all alike, every plugin first evaluates all rows
 * once untimed, and the outputs are compared bit for bit.  Prints the median of R runs (default 5)
 * per plugin (wall clock, and the process's CPU time, which a busy machine disturbs less), and
 * for several plugins the median of the per-run ratios to the first one.
 */
#include "gss_plugin.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_PLUGINS = 8, MAX_THREADS = 64, MAX_RUNS = 101 };

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *values, int count) {
    double sorted[MAX_RUNS];
    memcpy(sorted, values, (size_t)count * sizeof(double));
    qsort(sorted, (size_t)count, sizeof(double), compare_doubles);
    return count % 2 ? sorted[count / 2] : 0.5 * (sorted[count / 2 - 1] + sorted[count / 2]);
}

typedef struct {
    const char *path;
    const gss_plugin *plugin;
    gss_instance *instances[MAX_THREADS]; /* one shared instance if reentrant */
    size_t n, m;
    double seconds[MAX_RUNS];
    double cpu[MAX_RUNS]; /* the process's CPU seconds over the same run */
    uint64_t hash; /* of every output's bits, from the untimed pass */
} contender;

typedef struct {
    const contender *who;
    gss_instance *instance;
    const double *x;
    size_t first, count, batch;
    double *y;          /* batch * m */
    uint64_t *hash;     /* NULL when timed */
    double checksum;
    int failed;
} slice;

static void *run_slice(void *argument) {
    slice *s = argument;
    const size_t n = s->who->n, m = s->who->m;
    char error[512] = {0};
    double sums[8] = {0};
    for (size_t r = 0; r < s->count; r += s->batch) {
        const size_t count = s->count - r < s->batch ? s->count - r : s->batch;
        const gss_status status =
            s->who->plugin->evaluate(s->instance, s->x + (s->first + r) * n, count, s->y, error, sizeof error);
        if (status != GSS_OK) {
            fprintf(stderr, "%s: evaluate failed (%d): %s\n", s->who->path, status, error);
            s->failed = 1;
            return NULL;
        }
        const size_t total = count * m;
        size_t k = 0;
        /* Eight independent sums: reads every output without a chain of dependent additions. */
        for (; k + 8 <= total; k += 8)
            for (int j = 0; j < 8; ++j) sums[j] += s->y[k + j];
        for (; k < total; ++k) sums[0] += s->y[k];
        if (s->hash) {
            for (size_t i = 0; i < total; ++i) {
                uint64_t bits;
                memcpy(&bits, &s->y[i], sizeof bits);
                *s->hash = (*s->hash ^ bits) * 0x100000001B3ull;
            }
        }
    }
    s->checksum = sums[0] + sums[1] + sums[2] + sums[3] + sums[4] + sums[5] + sums[6] + sums[7];
    return NULL;
}

/* Evaluates all rows on `threads` threads; returns the wall seconds (negative on failure). */
static double run_all(contender *c, const double *x, size_t rows, size_t batch, int threads,
                      double **y, int hashing, double *checksum, double *cpu) {
    slice slices[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    const double start = now_seconds(), cpu_start = cpu_seconds();
    for (int t = 0; t < threads; ++t) {
        const size_t first = rows * (size_t)t / (size_t)threads;
        const size_t last = rows * (size_t)(t + 1) / (size_t)threads;
        slices[t] = (slice){c, c->instances[t], x, first, last - first, batch, y[t], hashing ? &c->hash : NULL, 0, 0};
        if (threads == 1 || hashing) run_slice(&slices[t]); /* hashing: in order, one thread */
        else pthread_create(&ids[t], NULL, run_slice, &slices[t]);
    }
    if (threads > 1 && !hashing)
        for (int t = 0; t < threads; ++t) pthread_join(ids[t], NULL);
    const double seconds = now_seconds() - start;
    *cpu = cpu_seconds() - cpu_start;
    for (int t = 0; t < threads; ++t) {
        if (slices[t].failed) return -1;
        *checksum += slices[t].checksum;
    }
    return seconds;
}

int main(int argc, char **argv) {
    const char *usage = "usage: %s PLUGIN.so [OTHER.so ...] [-o key=value ...] [--rows N] [--batch B] "
                        "[--threads T] [--runs R]\n";
    gss_option options[64];
    size_t option_count = 0;
    size_t rows = 100000, batch = 256;
    int threads = 1, runs = 5, plugin_count = 0;
    contender plugins[MAX_PLUGINS];
    memset(plugins, 0, sizeof plugins);
    for (int i = 1; i < argc; ++i) {
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
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (argv[i][0] != '-' && plugin_count < MAX_PLUGINS) {
            plugins[plugin_count++].path = argv[i];
        } else {
            fprintf(stderr, "unknown argument '%s'\n", argv[i]);
            fprintf(stderr, usage, argv[0]);
            return 2;
        }
    }
    if (plugin_count == 0 || threads < 1 || threads > MAX_THREADS || runs < 1 || runs > MAX_RUNS || batch < 1) {
        fprintf(stderr, usage, argv[0]);
        return 2;
    }

    for (int p = 0; p < plugin_count; ++p) {
        contender *c = &plugins[p];
        void *handle = dlopen(c->path, RTLD_NOW | RTLD_LOCAL);
        if (!handle) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
        gss_plugin_entry_fn entry = (gss_plugin_entry_fn)dlsym(handle, GSS_PLUGIN_ENTRY_SYMBOL);
        if (!entry) { fprintf(stderr, "%s: no %s\n", c->path, GSS_PLUGIN_ENTRY_SYMBOL); return 1; }
        c->plugin = entry(GSS_ABI_MAJOR);
        if (!c->plugin) { fprintf(stderr, "%s: entry returned NULL\n", c->path); return 1; }
        char error[512] = {0};
        const int shared = (c->plugin->flags & GSS_F_REENTRANT) != 0;
        for (int t = 0; t < threads; ++t) {
            if (shared && t > 0) { c->instances[t] = c->instances[0]; continue; }
            if (c->plugin->create(options, option_count, &c->instances[t], error, sizeof error) != GSS_OK) {
                fprintf(stderr, "%s: create failed: %s\n", c->path, error);
                return 1;
            }
        }
        c->plugin->dims(c->instances[0], &c->n, &c->m);
        if (p > 0 && (c->n != plugins[0].n || c->m != plugins[0].m)) {
            fprintf(stderr, "%s: sizes %zu -> %zu differ from the first plugin's\n", c->path, c->n, c->m);
            return 1;
        }
    }
    const size_t n = plugins[0].n, m = plugins[0].m;
    double *base = calloc(n, sizeof(double));
    if (plugins[0].plugin->default_input) plugins[0].plugin->default_input(plugins[0].instances[0], base);
    if (batch > rows) batch = rows;
    double *x = malloc(rows * n * sizeof(double));
    double *y[MAX_THREADS];
    for (int t = 0; t < threads; ++t) y[t] = malloc(batch * m * sizeof(double));
    srand(1);
    for (size_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < n; ++j)
            x[r * n + j] = base[j] + 2.0 * ((double)rand() / RAND_MAX) - 1.0;

    /* Untimed: every plugin once over all rows (warm-up, and the outputs' hash). */
    double checksum = 0;
    for (int p = 0; p < plugin_count; ++p) {
        plugins[p].hash = 0xCBF29CE484222325ull;
        double cpu;
        if (run_all(&plugins[p], x, rows, batch, 1, y, 1, &checksum, &cpu) < 0) return 1;
    }
    /* Timed, interleaved: run k of every plugin, the order rotating with k. */
    for (int run = 0; run < runs; ++run)
        for (int q = 0; q < plugin_count; ++q) {
            contender *c = &plugins[(q + run) % plugin_count];
            const double seconds = run_all(c, x, rows, batch, threads, y, 0, &checksum, &c->cpu[run]);
            if (seconds < 0) return 1;
            c->seconds[run] = seconds;
        }

    for (int p = 0; p < plugin_count; ++p) {
        const contender *c = &plugins[p];
        const double t = median(c->seconds, runs);
        const double cpu = median(c->cpu, runs);
        printf("%s (%s): n=%zu m=%zu rows=%zu batch=%zu threads=%d median of %d %.4f s  %.0f rows/s  "
               "(%.0f rows per CPU second)",
               c->plugin->id, c->path, c->n, c->m, rows, batch, threads, runs, t, (double)rows / t,
               (double)rows / cpu);
        if (p > 0) {
            double ratios[MAX_RUNS];
            for (int run = 0; run < runs; ++run) ratios[run] = c->seconds[run] / plugins[0].seconds[run];
            printf("  the first is %.2fx as fast (median of per-run ratios); outputs %s the first's", median(ratios, runs),
                   c->hash == plugins[0].hash ? "identical to" : "DIFFER from");
        }
        printf("\n");
    }
    printf("(checksum %g)\n", checksum);
    for (int p = 0; p < plugin_count; ++p) {
        const int shared = (plugins[p].plugin->flags & GSS_F_REENTRANT) != 0;
        for (int t = 0; t < (shared ? 1 : threads); ++t) plugins[p].plugin->destroy(plugins[p].instances[t]);
    }
    for (int t = 0; t < threads; ++t) free(y[t]);
    free(base);
    free(x);
    return 0;
}

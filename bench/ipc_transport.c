/*
 * ipc_transport: what one batch costs when the plugin runs in another process, for the two ways
 * `gss --isolate` could move batches, next to calling the plugin in-process.
 *
 *   cc -O2 -Iinclude bench/ipc_transport.c -o /tmp/ipc_transport -ldl
 *   /tmp/ipc_transport .build/release/libgss-sorter.so [-o key=value ...] [--rows 1024] [--batches 2000]
 *
 *   in-process   evaluate(x, y) directly
 *   shared       x copied into a MAP_SHARED region, a 16-byte request and a 1-byte reply over a
 *                socket, y copied out (what IsolatedPluginBlackBox does)
 *   socket       x sent over the socket, y received back (the data itself crosses the kernel)
 *
 * The worker is a fork of this process with its own instance, like gss's worker processes.
 * Prints microseconds per batch (median of 5 runs) and each transport's ratio to in-process.
 */
#include "gss_plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void send_all(int fd, const void *data, size_t size) {
    const char *p = data;
    while (size > 0) {
        ssize_t sent = send(fd, p, size, MSG_NOSIGNAL);
        if (sent <= 0) { perror("send"); exit(1); }
        p += sent;
        size -= (size_t)sent;
    }
}

static int receive_all(int fd, void *data, size_t size) {
    char *p = data;
    while (size > 0) {
        ssize_t got = recv(fd, p, size, 0);
        if (got <= 0) return 0;
        p += got;
        size -= (size_t)got;
    }
    return 1;
}

static const gss_plugin *plugin;
static gss_option options[64];
static size_t option_count;
static size_t n, m;

static gss_instance *make_instance(void) {
    char error[512] = {0};
    gss_instance *instance = NULL;
    if (plugin->create(options, option_count, &instance, error, sizeof error) != GSS_OK) {
        fprintf(stderr, "create failed: %s\n", error);
        exit(1);
    }
    return instance;
}

enum transport { IN_PROCESS, SHARED, SOCKET };

/* Seconds for `batches` batches of `rows` rows over one transport. */
static double run(enum transport how, const double *x, double *y, size_t rows, size_t batches) {
    char error[512];
    if (how == IN_PROCESS) {
        gss_instance *instance = make_instance();
        double start = now_seconds();
        for (size_t b = 0; b < batches; ++b) plugin->evaluate(instance, x, rows, y, error, sizeof error);
        double seconds = now_seconds() - start;
        plugin->destroy(instance);
        return seconds;
    }
    size_t in_bytes = rows * n * sizeof(double), out_bytes = rows * m * sizeof(double);
    double *shared = mmap(NULL, in_bytes + out_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int pair[2];
    if (shared == MAP_FAILED || socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) { perror("setup"); exit(1); }
    pid_t child = fork();
    if (child == 0) {
        close(pair[0]);
        gss_instance *instance = make_instance();
        double *local_x = malloc(in_bytes), *local_y = malloc(out_bytes);
        unsigned char request[16];
        while (receive_all(pair[1], request, sizeof request)) {
            if (how == SHARED) {
                plugin->evaluate(instance, shared, rows, shared + rows * n, error, sizeof error);
                send_all(pair[1], "\1", 1);
            } else {
                if (!receive_all(pair[1], local_x, in_bytes)) break;
                plugin->evaluate(instance, local_x, rows, local_y, error, sizeof error);
                send_all(pair[1], local_y, out_bytes);
            }
        }
        _exit(0);
    }
    close(pair[1]);
    unsigned char request[16] = {0}, reply;
    double start = now_seconds();
    for (size_t b = 0; b < batches; ++b) {
        if (how == SHARED) {
            memcpy(shared, x, in_bytes);
            send_all(pair[0], request, sizeof request);
            if (!receive_all(pair[0], &reply, 1)) { fprintf(stderr, "worker died\n"); exit(1); }
            memcpy(y, shared + rows * n, out_bytes);
        } else {
            send_all(pair[0], request, sizeof request);
            send_all(pair[0], x, in_bytes);
            if (!receive_all(pair[0], y, out_bytes)) { fprintf(stderr, "worker died\n"); exit(1); }
        }
    }
    double seconds = now_seconds() - start;
    close(pair[0]);
    waitpid(child, NULL, 0);
    munmap(shared, in_bytes + out_bytes);
    return seconds;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLUGIN.so [-o key=value ...] [--rows N] [--batches B]\n", argv[0]);
        return 2;
    }
    size_t rows = 1024, batches = 2000;
    for (int i = 2; i < argc; ++i) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc && option_count < 64) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq) { fprintf(stderr, "option '%s' is not key=value\n", kv); return 2; }
            *eq = '\0';
            options[option_count].key = kv;
            options[option_count++].value = eq + 1;
        } else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
            rows = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc) {
            batches = strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    void *handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!handle) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    gss_plugin_entry_fn entry = (gss_plugin_entry_fn)dlsym(handle, GSS_PLUGIN_ENTRY_SYMBOL);
    if (!entry || !(plugin = entry(GSS_ABI_MAJOR))) { fprintf(stderr, "not a gss plugin\n"); return 1; }
    gss_instance *probe = make_instance();
    plugin->dims(probe, &n, &m);
    double *base = calloc(n, sizeof(double));
    if (plugin->default_input) plugin->default_input(probe, base);
    plugin->destroy(probe);
    double *x = malloc(rows * n * sizeof(double)), *y = malloc(rows * m * sizeof(double));
    srand(1);
    for (size_t k = 0; k < rows * n; ++k) x[k] = base[k % n] + 2.0 * ((double)rand() / RAND_MAX) - 1.0;

    const char *names[] = {"in-process", "shared", "socket"};
    double per_batch[3];
    for (int how = IN_PROCESS; how <= SOCKET; ++how) {
        double seconds[5];
        for (int r = 0; r < 5; ++r) seconds[r] = run((enum transport)how, x, y, rows, batches);
        qsort(seconds, 5, sizeof(double), compare_doubles);
        per_batch[how] = seconds[2] / (double)batches * 1e6;
    }
    printf("batches of %zu rows (n = %zu, m = %zu: %zu KiB in, %zu KiB out), %zu batches, median of 5 runs\n", rows, n, m,
           rows * n * sizeof(double) / 1024, rows * m * sizeof(double) / 1024, batches);
    for (int how = IN_PROCESS; how <= SOCKET; ++how)
        printf("  %-10s  %8.1f us per batch  %5.2fx in-process\n", names[how], per_batch[how], per_batch[how] / per_batch[IN_PROCESS]);
    return 0;
}

#define _GNU_SOURCE
#include "gss_system.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <link.h>
#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <string.h>
#include <unistd.h>

int gss_shared_memory_file(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int gss_die_with_parent(void) { return prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); }

int gss_become_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

size_t gss_children_in_other_sessions(int *pids, size_t capacity) {
    pid_t ours = getsid(0);
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL) return 0;
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%s/children", entry->d_name);
        FILE *file = fopen(path, "re");
        if (file == NULL) continue;
        int pid;
        while (count < capacity && fscanf(file, "%d", &pid) == 1) {
            pid_t session = getsid(pid);
            if (session >= 0 && session != ours) pids[count++] = pid;
        }
        fclose(file);
    }
    closedir(tasks);
    return count;
}

int gss_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}

size_t gss_heap_bytes_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

const char *gss_shared_object_containing(const void *address) {
    Dl_info info;
    struct link_map *map = NULL;
    if (dladdr1(address, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL) return NULL;
    /* The executable's l_name is empty (dladdr would give its argv[0], maybe a bare name). */
    return map->l_name[0] != '\0' ? map->l_name : NULL;
}

/* ---- Crashes of in-process plugins (async-signal-safe: write(2) and _exit only) ---- */

struct crash_context {
    const char *plugin;
    const double *inputs;
    size_t rows;
    size_t n;
};

static _Thread_local struct crash_context current_call;
static const int guarded_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define GUARDED_COUNT (sizeof guarded_signals / sizeof guarded_signals[0])
static struct sigaction previous_actions[GUARDED_COUNT];

struct line {
    char text[1024];
    size_t length;
};

static void append(struct line *line, const char *text) {
    while (*text && line->length < sizeof line->text - 1) line->text[line->length++] = *text++;
}

static void append_unsigned(struct line *line, unsigned long long value) {
    char digits[24];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (count > 0 && line->length < sizeof line->text - 1) line->text[line->length++] = digits[--count];
}

/* A double with up to 6 decimals (or in e-notation far from 1), without printf's locks. */
static void append_double(struct line *line, double value) {
    if (value != value) {
        append(line, "nan");
        return;
    }
    if (value < 0) {
        append(line, "-");
        value = -value;
    }
    if (value > 1.7976931348623157e308) {
        append(line, "inf");
        return;
    }
    int exponent = 0;
    if (value != 0 && (value >= 1e15 || value < 1e-4)) {
        while (value >= 10) { value /= 10; ++exponent; }
        while (value < 1) { value *= 10; --exponent; }
    }
    unsigned long long whole = (unsigned long long)value;
    unsigned long long fraction = (unsigned long long)((value - (double)whole) * 1e6 + 0.5);
    if (fraction >= 1000000) { ++whole; fraction -= 1000000; }
    append_unsigned(line, whole);
    append(line, ".");
    char decimals[7] = "000000";
    for (int k = 5; k >= 0; --k) { decimals[k] = (char)('0' + fraction % 10); fraction /= 10; }
    int last = 5;
    while (last > 0 && decimals[last] == '0') decimals[last--] = '\0';
    append(line, decimals);
    if (exponent != 0) {
        append(line, exponent < 0 ? "e-" : "e+");
        append_unsigned(line, (unsigned long long)(exponent < 0 ? -exponent : exponent));
    }
}

static const char *signal_description(int number) {
    switch (number) {
    case SIGSEGV: return "SIGSEGV (segmentation fault)";
    case SIGBUS: return "SIGBUS (bus error)";
    case SIGFPE: return "SIGFPE (arithmetic exception)";
    case SIGILL: return "SIGILL (illegal instruction)";
    default: return "SIGABRT (abort)";
    }
}

static void crash_handler(int number, siginfo_t *info, void *context) {
    struct crash_context call = current_call;
    if (call.plugin == NULL) {
        /* Not in a plugin: gss's own fault, for the handler that was there before (the runtime's). */
        for (size_t k = 0; k < GUARDED_COUNT; ++k) {
            if (guarded_signals[k] != number) continue;
            struct sigaction previous = previous_actions[k];
            if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
                previous.sa_sigaction(number, info, context);
            } else if (previous.sa_handler != SIG_IGN && previous.sa_handler != SIG_DFL) {
                previous.sa_handler(number);
            } else {
                sigaction(number, &previous, NULL);
                raise(number);
            }
            return;
        }
        return;
    }
    /* Two workers may crash at once: one line, from the first. */
    static int claimed = 0;
    if (__atomic_exchange_n(&claimed, 1, __ATOMIC_SEQ_CST)) {
        for (;;) pause();
    }
    struct line line = {.length = 0};
    append(&line, "error: plugin '");
    append(&line, call.plugin);
    append(&line, "' crashed with ");
    append(&line, signal_description(number));
    append(&line, " while evaluating a batch of ");
    append_unsigned(&line, call.rows);
    append(&line, call.rows == 1 ? " row" : " rows");
    if (call.inputs != NULL && call.rows > 0) {
        append(&line, " that starts with the input [");
        size_t shown = call.n < 8 ? call.n : 8;
        for (size_t i = 0; i < shown; ++i) {
            if (i > 0) append(&line, ", ");
            append_double(&line, call.inputs[i]);
        }
        if (shown < call.n) append(&line, ", …");
        append(&line, "]");
    }
    append(&line, "; rerun with --isolate to run it in worker processes that gss survives and to name the row that crashed it.\n");
    size_t written = 0;
    while (written < line.length) {
        ssize_t count = write(2, line.text + written, line.length - written);
        if (count <= 0) break;
        written += (size_t)count;
    }
    _exit(1);
}

void gss_crash_guard_install(void) {
    static int installed = 0;
    if (installed) return;
    installed = 1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = crash_handler;
    /* SA_ONSTACK: a plugin that overflowed its stack still gets its line where an alternate stack exists. */
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (size_t k = 0; k < GUARDED_COUNT; ++k) sigaction(guarded_signals[k], &action, &previous_actions[k]);
}

void gss_crash_guard_enter(const char *plugin, const double *inputs, size_t rows, size_t n) {
    current_call = (struct crash_context){plugin, inputs, rows, n};
}

void gss_crash_guard_leave(void) { current_call.plugin = NULL; }

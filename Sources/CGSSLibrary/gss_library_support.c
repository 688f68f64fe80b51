#define _GNU_SOURCE
#include "gss_library_support.h"

#include <poll.h>
#include <sched.h>
#include <unistd.h>

int32_t gss_library_cancel_requested(const volatile int32_t *flag, int32_t fd) {
    if (flag != NULL && *flag != 0) return 1;
    if (fd >= 0) {
        struct pollfd probe = {.fd = fd, .events = POLLIN};
        if (poll(&probe, 1, 0) > 0 && (probe.revents & (POLLIN | POLLHUP))) return 1;
    }
    return 0;
}

uint32_t gss_library_processor_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int count = CPU_COUNT(&set);
        if (count > 0) return (uint32_t)count;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (uint32_t)online : 1;
}

#define _GNU_SOURCE
#include "gss_system.h"

#include <dlfcn.h>
#include <link.h>
#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>

int gss_shared_memory_file(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int gss_die_with_parent(void) { return prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); }

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

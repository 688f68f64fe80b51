/*
 * gss_system.h — the few Linux calls the Swift host needs that Swift's Glibc module does not
 * import (variadic prctl, memfd_create, mallinfo2 and dladdr1 behind _GNU_SOURCE / malloc.h).
 */
#ifndef GSS_SYSTEM_H
#define GSS_SYSTEM_H

#include <spawn.h>
#include <stddef.h>

/* An anonymous shared-memory file (memfd_create with MFD_CLOEXEC); -1 with errno on failure. */
int gss_shared_memory_file(const char *name);

/* Asks the kernel to SIGKILL this process when the thread that created it exits
 * (prctl(PR_SET_PDEATHSIG, SIGKILL)); 0 or -1 with errno. */
int gss_die_with_parent(void);

/* Adds "close every descriptor from `lowest` up" to spawn actions
 * (posix_spawn_file_actions_addclosefrom_np), so a child inherits only what it was given. */
int gss_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);

/* Bytes the allocator has handed out and not yet got back, over every arena, including large
 * blocks served by mmap (mallinfo2: uordblks + hblkhd). */
size_t gss_heap_bytes_in_use(void);

/* The file of the loaded shared object that holds `address`, as the dynamic loader opened it
 * (its link map's l_name); NULL when the executable itself holds it, or nothing does. The string
 * belongs to the loader. */
const char *gss_shared_object_containing(const void *address);

#endif

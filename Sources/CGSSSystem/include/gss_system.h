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

/* Makes this process the reaper of its orphaned descendants (prctl(PR_SET_CHILD_SUBREAPER)), so
 * that a daemon started by a child (setsid, double fork) becomes our child instead of init's;
 * 0 or -1 with errno. */
int gss_become_subreaper(void);

/* Up to `capacity` pids of our children (of any thread) that run in another session than ours:
 * orphans adopted as subreaper that left the session (children we started keep ours). */
size_t gss_children_in_other_sessions(int *pids, size_t capacity);

/* Crashes of in-process plugins. Once installed (by the command, never by the library), a fatal
 * signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) raised on a thread that is inside a plugin call
 * writes one line to stderr (the plugin, the signal, the batch, the hint to rerun with --isolate)
 * and _exit(1)s, instead of the Swift runtime's backtrace; on any other thread it goes to the
 * handler that was there before. */
void gss_crash_guard_install(void);

/* Marks this thread as inside a call of plugin `plugin` on `rows` rows of `inputs` (n numbers each);
 * the strings and numbers must stay valid until gss_crash_guard_leave. */
void gss_crash_guard_enter(const char *plugin, const double *inputs, size_t rows, size_t n);
void gss_crash_guard_leave(void);

#endif

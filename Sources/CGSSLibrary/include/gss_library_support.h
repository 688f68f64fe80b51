/* What the library's Swift side (Sources/GSSLibrary) needs from C: the public API's types, and
 * the two reads Swift cannot spell (a volatile flag, a non-blocking poll). */
#ifndef GSS_LIBRARY_SUPPORT_H
#define GSS_LIBRARY_SUPPORT_H

#include <stdint.h>

#include "../../../include/gss.h"

/* 1 when the caller asked the running call to stop: *flag nonzero (a volatile read, so a store
 * from another thread or a signal handler is seen), or fd readable (polled, not read); else 0.
 * flag may be NULL and fd -1. */
int32_t gss_library_cancel_requested(const volatile int32_t *flag, int32_t fd);

/* The processors this process may run on (its affinity mask), at least 1. */
uint32_t gss_library_processor_count(void);

#endif

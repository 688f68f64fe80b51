/*
 * Fixture: a plugin built for ABI 1.0, whose descriptor ends before typical_scale (struct_size
 * and abi_minor say so).  The member is nevertheless set, to a scale of 1000: a host that reads
 * past struct_size would use it, one that keeps to the ABI smooths with gamma = 1.
 */
#include <stddef.h>

#include "gss_plugin.h"

static void planted_typical_scale(const struct gss_instance *instance, double *scale) {
    (void)instance;
    scale[0] = 1000.0;
}

#define FIXTURE_STRUCT_SIZE offsetof(gss_plugin, typical_scale)
#define FIXTURE_ABI_MINOR 0u
#define FIXTURE_ID "minor-zero"
#define FIXTURE_TYPICAL_SCALE planted_typical_scale
#include "broken_descriptor.h"

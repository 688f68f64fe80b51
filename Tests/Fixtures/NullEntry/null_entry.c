/* Fixture: gss_plugin_entry serves no ABI major at all (returns NULL, as for an unknown major). */
#include "gss_plugin.h"

GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entry(uint32_t host_abi_major) {
    (void)host_abi_major;
    return NULL;
}

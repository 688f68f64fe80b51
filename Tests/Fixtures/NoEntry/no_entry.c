/* Fixture: a shared object that exports no gss_plugin_entry (a typo in the name). */
#include "gss_plugin.h"

GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entryy(uint32_t host_abi_major) {
    (void)host_abi_major;
    return NULL;
}

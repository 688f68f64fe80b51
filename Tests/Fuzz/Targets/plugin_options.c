/*
 * libFuzzer target: plugin option strings, as `-o key=value` hands them to a bundled plugin's
 * create() (built by scripts/fuzz.sh once per plugin, with that plugin's sources). Each input
 * line is one option, split at its first '=' as gss splits it; a created instance is asked
 * for its sizes, shape and default input, then destroyed.
 */
#include "gss_plugin.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The header documents the entry point without declaring it; the plugin's source defines it. */
const gss_plugin *gss_plugin_entry(uint32_t host_abi_major);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const gss_plugin *plugin = gss_plugin_entry(GSS_ABI_MAJOR);
    if (!plugin) abort();
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    gss_option options[16];
    size_t count = 0;
    for (char *line = text; line && count < 16;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *equals = strchr(line, '=');
        if (equals && equals != line) {
            *equals = '\0';
            options[count].key = line;
            options[count].value = equals + 1;
            count++;
        }
        line = next;
    }
    gss_instance *instance = NULL;
    char error[256];
    if (plugin->create(options, count, &instance, error, sizeof error) == GSS_OK) {
        if (!instance) abort();
        size_t n = 0, m = 0;
        plugin->dims(instance, &n, &m);
        if (n < 1 || m < 1) abort();
        if (plugin->output_shape) {
            size_t shape[4];
            size_t rank = plugin->output_shape(instance, shape);
            size_t product = 1;
            for (size_t k = 0; k < rank; ++k) product *= shape[k];
            if (rank < 1 || rank > 4 || product != m) abort();
        }
        if (plugin->default_input && n <= (1u << 20)) {
            double *x = malloc(n * sizeof *x);
            plugin->default_input(instance, x);
            free(x);
        }
        plugin->destroy(instance);
    } else if (!memchr(error, '\0', sizeof error)) {
        abort();  /* the message must be NUL-terminated within the buffer */
    }
    free(text);
    return 0;
}

/* Fixture: create ignores every option, so a misspelt key is silently accepted. */
#include "gss_plugin.h"

static gss_status lenient_create(const gss_option *, size_t, gss_instance **, char *, size_t);
#define FIXTURE_ID "accepts-anything"
#define FIXTURE_CREATE lenient_create
#include "broken_descriptor.h"

static gss_status lenient_create(const gss_option *options, size_t count, gss_instance **out, char *error,
                                 size_t capacity) {
    (void)options; /* the bug: never looked at */
    (void)count;
    (void)error;
    (void)capacity;
    *out = calloc(1, sizeof(struct gss_instance));
    return *out ? GSS_OK : GSS_E_OUT_OF_MEMORY;
}

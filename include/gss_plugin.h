/*
 * gss_plugin.h — the C ABI of gss black-box plugins (ABI major 1, minor 1).
 *
 * A plugin is a shared object that computes a function f: R^n -> R^m on batches of inputs.
 * The gss host perturbs an input x many times, hands the perturbed rows to the plugin in
 * batches, and turns the outputs into the value and Jacobian of the smoothed function
 * f_eps(x) = E[f(x + gamma * eps)].  A plugin never sees the noise, only rows to evaluate.
 *
 * This header is the whole contract: a plugin compiles against it alone.
 *
 *     cc -shared -fPIC -O2 -Iinclude my_plugin.c -o libmy_plugin.so
 *     gss grad ./libmy_plugin.so --x 0.1,0.2
 *
 * Conventions used below
 *   [thread]  which threads may call the function, and what may run concurrently with it.
 *   [memory]  who owns each pointer and for how long it stays valid.
 *   Every status is a gss_status (a fixed-width int32_t, never a C enum, so its size never
 *   depends on the compiler).  Error text is written by the plugin into a buffer the host
 *   owns; no allocated memory ever crosses the boundary in either direction.
 *
 * Growth
 *   The descriptor is append-only.  New optional members are added at its end and bump
 *   GSS_ABI_MINOR; the host reads a member only if it lies within descriptor->struct_size.
 *   Anything else (reordering, changing a signature or a meaning) is a new GSS_ABI_MAJOR.
 */
#ifndef GSS_PLUGIN_H
#define GSS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------------------------- */

/* Hosts and plugins must agree on the major version; a plugin built against an older minor
 * version still loads in a newer host (it just lacks the newer optional members).
 *   1.0  the first layout, up to default_input.
 *   1.1  typical_scale appended. */
#define GSS_ABI_MAJOR 1u
#define GSS_ABI_MINOR 1u

/* ---------------------------------------------------------------------------------------------
 * Status codes (gss_status is int32_t; these values never change)
 * ------------------------------------------------------------------------------------------- */

typedef int32_t gss_status;

#define GSS_OK                    ((gss_status)0) /* success */
#define GSS_E_INVALID_ARGUMENT    ((gss_status)1) /* unknown option key, bad option value, bad size */
#define GSS_E_OUT_OF_MEMORY       ((gss_status)2) /* an allocation failed */
#define GSS_E_EVALUATION          ((gss_status)3) /* at least one row could not be computed */
#define GSS_E_UNSUPPORTED         ((gss_status)4) /* a valid request this plugin cannot serve */
#define GSS_E_INTERNAL            ((gss_status)5) /* a bug or broken invariant inside the plugin */

/* ---------------------------------------------------------------------------------------------
 * Flags (bit set in gss_plugin.flags; unknown bits must be zero and are ignored by hosts)
 * ------------------------------------------------------------------------------------------- */

/* evaluate() may run concurrently on ONE instance from several threads.  Without this flag the
 * host creates one instance per worker thread and never overlaps calls on an instance. */
#define GSS_F_REENTRANT           ((uint64_t)1 << 0)
/* The same x always gives bit-identical y (no hidden randomness, no state across calls). */
#define GSS_F_DETERMINISTIC       ((uint64_t)1 << 1)

/* ---------------------------------------------------------------------------------------------
 * Option: one `-o key=value` given by the user, handed to create()
 * ------------------------------------------------------------------------------------------- */

typedef struct gss_option {
    const char *key;   /* NUL-terminated, never NULL */
    const char *value; /* NUL-terminated, never NULL (may be empty) */
} gss_option;

/* An instance is whatever the plugin wants it to be; the host only passes the pointer back. */
typedef struct gss_instance gss_instance;

/* ---------------------------------------------------------------------------------------------
 * Descriptor: what gss_plugin_entry returns.  Fields are in ABI order; never reorder them.
 * ------------------------------------------------------------------------------------------- */

typedef struct gss_plugin {
    /* sizeof(gss_plugin) as the plugin was compiled: set it to sizeof(gss_plugin).
     * The host refuses a descriptor smaller than the ABI 1.0 layout and reads no field past
     * struct_size (fields appended by later minors are then treated as absent). */
    size_t struct_size;

    /* GSS_ABI_MAJOR and GSS_ABI_MINOR as the plugin was compiled. */
    uint32_t abi_major;
    uint32_t abi_minor;

    /* [memory] All strings are static: NUL-terminated, valid as long as the object is loaded.
     * id:          unique short identifier, characters [a-z0-9._-] only, e.g. "sorter".
     * name:        human-readable name, e.g. "Hard sorter".
     * version:     the plugin's own version, e.g. "1.2.0".
     * description: what f computes, its inputs and outputs, and every option with its default.
     *              Shown by `gss info`; several lines are fine. */
    const char *id;
    const char *name;
    const char *version;
    const char *description;

    /* GSS_F_* bits. */
    uint64_t flags;

    /* Build an instance from the user's options.  REQUIRED.
     *
     * options:        option_count key/value pairs, in the order the user gave them; a key may
     *                 repeat (the plugin decides: last wins, or refuse).
     * out:            on GSS_OK, *out receives the new instance (never NULL on success).
     * error:          buffer of error_capacity bytes for a message on failure (NUL-terminated,
     *                 truncated to fit).  One sentence naming the problem, e.g.
     *                 "unknown option 'size' (sorter takes n, mode)".
     * returns:        GSS_OK; GSS_E_INVALID_ARGUMENT for an unknown key or a bad value (a
     *                 plugin must refuse keys it does not know, never ignore them);
     *                 GSS_E_OUT_OF_MEMORY; GSS_E_UNSUPPORTED; GSS_E_INTERNAL.
     * [thread]  any thread; may run concurrently with create/destroy of OTHER instances and
     *           with evaluate on other instances.
     * [memory]  options, their strings and error belong to the host and are valid only during
     *           the call: copy what you keep.  The instance belongs to the plugin until destroy. */
    gss_status (*create)(const gss_option *options, size_t option_count, gss_instance **out,
                         char *error, size_t error_capacity);

    /* Free an instance and everything it owns.  REQUIRED.  destroy(NULL) must do nothing.
     * [thread]  any thread, never concurrently with another call on the same instance; the host
     *           calls it exactly once per successful create, after the last evaluate returned. */
    void (*destroy)(gss_instance *instance);

    /* Input size n and output size m of this instance (both >= 1).  REQUIRED.
     * Sizes may depend on options but never change during the instance's lifetime.
     * [thread]  any thread, concurrently with any call on the same instance except destroy. */
    void (*dims)(const gss_instance *instance, size_t *n, size_t *m);

    /* Evaluate f on `batch` rows.  REQUIRED.
     *
     * x:        batch * n doubles, row-major (row r is x[r*n .. r*n+n-1]).  Finite numbers.
     * batch:    number of rows, >= 1.  Results must not depend on how rows are batched.
     * y:        batch * m doubles to fill, row-major.  Write every element, nothing beyond.
     * error:    message buffer as in create; name the first failing row when you can.
     * returns:  GSS_OK when every row was computed (all outputs finite); GSS_E_EVALUATION when
     *           some row could not be computed: fill that row with NaN and describe it in
     *           `error` (the host then fails the run and reports it); other codes as in create.
     * [thread]  without GSS_F_REENTRANT: never two calls on one instance at once (the host
     *           gives every worker thread its own instance).  With GSS_F_REENTRANT: any number
     *           of concurrent calls on one instance.
     * [memory]  x, y and error belong to the host, never alias each other, and are valid only
     *           during the call; do not keep pointers to them. */
    gss_status (*evaluate)(gss_instance *instance, const double *x, size_t batch, double *y,
                           char *error, size_t error_capacity);

    /* OPTIONAL (may be NULL): the shape of one output row, e.g. rank 2 and {64, 64} for a
     * 64x64 image (row-major, so m == shape[0] * shape[1]), so hosts can save it as a picture.
     * Writes up to 4 extents into shape and returns the rank (1..4); the product of the extents
     * must equal m.  [thread] as dims.  [memory] shape is the host's, valid during the call. */
    size_t (*output_shape)(const gss_instance *instance, size_t shape[4]);

    /* OPTIONAL (may be NULL): a meaningful input to start from; writes n doubles to x.  Used
     * when the user gives no --x.  [thread] as dims.  [memory] x is the host's, valid during
     * the call. */
    void (*default_input)(const gss_instance *instance, double *x);

    /* --- ABI 1.0 ends here.  Later minors append optional members below this line. --- */

    /* ABI 1.1, OPTIONAL (may be NULL, and absent when struct_size ends before it): a typical
     * scale per input, in the input's own unit: how far it must move to change the output
     * noticeably (e.g. 0.1 for a distance in metres, 5 for an angle in degrees).  Writes n
     * positive finite doubles to scale.  gss smooths with gamma = these numbers when the user
     * gives no --scale, so inputs in different units get comparable noise.
     * [thread] as dims.  [memory] scale is the host's, valid during the call. */
    void (*typical_scale)(const gss_instance *instance, double *scale);
} gss_plugin;

/* ---------------------------------------------------------------------------------------------
 * The one exported symbol
 * ------------------------------------------------------------------------------------------- */

/* Mark the entry point exported even when the plugin is compiled with -fvisibility=hidden. */
#if defined(_WIN32)
#define GSS_PLUGIN_EXPORT __declspec(dllexport)
#else
#define GSS_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* The name the host looks up with dlsym. */
#define GSS_PLUGIN_ENTRY_SYMBOL "gss_plugin_entry"

/* Every plugin exports exactly this function:
 *
 *     GSS_PLUGIN_EXPORT const gss_plugin *gss_plugin_entry(uint32_t host_abi_major);
 *
 * Return a pointer to a static, immutable descriptor when host_abi_major equals the major you
 * were compiled for (GSS_ABI_MAJOR), and NULL otherwise; never crash on an unknown major.
 * [thread]  any thread, any number of times, concurrently; must be cheap and side-effect free.
 * [memory]  the descriptor and everything it points to stay valid while the object is loaded.
 * The host opens plugins with dlopen(path, RTLD_NOW | RTLD_LOCAL). */
typedef const gss_plugin *(*gss_plugin_entry_fn)(uint32_t host_abi_major);

/* Helper for plugins: copy a message into the host's error buffer, truncating safely. */
static inline void gss_write_error(char *error, size_t error_capacity, const char *message) {
    if (error == NULL || error_capacity == 0) return;
    size_t i = 0;
    if (message != NULL) {
        for (; i + 1 < error_capacity && message[i] != '\0'; ++i) error[i] = message[i];
    }
    error[i] = '\0';
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GSS_PLUGIN_H */

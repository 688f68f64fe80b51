/*
 * gss.h — the gss library's C API (API major 1, minor 1), exported by libgss.so.
 *
 * The library estimates the smoothed value f_eps(x) = E[f(x + gamma * eps)] of a black box f
 * and its Jacobian (with standard errors, and on request the derivative in the scale, the output
 * covariance, or k-sample median smoothing) at B points per call, in process, on all cores.
 * It is what the `gss grad` command computes, without a process or JSON per call: the layer a
 * training loop calls at every step.  The plugin ABI (gss_plugin.h) is a separate contract and
 * unchanged; this header includes it for gss_status, the status codes and gss_option.
 *
 *     gss_black_box *box;  gss_config *config;  char error[512];
 *     gss_black_box_open_plugin("sorter", NULL, 0, &box, error, sizeof error);
 *     gss_config_create(&config);
 *     gss_config_set_samples(config, 256, error, sizeof error);
 *     double x[2 * 5] = {...}, value[2 * 25], jacobian[2 * 25 * 5];
 *     gss_estimate_outputs out = {sizeof out};  out.value = value;  out.jacobian = jacobian;
 *     if (gss_estimate(box, config, x, 2, &out, NULL, error, sizeof error) != GSS_OK) ...
 *     gss_config_free(config);  gss_black_box_free(box);
 *
 *     cc demo.c -Iinclude -L.build/release -lgss
 *
 * Conventions used below (as in gss_plugin.h)
 *   [thread]  which threads may call the function, and what may run concurrently with it.
 *   [memory]  who owns each pointer and for how long it stays valid.
 *   Every fallible function returns a gss_status (int32_t) and takes `char *error, size_t
 *   error_capacity`: on failure one sentence naming what was wrong and what was expected is
 *   written there (NUL-terminated, truncated to fit; error may be NULL with capacity 0).
 *   Nothing allocated crosses the boundary except the two opaque handles, which the caller frees
 *   with their *_free function.  Arrays are row-major doubles owned by the caller.
 *   A call that fails writes none of its outputs ("nothing half-written").
 *
 * Growth
 *   Functions are only added.  The structs below start with struct_size (set it to sizeof the
 *   struct as you compiled it); later minors append members and read none past struct_size.
 */
#ifndef GSS_H
#define GSS_H

#include <stddef.h>
#include <stdint.h>

#include "gss_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define GSS_API __declspec(dllimport)
#else
#define GSS_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------------------------- */

#define GSS_API_MAJOR 1u
#define GSS_API_MINOR 1u

/* (major << 16) | minor of the loaded library.  A caller compiled against major M must refuse a
 * library whose major differs; a newer minor is compatible.
 * [thread] any.  Never fails. */
GSS_API uint32_t gss_api_version(void);

/* The package version, e.g. "0.2.0".  [memory] static, valid while the library is loaded. */
GSS_API const char *gss_library_version(void);

/* ---------------------------------------------------------------------------------------------
 * Status codes: those of gss_plugin.h (GSS_OK, GSS_E_INVALID_ARGUMENT, GSS_E_OUT_OF_MEMORY,
 * GSS_E_EVALUATION, GSS_E_UNSUPPORTED, GSS_E_INTERNAL) plus these.  Values never change.
 *   GSS_E_INVALID_ARGUMENT  a bad request: unknown plugin or option, wrong sizes, a non-finite
 *                           x, a bad combination of smoothing options.
 *   GSS_E_EVALUATION        the black box failed or returned a non-finite output; see gss_call.
 * ------------------------------------------------------------------------------------------- */

#define GSS_E_CANCELLED ((gss_status)16) /* the call's cancel flag or fd fired; nothing written */

/* ---------------------------------------------------------------------------------------------
 * Per-call controls and failure details (optional: pass NULL for none)
 * ------------------------------------------------------------------------------------------- */

typedef struct gss_call {
    /* sizeof(gss_call) as the caller was compiled. */
    size_t struct_size;

    /* In: stop the call, with GSS_E_CANCELLED, when *cancel_flag becomes nonzero (NULL: never).
     * Checked before every block of rows (every 16 rows for a black box without a preferred
     * block size), so the call returns within about one block's time.
     * [thread] may be set from any thread or a signal handler while the call runs. */
    const volatile int32_t *cancel_flag;

    /* In: stop the call likewise when this file descriptor becomes readable (-1: none), e.g.
     * the read end of a pipe given to Python's signal.set_wakeup_fd, so that Ctrl-C interrupts
     * a long estimate.  gss polls it without reading from it. */
    int32_t cancel_fd;

    /* Out, on GSS_E_EVALUATION: the point (0..B-1) and sample (0..s-1; -1 for the unperturbed x
     * of the fx covariate, or a row of gss_black_box_evaluate) whose evaluation failed, or -1
     * when unknown; and that input row, copied into failed_input (n doubles of the caller's, or
     * NULL), failed_input_written set to 1 when it was. */
    int64_t failed_point;
    int64_t failed_sample;
    double *failed_input;
    int32_t failed_input_written;
} gss_call;

/* ---------------------------------------------------------------------------------------------
 * Black boxes: f: R^n -> R^m, evaluated on blocks of rows
 * ------------------------------------------------------------------------------------------- */

typedef struct gss_black_box gss_black_box;

/* A plugin: a bundled one by id ("sorter"; found, as the command finds them, in
 * $GSS_PLUGIN_PATH, beside libgss.so, beside the executable, and in ../lib/gss of those) or any
 * plugin object by path (containing '/' or ending in .so), created with `options` as `-o key=value`.
 * [thread] any.  [memory] plugin, options and their strings are read during the call only;
 * *out belongs to the caller until gss_black_box_free. */
GSS_API gss_status gss_black_box_open_plugin(const char *plugin, const gss_option *options,
                                             size_t option_count, gss_black_box **out,
                                             char *error, size_t error_capacity);

/* A block function: evaluates `rows` rows of n inputs (x, rows * n) into rows of m outputs
 * (y, rows * m), row-major.  Write every output; return GSS_OK, or GSS_E_EVALUATION with the
 * failed row filled with NaN and one sentence in `error`.  x, y and error are gss's, valid only
 * during the call. */
typedef gss_status (*gss_block_function)(void *context, const double *x, size_t rows, double *y,
                                         char *error, size_t error_capacity);

/* gss_black_box_from_function flags. */
#define GSS_FUNCTION_REENTRANT ((uint32_t)1 << 0) /* may run on several threads at once */

/* A caller's function as a black box (n, m >= 1).  Without GSS_FUNCTION_REENTRANT gss calls it
 * from one thread at a time (any thread, not necessarily the caller's); the sampling and
 * estimator work still runs on every worker.  preferred_rows (0: no preference) asks for blocks of
 * at least that many rows where an estimate has them, for a function whose every call is costly
 * (an interpreter's lock, a GPU launch); results never depend on the block sizes.  name (may be
 * NULL) appears in messages.  y is filled with NaN before every call, so outputs the function
 * never writes fail the call (GSS_E_EVALUATION) instead of counting as numbers.
 * [thread] any.  [memory] function and context must stay valid until gss_black_box_free returns;
 * name is copied. */
GSS_API gss_status gss_black_box_from_function(size_t n, size_t m, gss_block_function function,
                                               void *context, uint32_t flags,
                                               size_t preferred_rows, const char *name,
                                               gss_black_box **out, char *error,
                                               size_t error_capacity);

/* gss_black_box_open_program flags. */
#define GSS_PROGRAM_EACH_ROW ((uint32_t)1 << 0) /* `gss --exec-each`: one run per row */

/* An external program, as `gss --exec CMD --n N --m M` (started through /bin/sh -c once per
 * worker and kept running; lines of n numbers in, lines of m numbers out) or, with
 * GSS_PROGRAM_EACH_ROW, as `--exec-each` ({x0}, {x1}, ... or {x} replaced by the row).
 * timeout_seconds > 0 fails a row that takes longer (0: no limit).  Programs started for one
 * call are kept for the next and ended by gss_black_box_free.
 * [thread] any.  [memory] command is copied. */
GSS_API gss_status gss_black_box_open_program(const char *command, size_t n, size_t m,
                                              double timeout_seconds, uint32_t flags,
                                              gss_black_box **out, char *error,
                                              size_t error_capacity);

/* gss_black_box_open_symbol flags. */
#define GSS_SYMBOL_SERIALIZE ((uint32_t)1 << 0) /* not reentrant: one call at a time */

/* A C function called through libffi, as `gss --symbol LIB:FUNC --signature SIG`: symbol is
 * "libm.so.6:floor", signature "double(double)" (n from the arguments, m = 1; pass n = m = 0) or
 * "void(const double*,double*)" with n and m given.  gss cannot check a signature against the
 * function: a wrong one is undefined behaviour.
 * [thread] any.  [memory] strings are read during the call only. */
GSS_API gss_status gss_black_box_open_symbol(const char *symbol, const char *signature, size_t n,
                                             size_t m, uint32_t flags, gss_black_box **out,
                                             char *error, size_t error_capacity);

/* Ends the black box: plugin instances destroyed, programs ended, nothing of it used after.
 * gss_black_box_free(NULL) does nothing.
 * [thread] any, never concurrently with another call on the same black box. */
GSS_API void gss_black_box_free(gss_black_box *box);

/* n and m.  [thread] any, concurrently with anything but gss_black_box_free. */
GSS_API void gss_black_box_dims(const gss_black_box *box, size_t *n, size_t *m);

/* The shape of one output row (e.g. rank 2, {64, 64} for an image; rank 1, {m} when the black
 * box declares none): writes min(rank, capacity) extents into shape and returns the rank (1..4).
 * [thread] as gss_black_box_dims. */
GSS_API size_t gss_black_box_output_shape(const gss_black_box *box, size_t *shape,
                                          size_t capacity);

/* The black box's own meaningful input (a plugin's default_input): writes n doubles into x and
 * returns 1, or returns 0 and writes nothing when it has none.  [thread] as gss_black_box_dims. */
GSS_API int32_t gss_black_box_default_input(const gss_black_box *box, double *x);

/* Its name for messages ("plugin 'sorter'", "--exec 'python3 f.py'"), NUL-terminated into
 * buffer, truncated to fit; returns the full length without the NUL.
 * [thread] as gss_black_box_dims. */
GSS_API size_t gss_black_box_name(const gss_black_box *box, char *buffer, size_t capacity);

/* f itself at `rows` rows (x: rows * n, finite) into y (rows * m), on `threads` workers (0: all
 * cores).  Fails with GSS_E_EVALUATION on an error or a non-finite output, naming the row.
 * [thread] any; calls on one black box are serialized (a second waits for the first); different
 * black boxes run concurrently.  [memory] x, y, call and error are the caller's, used during the
 * call only; y is written only on success. */
GSS_API gss_status gss_black_box_evaluate(gss_black_box *box, const double *x, size_t rows,
                                          double *y, uint32_t threads, gss_call *call,
                                          char *error, size_t error_capacity);

/* ---------------------------------------------------------------------------------------------
 * Smoothing configuration: every option of `gss grad`.  Defaults as the command's:
 * logistic noise, scale 1, 1024 samples, rqmc-latin, no antithetic pairs, the leave-one-out
 * covariate, seed 0, all cores, no extras.  A setter checks what it can alone; combinations and
 * sizes are checked by gss_estimate against the black box.
 * [thread] a configuration may be read by any number of estimates at once, but not changed while
 * one reads it.  [memory] setters copy their arguments.
 * ------------------------------------------------------------------------------------------- */

typedef struct gss_config gss_config;

/* A configuration with the defaults.  Fails only with GSS_E_OUT_OF_MEMORY. */
GSS_API gss_status gss_config_create(gss_config **out);
/* gss_config_free(NULL) does nothing. */
GSS_API void gss_config_free(gss_config *config);

/* "gaussian", "logistic", "gumbel", "cauchy", "laplace", "triangular" or "wigner". */
GSS_API gss_status gss_config_set_distribution(gss_config *config, const char *name, char *error,
                                               size_t error_capacity);
/* gamma: 1 value for every input, or n (one per input), each finite and > 0.  Clears a scale
 * matrix. */
GSS_API gss_status gss_config_set_scale(gss_config *config, const double *scale, size_t count,
                                        char *error, size_t error_capacity);
/* An invertible dimension x dimension matrix L (row-major): smooth f(x + L eps) instead.
 * matrix NULL clears it.  Resets the scale to 1. */
GSS_API gss_status gss_config_set_scale_matrix(gss_config *config, const double *matrix,
                                               size_t dimension, char *error,
                                               size_t error_capacity);
/* s >= 2 samples per point. */
GSS_API gss_status gss_config_set_samples(gss_config *config, uint64_t samples, char *error,
                                          size_t error_capacity);
/* "mc", "qmc-latin", "rqmc-latin", "qmc-cartesian", "rqmc-cartesian" or "sobol". */
GSS_API gss_status gss_config_set_sampler(gss_config *config, const char *name, char *error,
                                          size_t error_capacity);
/* Pair every sample with its mirror (0 or 1). */
GSS_API gss_status gss_config_set_antithetic(gss_config *config, int32_t enabled, char *error,
                                             size_t error_capacity);
/* "none", "fx" or "loo". */
GSS_API gss_status gss_config_set_covariate(gss_config *config, const char *name, char *error,
                                            size_t error_capacity);
/* The seed: the same seed and configuration give the same bits, whatever the threads. */
GSS_API gss_status gss_config_set_seed(gss_config *config, uint64_t seed, char *error,
                                       size_t error_capacity);
/* Worker threads (0: all cores).  Never changes the results. */
GSS_API gss_status gss_config_set_threads(gss_config *config, uint32_t threads, char *error,
                                          size_t error_capacity);
/* Also estimate the derivative of the value in the scale (Lemma 6; Theorem 7 for a matrix). */
GSS_API gss_status gss_config_set_scale_derivative(gss_config *config, int32_t enabled,
                                                   char *error, size_t error_capacity);
/* Also estimate the output covariance and its derivatives (Theorem 8). */
GSS_API gss_status gss_config_set_covariance(gss_config *config, int32_t enabled, char *error,
                                             size_t error_capacity);
/* k-sample median smoothing of a scalar f (Lemma 13) with 2 <= k <= s; 0 for the mean. */
GSS_API gss_status gss_config_set_median(gss_config *config, uint64_t k, char *error,
                                         size_t error_capacity);

/* ---------------------------------------------------------------------------------------------
 * Batched estimates
 * ------------------------------------------------------------------------------------------- */

/* The seed point b of a batch is estimated with: seed + b * 0x9E3779B97F4A7C15 (mod 2^64), so
 * point 0 uses the configured seed itself and point b's estimate equals, bit for bit, a one-point
 * estimate with gss_point_seed(seed, b), whatever B and the thread count.  (The multiplier is
 * odd, so distinct b < 2^64 give distinct seeds.)  [thread] any. */
GSS_API uint64_t gss_point_seed(uint64_t seed, uint64_t point);

/* Where gss_estimate writes, for B points.  Every pointer is the caller's array (row-major, point
 * b's block after point b-1's), or NULL to skip that output.  Sizes (n inputs, m outputs; q = n
 * for a diagonal scale, n*n for a scale matrix):
 *   value, value_stderr                          B*m
 *   jacobian, jacobian_stderr                    B*m*n      [b][i][j] = d value_i / d x_j
 *   scale_gradient, _stderr                      B*m*q      needs the scale derivative
 *   covariance, _stderr                          B*m*m      needs the covariance
 *   covariance_gradient, _stderr                 B*m*m*n    needs the covariance
 *   covariance_scale_gradient, _stderr           B*m*m*q    needs both
 * Asking for an extra the configuration does not estimate is GSS_E_INVALID_ARGUMENT.  With
 * k-sample median smoothing, value_stderr is the median's and the covariance is refused. */
typedef struct gss_estimate_outputs {
    size_t struct_size; /* sizeof(gss_estimate_outputs) as the caller was compiled */
    double *value;
    double *value_stderr;
    double *jacobian;
    double *jacobian_stderr;
    double *scale_gradient;
    double *scale_gradient_stderr;
    double *covariance;
    double *covariance_stderr;
    double *covariance_gradient;
    double *covariance_gradient_stderr;
    double *covariance_scale_gradient;
    double *covariance_scale_gradient_stderr;
} gss_estimate_outputs;

/* Estimates at `points` >= 1 points x (points * n finite doubles) what the configuration asks
 * for.  The samples of all points are spread over all workers.
 * Returns GSS_OK; GSS_E_INVALID_ARGUMENT (bad sizes, non-finite x, a bad combination of options
 * for this black box); GSS_E_EVALUATION (the black box failed or gave a non-finite output: the
 * message names the point, the sample and its input row, and `call` holds them);
 * GSS_E_CANCELLED; GSS_E_OUT_OF_MEMORY.
 * [thread] any; calls on one black box are serialized (a second waits for the first); different
 * black boxes run concurrently.  [memory] everything is the caller's and used during the call
 * only; outputs are written only on GSS_OK. */
GSS_API gss_status gss_estimate(gss_black_box *box, const gss_config *config, const double *x,
                                size_t points, const gss_estimate_outputs *outputs,
                                gss_call *call, char *error, size_t error_capacity);

/* ---------------------------------------------------------------------------------------------
 * Vector-Jacobian products (API 1.1): a training step's forward and backward pass
 *
 * A backward pass needs g^T J for a cotangent g that arrives after the forward pass, never J
 * itself.  gss_estimate_with_tape estimates the value and keeps each point's samples (outputs and
 * score features, 8*s*(m + p) bytes, p = n or 2n with the scale derivative); gss_vjp then turns
 * them into g^T J at s*(m + p) operations per point instead of the full Jacobian's s*m*p.  Past
 * 512 MiB of samples for the whole batch (and with median smoothing or the covariance), the tape
 * keeps each point's full estimate instead and gss_vjp multiplies with its Jacobian.
 * Same seed, same samples: the value and g^T J equal gss_estimate's value and g^T (its Jacobian)
 * up to rounding (the sums run in another order), and are bit-identical across thread counts
 * and batch sizes, as gss_estimate's are.
 * ------------------------------------------------------------------------------------------- */

typedef struct gss_vjp_tape gss_vjp_tape;

/* Estimates the value at `points` >= 1 points x as gss_estimate does (point b with seed
 * gss_point_seed(seed, b)) into value and value_stderr (points*m each; either may be NULL) and
 * returns a tape for gss_vjp in *tape.
 * Returns GSS_OK and the statuses of gss_estimate; on failure nothing is written and *tape is
 * left as it was.
 * [thread] as gss_estimate.  [memory] x, value, value_stderr, call and error are the caller's,
 * used during the call only; *tape is the caller's to free with gss_vjp_tape_free, and holds
 * only numbers: it stays valid after the black box and configuration are freed. */
GSS_API gss_status gss_estimate_with_tape(gss_black_box *box, const gss_config *config,
                                          const double *x, size_t points, double *value,
                                          double *value_stderr, gss_vjp_tape **tape,
                                          gss_call *call, char *error, size_t error_capacity);

/* g^T J for every point of the tape: cotangent (points*m) in, x_cotangent (points*n) out, and,
 * when the tape's configuration had the scale derivative and scale_cotangent is not NULL,
 * g^T d value / d gamma (points*n; points*n*n for a scale matrix) into scale_cotangent.  Runs on
 * the configuration's threads.  Returns GSS_OK, or GSS_E_INVALID_ARGUMENT for a NULL argument or
 * a non-finite cotangent (nothing written).
 * [thread] any; any number of gss_vjp calls may read one tape at once.  [memory] all arrays are
 * the caller's, used during the call only. */
GSS_API gss_status gss_vjp(const gss_vjp_tape *tape, const double *cotangent, double *x_cotangent,
                           double *scale_cotangent, char *error, size_t error_capacity);

/* The bytes of numbers the tape holds (0 for NULL).  [thread] any. */
GSS_API size_t gss_vjp_tape_bytes(const gss_vjp_tape *tape);

/* Frees the tape; NULL does nothing.  [thread] not while a gss_vjp reads it. */
GSS_API void gss_vjp_tape_free(gss_vjp_tape *tape);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GSS_H */

/* Checks of the library's C API (include/gss.h) through libGSS.so, as a C caller uses it.
 * Built and run by ../LibraryTests.swift; prints one line per failed check and exits 1 if any failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gss.h"

static int failures = 0;
#define CHECK(condition, ...)                                                  \
    do {                                                                       \
        if (!(condition)) {                                                    \
            printf("FAILED %s:%d: ", __FILE__, __LINE__);                      \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static char error[1024];

/* f(x) = A x with A = [[2, 0, -1], [0, 3, 0.5]]. */
static const double A[6] = {2, 0, -1, 0, 3, 0.5};
static gss_status linear(void *context, const double *x, size_t rows, double *y, char *e, size_t c) {
    (void)context; (void)e; (void)c;
    for (size_t r = 0; r < rows; r++)
        for (int i = 0; i < 2; i++) y[r * 2 + i] = A[i * 3] * x[r * 3] + A[i * 3 + 1] * x[r * 3 + 1] + A[i * 3 + 2] * x[r * 3 + 2];
    return GSS_OK;
}

/* f(x) = x0 + x1, but NaN (an error) for a row whose x0 exceeds 50. */
static gss_status picky(void *context, const double *x, size_t rows, double *y, char *e, size_t c) {
    (void)context;
    for (size_t r = 0; r < rows; r++) {
        if (x[r * 2] > 50) {
            y[r] = NAN;
            gss_write_error(e, c, "x0 is out of range");
            return GSS_E_EVALUATION;
        }
        y[r] = x[r * 2] + x[r * 2 + 1];
    }
    return GSS_OK;
}

/* Sets the caller's cancel flag on its third call, as another thread or a signal handler would. */
static volatile int32_t cancel_flag = 0;
static int calls_before_cancel = 0;
static gss_status cancelling(void *context, const double *x, size_t rows, double *y, char *e, size_t c) {
    (void)context; (void)e; (void)c;
    if (++calls_before_cancel == 3) cancel_flag = 1;
    for (size_t r = 0; r < rows; r++) y[r] = x[r];
    return GSS_OK;
}

static gss_config *config_with(uint64_t samples, uint64_t seed, uint32_t threads) {
    gss_config *config;
    CHECK(gss_config_create(&config) == GSS_OK, "config_create");
    CHECK(gss_config_set_samples(config, samples, error, sizeof error) == GSS_OK, "%s", error);
    CHECK(gss_config_set_seed(config, seed, error, sizeof error) == GSS_OK, "%s", error);
    CHECK(gss_config_set_threads(config, threads, error, sizeof error) == GSS_OK, "%s", error);
    return config;
}

static void check_versions(void) {
    CHECK(gss_api_version() >> 16 == GSS_API_MAJOR, "major %u", gss_api_version() >> 16);
    CHECK(strlen(gss_library_version()) > 0, "version string");
    CHECK(gss_point_seed(7, 0) == 7, "point 0 keeps the seed");
    CHECK(gss_point_seed(7, 2) == 7 + 2 * 0x9E3779B97F4A7C15ull, "point seed rule");
}

/* The Jacobian of a linear map is A (within 5 standard errors), for every distribution. */
static void check_linear_closed_form(void) {
    const char *distributions[] = {"gaussian", "logistic", "gumbel", "cauchy", "laplace", "triangular", "wigner"};
    gss_black_box *box;
    CHECK(gss_black_box_from_function(3, 2, linear, NULL, GSS_FUNCTION_REENTRANT, 0, "linear", &box, error, sizeof error) == GSS_OK, "%s", error);
    for (int d = 0; d < 7; d++) {
        gss_config *config = config_with(8192, 3, 2);
        CHECK(gss_config_set_distribution(config, distributions[d], error, sizeof error) == GSS_OK, "%s", error);
        double x[3] = {0.3, -0.2, 1.1}, value[2], value_se[2], J[6], J_se[6];
        gss_estimate_outputs out = {.struct_size = sizeof out};
        out.value = value; out.value_stderr = value_se; out.jacobian = J; out.jacobian_stderr = J_se;
        CHECK(gss_estimate(box, config, x, 1, &out, NULL, error, sizeof error) == GSS_OK, "%s: %s", distributions[d], error);
        for (int k = 0; k < 6; k++)
            CHECK(fabs(J[k] - A[k]) <= 5 * J_se[k] + 1e-12, "%s: J[%d] = %g, expected %g (se %g)", distributions[d], k, J[k], A[k], J_se[k]);
        gss_config_free(config);
    }
    gss_black_box_free(box);
}

/* Point b of a batch equals the one-point estimate with gss_point_seed(seed, b), for 1 and 2 threads. */
static void check_batch_equals_points(void) {
    gss_black_box *box;
    CHECK(gss_black_box_open_plugin("sorter", NULL, 0, &box, error, sizeof error) == GSS_OK, "%s", error);
    size_t n = 0, m = 0;
    gss_black_box_dims(box, &n, &m);
    CHECK(n == 5 && m == 25, "sorter dims %zu %zu", n, m);
    enum { B = 5 };
    double x[B * 5], batch_value[B * 25], batch_J[B * 125];
    for (int i = 0; i < B * 5; i++) x[i] = sin(1.3 * i);
    for (uint32_t threads = 1; threads <= 2; threads++) {
        gss_config *config = config_with(512, 42, threads);
        gss_estimate_outputs out = {.struct_size = sizeof out};
        out.value = batch_value; out.jacobian = batch_J;
        CHECK(gss_estimate(box, config, x, B, &out, NULL, error, sizeof error) == GSS_OK, "%s", error);
        for (int b = 0; b < B; b++) {
            gss_config *single = config_with(512, gss_point_seed(42, b), 1);
            double value[25], J[125];
            gss_estimate_outputs one = {.struct_size = sizeof one};
            one.value = value; one.jacobian = J;
            CHECK(gss_estimate(box, single, x + b * 5, 1, &one, NULL, error, sizeof error) == GSS_OK, "%s", error);
            CHECK(memcmp(value, batch_value + b * 25, sizeof value) == 0, "%u threads: value of point %d differs", threads, b);
            CHECK(memcmp(J, batch_J + b * 125, sizeof J) == 0, "%u threads: Jacobian of point %d differs", threads, b);
            gss_config_free(single);
        }
        gss_config_free(config);
    }
    /* f itself: a permutation matrix (one 1 per row and column). */
    double y[25];
    CHECK(gss_black_box_evaluate(box, x, 1, y, 1, NULL, error, sizeof error) == GSS_OK, "%s", error);
    double total = 0;
    for (int k = 0; k < 25; k++) total += y[k];
    CHECK(total == 5, "the sorter's output sums to %g, expected 5", total);
    size_t shape[4];
    CHECK(gss_black_box_output_shape(box, shape, 4) == 2 && shape[0] == 5 && shape[1] == 5, "sorter output shape");
    double start[5];
    CHECK(gss_black_box_default_input(box, start) == 1, "the sorter has a default input");
    gss_black_box_free(box);
}

/* A failing row: GSS_E_EVALUATION naming the point, sample and input; the outputs untouched. */
static void check_failure_details(void) {
    gss_black_box *box;
    CHECK(gss_black_box_from_function(2, 1, picky, NULL, 0, 0, "picky", &box, error, sizeof error) == GSS_OK, "%s", error);
    gss_config *config = config_with(64, 1, 2);
    double x[6] = {0, 0, 1, 1, 100, 0}, value[3] = {-7, -7, -7}, failed_input[2] = {0, 0};
    gss_estimate_outputs out = {.struct_size = sizeof out};
    out.value = value;
    gss_call call = {.struct_size = sizeof call};
    call.cancel_fd = -1;
    call.failed_input = failed_input;
    gss_status status = gss_estimate(box, config, x, 3, &out, &call, error, sizeof error);
    CHECK(status == GSS_E_EVALUATION, "status %d", status);
    CHECK(strstr(error, "at point 2") != NULL && strstr(error, "x0 is out of range") != NULL, "message: %s", error);
    CHECK(call.failed_point == 2 && call.failed_sample >= 0 && call.failed_input_written == 1, "call: point %lld sample %lld written %d",
          (long long)call.failed_point, (long long)call.failed_sample, call.failed_input_written);
    CHECK(failed_input[0] > 50, "failed input row %g %g", failed_input[0], failed_input[1]);
    CHECK(value[0] == -7 && value[1] == -7 && value[2] == -7, "outputs were written by a failed call");
    /* The same box works again afterwards. */
    CHECK(gss_estimate(box, config, x, 2, &out, NULL, error, sizeof error) == GSS_OK, "after a failure: %s", error);
    gss_config_free(config);
    gss_black_box_free(box);
}

static void check_cancellation(void) {
    gss_black_box *box;
    CHECK(gss_black_box_from_function(1, 1, cancelling, NULL, 0, 0, "cancelling", &box, error, sizeof error) == GSS_OK, "%s", error);
    gss_config *config = config_with(1 << 16, 1, 1);
    double x[1] = {0.5}, value[1] = {-7};
    gss_estimate_outputs out = {.struct_size = sizeof out};
    out.value = value;
    gss_call call = {.struct_size = sizeof call};
    call.cancel_flag = &cancel_flag;
    call.cancel_fd = -1;
    gss_status status = gss_estimate(box, config, x, 1, &out, &call, error, sizeof error);
    CHECK(status == GSS_E_CANCELLED, "status %d (%s)", status, error);
    CHECK(calls_before_cancel <= 4, "the call went on for %d blocks after the flag was set", calls_before_cancel - 3);
    CHECK(value[0] == -7, "a cancelled call wrote its output");
    cancel_flag = 0;
    CHECK(gss_estimate(box, config, x, 1, &out, &call, error, sizeof error) == GSS_OK, "after a cancel: %s", error);
    CHECK(fabs(value[0] - 0.5) < 0.01, "value %g", value[0]);
    gss_config_free(config);
    gss_black_box_free(box);
}

static void check_program(void) {
    gss_black_box *box;
    CHECK(gss_black_box_open_program(
              "python3 -u -c 'import sys\nfor line in sys.stdin:\n    a, b = map(float, line.split())\n    print(a + 2 * b, flush=True)'",
              2, 1, 10, 0, &box, error, sizeof error) == GSS_OK, "%s", error);
    gss_config *config = config_with(2048, 5, 2);
    double x[2] = {0.5, 1}, value[1], J[2], J_se[2];
    gss_estimate_outputs out = {.struct_size = sizeof out};
    out.value = value; out.jacobian = J; out.jacobian_stderr = J_se;
    for (int step = 0; step < 2; step++) {  /* the second call reuses the running programs */
        CHECK(gss_estimate(box, config, x, 1, &out, NULL, error, sizeof error) == GSS_OK, "%s", error);
        CHECK(fabs(J[0] - 1) <= 5 * J_se[0] && fabs(J[1] - 2) <= 5 * J_se[1], "program J = %g %g", J[0], J[1]);
    }
    gss_config_free(config);
    gss_black_box_free(box);
}

static void check_bad_requests(void) {
    gss_config *config = config_with(64, 0, 1);
    CHECK(gss_config_set_distribution(config, "normal", error, sizeof error) == GSS_E_INVALID_ARGUMENT
          && strstr(error, "unknown distribution 'normal'") != NULL, "dist: %s", error);
    CHECK(gss_config_set_samples(config, 1, error, sizeof error) == GSS_E_INVALID_ARGUMENT, "samples 1");
    double bad_scale[2] = {1, -1};
    CHECK(gss_config_set_scale(config, bad_scale, 2, error, sizeof error) == GSS_E_INVALID_ARGUMENT, "negative scale");
    CHECK(gss_config_set_median(config, 1, error, sizeof error) == GSS_E_INVALID_ARGUMENT, "median 1");
    gss_black_box *box = NULL;
    CHECK(gss_black_box_open_plugin("no-such-plugin", NULL, 0, &box, error, sizeof error) == GSS_E_INVALID_ARGUMENT
          && strstr(error, "no bundled plugin is called 'no-such-plugin'") != NULL, "unknown plugin: %s", error);
    gss_option option = {"size", "3"};
    CHECK(gss_black_box_open_plugin("sorter", &option, 1, &box, error, sizeof error) == GSS_E_INVALID_ARGUMENT
          && strstr(error, "unknown option 'size'") != NULL, "unknown option: %s", error);
    CHECK(gss_black_box_from_function(2, 1, picky, NULL, 0, 0, "picky", &box, error, sizeof error) == GSS_OK, "%s", error);
    double x[2] = {NAN, 0}, value[1] = {-7}, gradient[2];
    gss_estimate_outputs out = {.struct_size = sizeof out};
    out.value = value;
    CHECK(gss_estimate(box, config, x, 1, &out, NULL, error, sizeof error) == GSS_E_INVALID_ARGUMENT
          && strstr(error, "finite") != NULL, "NaN x: %s", error);
    x[0] = 0;
    out.scale_gradient = gradient;
    CHECK(gss_estimate(box, config, x, 1, &out, NULL, error, sizeof error) == GSS_E_INVALID_ARGUMENT
          && strstr(error, "scale_gradient") != NULL, "an extra not configured: %s", error);
    out.scale_gradient = NULL;
    out.struct_size = 8;
    CHECK(gss_estimate(box, config, x, 1, &out, NULL, error, sizeof error) == GSS_E_INVALID_ARGUMENT, "struct_size");
    out.struct_size = sizeof out;
    CHECK(gss_estimate(box, config, x, 0, &out, NULL, error, sizeof error) == GSS_E_INVALID_ARGUMENT, "no points");
    CHECK(gss_estimate(NULL, config, x, 1, &out, NULL, error, sizeof error) == GSS_E_INVALID_ARGUMENT, "NULL box");
    CHECK(value[0] == -7, "outputs were written by a refused call");
    /* A message is cut to the buffer, NUL-terminated. */
    char tiny[8];
    CHECK(gss_config_set_sampler(config, "halton", tiny, sizeof tiny) == GSS_E_INVALID_ARGUMENT && strlen(tiny) == 7, "truncation");
    gss_black_box_free(box);
    gss_config_free(config);
    gss_black_box_free(NULL);
    gss_config_free(NULL);
}

/* gss_estimate_with_tape + gss_vjp: the value and g^T J of gss_estimate to rounding, through kept
 * samples (the 12x12 shortest path: m*p far above 8(m + p)) and through a kept Jacobian (the
 * sorter); a non-finite cotangent is refused and nothing is written. */
static void check_vjp_tape(void) {
    const char *plugins[2] = {"shortest-path", "sorter"};
    for (int k = 0; k < 2; ++k) {
        gss_black_box *box = NULL;
        CHECK(gss_black_box_open_plugin(plugins[k], NULL, 0, &box, error, sizeof error) == GSS_OK, "%s", error);
        if (!box) continue;
        size_t n, m;
        gss_black_box_dims(box, &n, &m);
        enum { B = 3 };
        double *x = malloc(sizeof(double) * B * n), *value = malloc(sizeof(double) * B * m);
        double *J = malloc(sizeof(double) * B * m * n), *tape_value = malloc(sizeof(double) * B * m);
        double *g = malloc(sizeof(double) * B * m), *vjp = malloc(sizeof(double) * B * n);
        for (size_t i = 0; i < B * n; ++i) x[i] = 1 + (double)((i * 37) % 23) / 11;
        for (size_t i = 0; i < B * m; ++i) g[i] = (double)((i * 53) % 29) / 14 - 1;
        gss_config *config = config_with(64, 5, 2);
        gss_estimate_outputs out = {.struct_size = sizeof out, .value = value, .jacobian = J};
        CHECK(gss_estimate(box, config, x, B, &out, NULL, error, sizeof error) == GSS_OK, "%s", error);
        gss_vjp_tape *tape = NULL;
        CHECK(gss_estimate_with_tape(box, config, x, B, tape_value, NULL, &tape, NULL, error, sizeof error) == GSS_OK, "%s", error);
        CHECK(tape != NULL && gss_vjp_tape_bytes(tape) > 0, "%s: a tape with numbers", plugins[k]);
        CHECK(gss_vjp(tape, g, vjp, NULL, error, sizeof error) == GSS_OK, "%s", error);
        double worst_value = 0, worst_vjp = 0;
        for (size_t i = 0; i < B * m; ++i) worst_value = fmax(worst_value, fabs(value[i] - tape_value[i]));
        for (int b = 0; b < B; ++b)
            for (size_t j = 0; j < n; ++j) {
                double sum = 0, magnitude = 0;
                for (size_t i = 0; i < m; ++i) {
                    sum += g[b * m + i] * J[(b * m + i) * n + j];
                    magnitude += fabs(g[b * m + i] * J[(b * m + i) * n + j]);
                }
                if (fabs(sum - vjp[b * n + j]) > 1e-13 * magnitude + 1e-300) worst_vjp = fmax(worst_vjp, fabs(sum - vjp[b * n + j]));
            }
        CHECK(worst_value <= 1e-13, "%s: the tape's value differs by %g", plugins[k], worst_value);
        CHECK(worst_vjp == 0, "%s: g^T J differs by %g beyond rounding", plugins[k], worst_vjp);
        /* A NaN cotangent: refused, x_cotangent untouched. */
        g[1] = NAN;
        vjp[0] = 12345;
        CHECK(gss_vjp(tape, g, vjp, NULL, error, sizeof error) == GSS_E_INVALID_ARGUMENT, "a NaN cotangent is refused");
        CHECK(strstr(error, "cotangent must hold finite numbers") != NULL && vjp[0] == 12345, "message: %s", error);
        gss_vjp_tape_free(tape);
        gss_vjp_tape_free(NULL);
        gss_config_free(config);
        gss_black_box_free(box);
        free(x), free(value), free(J), free(tape_value), free(g), free(vjp);
    }
}

int main(void) {
    check_versions();
    check_linear_closed_form();
    check_batch_equals_points();
    check_failure_details();
    check_cancellation();
    check_program();
    check_bad_requests();
    check_vjp_tape();
    printf("%s: %d failed checks\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}

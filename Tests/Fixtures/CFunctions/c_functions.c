/*
 * Not a plugin: plain C functions with closed forms, called by the tests through
 * gss --symbol LIB:FUNC --signature '...' (libffi). Built as libgssfixture-cfunctions.so.
 */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

/* Array form, n = 3, m = 2: y = A x + b with A = [[2, -1, 0.5], [-1, 0, 3]], b = [1, -2]. */
EXPORT void gss_fixture_affine(const double *x, double *y) {
    y[0] = 2.0 * x[0] - x[1] + 0.5 * x[2] + 1.0;
    y[1] = -x[0] + 3.0 * x[2] - 2.0;
}

/* Array form, n = 2, m = 2: y_i = 1[x_i > 0], a step in each coordinate. */
EXPORT void gss_fixture_steps(const double *x, double *y) {
    y[0] = x[0] > 0 ? 1.0 : 0.0;
    y[1] = x[1] > 0 ? 1.0 : 0.0;
}

/* Array form, n = 1, m = 2, broken: writes y[0] = x[0] and forgets y[1]. */
EXPORT void gss_fixture_first_of_two(const double *x, double *y) { y[0] = x[0]; }

/* Scalar form: every argument type, each weighted by a power of ten so the order shows. */
EXPORT double gss_fixture_mixed(int64_t a, double b, float c, int32_t d) {
    return 1000.0 * (double)a + 100.0 * b + 10.0 * (double)c + (double)d;
}

/* int32 result: which argument went where, again by powers of ten. */
EXPORT int32_t gss_fixture_digits(int32_t a, int32_t b) { return 10 * a + b; }

/* float result. */
EXPORT float gss_fixture_half(float x) { return x / 2.0f; }

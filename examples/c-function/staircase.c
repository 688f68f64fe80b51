/*
 * A function of your own library, smoothed by gss through libffi (the array form of --signature):
 * it reads n = 2 doubles and writes m = 2 doubles. Nothing here knows about gss.
 *
 *   cc -shared -fPIC -O2 examples/c-function/staircase.c -o libstaircase.so -lm
 *   gss grad --symbol ./libstaircase.so:staircase --signature 'void(const double*,double*)' --n 2 --m 2 --x 0.3,-1.2
 */
#include <math.h>

/* y0 = round(x0) + round(x1), a staircase; y1 = how many of x0 and x1 are positive. */
void staircase(const double *x, double *y) {
    y[0] = round(x[0]) + round(x[1]);
    y[1] = (x[0] > 0) + (x[1] > 0);
}

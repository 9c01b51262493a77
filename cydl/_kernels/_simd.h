/* Reductions the compiler may vectorize. GCC keeps floating-point sums in source
   order unless told it may reorder them; `omp simd reduction` tells it so for these
   loops only (no -ffast-math anywhere). The order then depends on the vector width,
   not on the data or the threads: a build gives the same sums every run. */
#ifndef CYDL_SIMD_H
#define CYDL_SIMD_H
#include <math.h>
#include <stddef.h>

/* s1 += sum |p[i]|, s2 += sum p[i]^2 over n entries, in double. */
static inline void cydl_abs_sq_f(const float* p, ptrdiff_t n, double* s1, double* s2) {
    double a1 = 0, a2 = 0;
    ptrdiff_t i;
#pragma omp simd reduction(+:a1, a2)
    for (i = 0; i < n; i++) {
        double w = (double)p[i];
        a1 += fabs(w);
        a2 += w * w;
    }
    *s1 += a1;
    *s2 += a2;
}

static inline void cydl_abs_sq_d(const double* p, ptrdiff_t n, double* s1, double* s2) {
    double a1 = 0, a2 = 0;
    ptrdiff_t i;
#pragma omp simd reduction(+:a1, a2)
    for (i = 0; i < n; i++) {
        a1 += fabs(p[i]);
        a2 += p[i] * p[i];
    }
    *s1 += a1;
    *s2 += a2;
}
#endif

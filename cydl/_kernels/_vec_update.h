/* The fast optimizer loops (plain SGD, SGD + l1/l2, SGD with momentum / Nesterov,
   Adam with and without a penalty) in every instruction-set variant, and the table
   that picks one at import (why a table: _vec_dispatch.h). */
#ifndef CYDL_VEC_UPDATE_H
#define CYDL_VEC_UPDATE_H
#include <math.h>
#include "_vec_dispatch.h"
#define CYDL_VEC_BODY "_vec_update_body.h"

#define T float
#define SQRT sqrtf
#define CYDL_VEC_T f
#include "_vec_variants.h"
#undef CYDL_VEC_T
#undef T
#undef SQRT

#define T double
#define SQRT sqrt
#define CYDL_VEC_T d
#include "_vec_variants.h"
#undef CYDL_VEC_T
#undef CYDL_VEC_BODY
#undef T
#undef SQRT

typedef struct {
    void (*sgd_f)(float*, const float*, ptrdiff_t, float);
    void (*sgd_pen_f)(float*, const float*, ptrdiff_t, float, float, float);
    void (*sgd_mom_f)(float*, const float*, float*, ptrdiff_t, float, float, int);
    void (*adam_f)(float*, const float*, float*, float*, ptrdiff_t, float, float, float,
                   float);
    void (*adam_pen_f)(float*, const float*, float*, float*, ptrdiff_t, float, float,
                       float, float, float, float);
    void (*sgd_d)(double*, const double*, ptrdiff_t, double);
    void (*sgd_pen_d)(double*, const double*, ptrdiff_t, double, double, double);
    void (*sgd_mom_d)(double*, const double*, double*, ptrdiff_t, double, double, int);
    void (*adam_d)(double*, const double*, double*, double*, ptrdiff_t, double, double,
                   double, double);
    void (*adam_pen_d)(double*, const double*, double*, double*, ptrdiff_t, double, double,
                       double, double, double, double);
} cydl_vu_table;

#define CYDL_VU_ROW(v) {cydl_vu_sgd_f_##v, cydl_vu_sgd_pen_f_##v, cydl_vu_sgd_mom_f_##v, \
    cydl_vu_adam_f_##v, cydl_vu_adam_pen_f_##v, cydl_vu_sgd_d_##v, cydl_vu_sgd_pen_d_##v, \
    cydl_vu_sgd_mom_d_##v, cydl_vu_adam_d_##v, cydl_vu_adam_pen_d_##v}
#ifdef CYDL_SIMD_X86
static const cydl_vu_table cydl_vu_tables[CYDL_SIMD_N] = {
    CYDL_VU_ROW(default), CYDL_VU_ROW(avx2), CYDL_VU_ROW(avx512f)};
#else   /* never selected: cydl_simd_supported() says no */
static const cydl_vu_table cydl_vu_tables[CYDL_SIMD_N] = {
    CYDL_VU_ROW(default), CYDL_VU_ROW(default), CYDL_VU_ROW(default)};
#endif
#undef CYDL_VU_ROW

static const cydl_vu_table* cydl_vu = &cydl_vu_tables[0];
static int cydl_vu_level_ = 0;

/* Use variant `level` from now on; -1 (and the table unchanged) if this CPU lacks it.
   Called at import and by the tests, with no update running. */
static inline int cydl_vu_set(int level) {
    if (level < 0 || level >= CYDL_SIMD_N || !cydl_simd_supported(level))
        return -1;
    cydl_vu = &cydl_vu_tables[level];
    cydl_vu_level_ = level;
    return level;
}
static inline int cydl_vu_level(void) { return cydl_vu_level_; }

static inline void cydl_vu_sgd_f(float* p, const float* g, ptrdiff_t n, float lr) {
    cydl_vu->sgd_f(p, g, n, lr);
}
static inline void cydl_vu_sgd_pen_f(float* p, const float* g, ptrdiff_t n, float lr,
                                     float l1, float l2x2) {
    cydl_vu->sgd_pen_f(p, g, n, lr, l1, l2x2);
}
static inline void cydl_vu_sgd_mom_f(float* p, const float* g, float* s1, ptrdiff_t n,
                                     float lr, float mom, int nesterov) {
    cydl_vu->sgd_mom_f(p, g, s1, n, lr, mom, nesterov);
}
static inline void cydl_vu_adam_f(float* p, const float* g, float* s1, float* s2,
                                  ptrdiff_t n, float omb1, float omb2, float c1,
                                  float eps) {
    cydl_vu->adam_f(p, g, s1, s2, n, omb1, omb2, c1, eps);
}
static inline void cydl_vu_adam_pen_f(float* p, const float* g, float* s1, float* s2,
                                      ptrdiff_t n, float omb1, float omb2, float c1,
                                      float eps, float l1, float l2x2) {
    cydl_vu->adam_pen_f(p, g, s1, s2, n, omb1, omb2, c1, eps, l1, l2x2);
}
static inline void cydl_vu_sgd_d(double* p, const double* g, ptrdiff_t n, double lr) {
    cydl_vu->sgd_d(p, g, n, lr);
}
static inline void cydl_vu_sgd_pen_d(double* p, const double* g, ptrdiff_t n, double lr,
                                     double l1, double l2x2) {
    cydl_vu->sgd_pen_d(p, g, n, lr, l1, l2x2);
}
static inline void cydl_vu_sgd_mom_d(double* p, const double* g, double* s1, ptrdiff_t n,
                                     double lr, double mom, int nesterov) {
    cydl_vu->sgd_mom_d(p, g, s1, n, lr, mom, nesterov);
}
static inline void cydl_vu_adam_d(double* p, const double* g, double* s1, double* s2,
                                  ptrdiff_t n, double omb1, double omb2, double c1,
                                  double eps) {
    cydl_vu->adam_d(p, g, s1, s2, n, omb1, omb2, c1, eps);
}
static inline void cydl_vu_adam_pen_d(double* p, const double* g, double* s1, double* s2,
                                      ptrdiff_t n, double omb1, double omb2, double c1,
                                      double eps, double l1, double l2x2) {
    cydl_vu->adam_pen_d(p, g, s1, s2, n, omb1, omb2, c1, eps, l1, l2x2);
}
#endif

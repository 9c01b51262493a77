/* The vectorizable activation loops (relu / linear forward with the bias, relu,
   sigmoid and tanh backward) in every instruction-set variant, and the table that
   picks one at import (why a table: _vec_dispatch.h). */
#ifndef CYDL_VEC_ACT_H
#define CYDL_VEC_ACT_H
#include "_vec_dispatch.h"
#define CYDL_VEC_BODY "_vec_act_body.h"

#define T float
#define CYDL_VEC_T f
#include "_vec_variants.h"
#undef CYDL_VEC_T
#undef T

#define T double
#define CYDL_VEC_T d
#include "_vec_variants.h"
#undef CYDL_VEC_T
#undef CYDL_VEC_BODY
#undef T

typedef struct {
    void (*bias_relu_f)(ptrdiff_t, ptrdiff_t, float*, ptrdiff_t, const float*, float*,
                        ptrdiff_t, int);
    void (*bias_linear_f)(ptrdiff_t, ptrdiff_t, float*, ptrdiff_t, const float*, float*,
                          ptrdiff_t, int);
    void (*backward_f)(int, ptrdiff_t, ptrdiff_t, const float*, ptrdiff_t, const float*,
                       ptrdiff_t, float*, ptrdiff_t);
    void (*bias_relu_d)(ptrdiff_t, ptrdiff_t, double*, ptrdiff_t, const double*, double*,
                        ptrdiff_t, int);
    void (*bias_linear_d)(ptrdiff_t, ptrdiff_t, double*, ptrdiff_t, const double*, double*,
                          ptrdiff_t, int);
    void (*backward_d)(int, ptrdiff_t, ptrdiff_t, const double*, ptrdiff_t, const double*,
                       ptrdiff_t, double*, ptrdiff_t);
} cydl_va_table;

#define CYDL_VA_ROW(v) {cydl_va_bias_relu_f_##v, cydl_va_bias_linear_f_##v, \
    cydl_va_backward_f_##v, cydl_va_bias_relu_d_##v, cydl_va_bias_linear_d_##v, \
    cydl_va_backward_d_##v}
#ifdef CYDL_SIMD_X86
static const cydl_va_table cydl_va_tables[CYDL_SIMD_N] = {
    CYDL_VA_ROW(default), CYDL_VA_ROW(avx2), CYDL_VA_ROW(avx512f)};
#else   /* never selected: cydl_simd_supported() says no */
static const cydl_va_table cydl_va_tables[CYDL_SIMD_N] = {
    CYDL_VA_ROW(default), CYDL_VA_ROW(default), CYDL_VA_ROW(default)};
#endif
#undef CYDL_VA_ROW

static const cydl_va_table* cydl_va = &cydl_va_tables[0];
static int cydl_va_level_ = 0;

/* Use variant `level` from now on; -1 (and the table unchanged) if this CPU lacks it. */
static inline int cydl_va_set(int level) {
    if (level < 0 || level >= CYDL_SIMD_N || !cydl_simd_supported(level))
        return -1;
    cydl_va = &cydl_va_tables[level];
    cydl_va_level_ = level;
    return level;
}
static inline int cydl_va_level(void) { return cydl_va_level_; }

static inline void cydl_va_bias_relu_f(ptrdiff_t rows, ptrdiff_t ncols, float* Z,
                                       ptrdiff_t ldz, const float* bias, float* A,
                                       ptrdiff_t lda, int store_z) {
    cydl_va->bias_relu_f(rows, ncols, Z, ldz, bias, A, lda, store_z);
}
static inline void cydl_va_bias_relu_d(ptrdiff_t rows, ptrdiff_t ncols, double* Z,
                                       ptrdiff_t ldz, const double* bias, double* A,
                                       ptrdiff_t lda, int store_z) {
    cydl_va->bias_relu_d(rows, ncols, Z, ldz, bias, A, lda, store_z);
}
static inline void cydl_va_bias_linear_f(ptrdiff_t rows, ptrdiff_t ncols, float* Z,
                                         ptrdiff_t ldz, const float* bias, float* A,
                                         ptrdiff_t lda, int store_z) {
    cydl_va->bias_linear_f(rows, ncols, Z, ldz, bias, A, lda, store_z);
}
static inline void cydl_va_bias_linear_d(ptrdiff_t rows, ptrdiff_t ncols, double* Z,
                                         ptrdiff_t ldz, const double* bias, double* A,
                                         ptrdiff_t lda, int store_z) {
    cydl_va->bias_linear_d(rows, ncols, Z, ldz, bias, A, lda, store_z);
}
static inline void cydl_va_backward_f(int which, ptrdiff_t rows, ptrdiff_t ncols,
                                      const float* dA, ptrdiff_t ldda, const float* A,
                                      ptrdiff_t lda, float* dZ, ptrdiff_t lddz) {
    cydl_va->backward_f(which, rows, ncols, dA, ldda, A, lda, dZ, lddz);
}
static inline void cydl_va_backward_d(int which, ptrdiff_t rows, ptrdiff_t ncols,
                                      const double* dA, ptrdiff_t ldda, const double* A,
                                      ptrdiff_t lda, double* dZ, ptrdiff_t lddz) {
    cydl_va->backward_d(which, rows, ncols, dA, ldda, A, lda, dZ, lddz);
}
#endif

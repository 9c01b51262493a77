/* Softmax rows and the softmax cross-entropy (loss, gradient, accuracy hits) vectorized
   across rows, with exp and log of their own (_vec_loss_math.h), in every instruction-set
   variant, and the table that picks one (why a table: _vec_dispatch.h).

   Vectorized: the row max and argmax, exp(z - max) and its sum, the normalization, the
   log-sum-exp, the per-row loss, the gradient (softmax - target) * gscale * weight with
   label smoothing, the argmax accuracy. Sequential as before: the per-row statistics
   added into the double accumulators, row after row.

   Every variant gives the same bits: the lanes are rows, each doing its own row's
   operations in the scalar order; exp/log use only correctly rounded operations; the
   extensions that include this header are compiled with -ffp-contract=off. Every memory
   layout runs the same lane code too, so the bits do not depend on it either. The one
   difference from the scalar code of before is exp/log themselves: within 1 ulp of the
   exact result (2 for double exp), not always libm's float (bounds: _vec_loss_math.h).

   _activations.pyx (softmax) and _losses.pyx (the loss) each include this header, so
   each has its own copy of the table; their set_simd keep both on _optim's variant. */
#ifndef CYDL_VEC_LOSS_H
#define CYDL_VEC_LOSS_H
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "_vec_dispatch.h"
#define CYDL_VEC_BODY "_vec_loss_body.h"

#define CYDL_VL_NB 64   /* rows per block: the local column arrays stay in L1 */
/* acc_mode values, as the ACC_ enum of _losses.pxd */
#define CYDL_VL_ACC_SPARSE 1
#define CYDL_VL_ACC_CATEGORICAL 2
#define CYDL_VL_ACC_BINARY 3

#define T float
#define CYDL_VL_I int32_t
#define CYDL_VL_U uint32_t
#define CYDL_VL_DBL 0
#define CYDL_VEC_T f
#include "_vec_variants.h"
#undef CYDL_VEC_T
#undef T
#undef CYDL_VL_I
#undef CYDL_VL_U
#undef CYDL_VL_DBL

#define T double
#define CYDL_VL_I int64_t
#define CYDL_VL_U uint64_t
#define CYDL_VL_DBL 1
#define CYDL_VEC_T d
#include "_vec_variants.h"
#undef CYDL_VEC_T
#undef CYDL_VEC_BODY
#undef T
#undef CYDL_VL_I
#undef CYDL_VL_U
#undef CYDL_VL_DBL

#define CYDL_VL_CE_ARGS(T) int, int, int, double, ptrdiff_t, ptrdiff_t, const T*, ptrdiff_t, \
    ptrdiff_t, const int*, const T*, ptrdiff_t, ptrdiff_t, const T*, T*, ptrdiff_t,       \
    ptrdiff_t, T, T, T, double*
typedef struct {
    void (*explog_f)(int, ptrdiff_t, const float*, float*);
    void (*softmax_f)(ptrdiff_t, ptrdiff_t, const float*, ptrdiff_t, ptrdiff_t, float*,
                      ptrdiff_t, ptrdiff_t);
    void (*ce_f)(CYDL_VL_CE_ARGS(float));
    void (*explog_d)(int, ptrdiff_t, const double*, double*);
    void (*softmax_d)(ptrdiff_t, ptrdiff_t, const double*, ptrdiff_t, ptrdiff_t, double*,
                      ptrdiff_t, ptrdiff_t);
    void (*ce_d)(CYDL_VL_CE_ARGS(double));
} cydl_vl_table;

#define CYDL_VL_ROW(v) {cydl_vl_explog_f_##v, cydl_vl_softmax_f_##v, cydl_vl_softmax_ce_f_##v, \
    cydl_vl_explog_d_##v, cydl_vl_softmax_d_##v, cydl_vl_softmax_ce_d_##v}
#ifdef CYDL_SIMD_X86
static const cydl_vl_table cydl_vl_tables[CYDL_SIMD_N] = {
    CYDL_VL_ROW(default), CYDL_VL_ROW(avx2), CYDL_VL_ROW(avx512f)};
#else   /* never selected: cydl_simd_supported() says no */
static const cydl_vl_table cydl_vl_tables[CYDL_SIMD_N] = {
    CYDL_VL_ROW(default), CYDL_VL_ROW(default), CYDL_VL_ROW(default)};
#endif
#undef CYDL_VL_ROW

static const cydl_vl_table* cydl_vl = &cydl_vl_tables[0];
static int cydl_vl_level_ = 0;

/* Use variant `level` from now on; -1 (and the table unchanged) if this CPU lacks it. */
static inline int cydl_vl_set(int level) {
    if (level < 0 || level >= CYDL_SIMD_N || !cydl_simd_supported(level))
        return -1;
    cydl_vl = &cydl_vl_tables[level];
    cydl_vl_level_ = level;
    return level;
}
static inline int cydl_vl_level(void) { return cydl_vl_level_; }

static inline void cydl_vl_explog_f(int which, ptrdiff_t n, const float* x, float* y) {
    cydl_vl->explog_f(which, n, x, y);
}
static inline void cydl_vl_explog_d(int which, ptrdiff_t n, const double* x, double* y) {
    cydl_vl->explog_d(which, n, x, y);
}
static inline void cydl_vl_softmax_f(ptrdiff_t n, ptrdiff_t C, const float* Z, ptrdiff_t zr,
                                     ptrdiff_t zc, float* A, ptrdiff_t ar, ptrdiff_t ac) {
    cydl_vl->softmax_f(n, C, Z, zr, zc, A, ar, ac);
}
static inline void cydl_vl_softmax_d(ptrdiff_t n, ptrdiff_t C, const double* Z, ptrdiff_t zr,
                                     ptrdiff_t zc, double* A, ptrdiff_t ar, ptrdiff_t ac) {
    cydl_vl->softmax_d(n, C, Z, zr, zc, A, ar, ac);
}
#define CYDL_VL_CE_WRAP(S, T)                                                                \
    static inline void cydl_vl_softmax_ce_##S(                                               \
            int sparse, int hard, int acc, double thresh, ptrdiff_t n, ptrdiff_t C,          \
            const T* P, ptrdiff_t prs, ptrdiff_t pcs, const int* labels, const T* Y,         \
            ptrdiff_t yrs, ptrdiff_t ycs, const T* sw, T* G, ptrdiff_t grs, ptrdiff_t gcs,   \
            T gscale, T on, T u, double* stats) {                                            \
        cydl_vl->ce_##S(sparse, hard, acc, thresh, n, C, P, prs, pcs, labels, Y, yrs, ycs,   \
                        sw, G, grs, gcs, gscale, on, u, stats);                              \
    }
CYDL_VL_CE_WRAP(f, float)
CYDL_VL_CE_WRAP(d, double)
#undef CYDL_VL_CE_WRAP
#undef CYDL_VL_CE_ARGS
#endif

/* Softmax rows and the softmax cross-entropy, vectorized ACROSS ROWS, once per (type,
   instruction set): included by _vec_loss.h with T, CYDL_VL_I / CYDL_VL_U (signed /
   unsigned integers of T's width), CYDL_VL_DBL, SFX and ATTR defined.

   Element (r, c) of an operand X is X[r * xr + c * xc]. The rows go in blocks of up to
   CYDL_VL_NB lanes; for each class c the block's column is copied into a local array
   (a plain copy when xr == 1, the column-major workspace of the fused step; with
   another stride, the block's rows are 64 cache lines, reused for the next classes),
   worked on there, and copied out. The compute loops thus touch local arrays only: no
   aliasing to check (A may be Z), and GCC vectorizes them with exp/log inlined. Each lane does
   exactly the operations, in the order, of the scalar loop over its row's classes (max,
   sum of exps, the per-row loss summed in double), so the vector width changes nothing;
   the per-row results reach `stats` one row after the other, as in _losses.pyx. */
#include "_vec_loss_math.h"
#define CYDL_VL_CAT2(a, b) a##b
#define CYDL_VL_CAT(a, b) CYDL_VL_CAT2(a, b)
#define CYDL_VL(name) CYDL_VL_CAT(name, SFX)

ATTR static void CYDL_VL(cydl_vl_load_)(T* dst, const T* src, ptrdiff_t stride, ptrdiff_t n) {
    ptrdiff_t i;
    if (stride == 1)
        for (i = 0; i < n; i++) dst[i] = src[i];
    else
        for (i = 0; i < n; i++) dst[i] = src[i * stride];
}

ATTR static void CYDL_VL(cydl_vl_store_)(T* dst, ptrdiff_t stride, const T* src, ptrdiff_t n) {
    ptrdiff_t i;
    if (stride == 1)
        for (i = 0; i < n; i++) dst[i] = src[i];
    else
        for (i = 0; i < n; i++) dst[i * stride] = src[i];
}

/* y[i] = exp(x[i]) or log(x[i]) (which = 0 / 1): the tests' view of the lane functions */
ATTR static void CYDL_VL(cydl_vl_explog_)(int which, ptrdiff_t n, const T* x, T* y) {
    T v[CYDL_VL_NB];
    ptrdiff_t b, i, nb;
    for (b = 0; b < n; b += nb) {
        nb = n - b < CYDL_VL_NB ? n - b : CYDL_VL_NB;
        CYDL_VL(cydl_vl_load_)(v, x + b, 1, nb);
        if (which == 0)
            for (i = 0; i < nb; i++) v[i] = CYDL_VL(cydl_vl_exp1_)(v[i]);
        else
            for (i = 0; i < nb; i++) v[i] = CYDL_VL(cydl_vl_log1_)(v[i]);
        CYDL_VL(cydl_vl_store_)(y + b, 1, v, nb);
    }
}

/* A = softmax(Z) along each of n rows of C classes, max-shifted. A may be Z. */
ATTR static void CYDL_VL(cydl_vl_softmax_)(ptrdiff_t n, ptrdiff_t C, const T* Z, ptrdiff_t zr,
                                           ptrdiff_t zc, T* A, ptrdiff_t ar, ptrdiff_t ac) {
    T x[CYDL_VL_NB], m[CYDL_VL_NB], s[CYDL_VL_NB];
    ptrdiff_t b, i, c, nb;
    for (b = 0; b < n; b += nb) {
        const T* z = Z + b * zr;
        T* a = A + b * ar;
        nb = n - b < CYDL_VL_NB ? n - b : CYDL_VL_NB;
        CYDL_VL(cydl_vl_load_)(m, z, zr, nb);
        for (c = 1; c < C; c++) {
            CYDL_VL(cydl_vl_load_)(x, z + c * zc, zr, nb);
            for (i = 0; i < nb; i++) m[i] = x[i] > m[i] ? x[i] : m[i];
        }
        for (i = 0; i < nb; i++) s[i] = 0;
        for (c = 0; c < C; c++) {
            CYDL_VL(cydl_vl_load_)(x, z + c * zc, zr, nb);
            for (i = 0; i < nb; i++) {
                x[i] = CYDL_VL(cydl_vl_exp1_)(x[i] - m[i]);
                s[i] = s[i] + x[i];
            }
            CYDL_VL(cydl_vl_store_)(a + c * ac, ar, x, nb);
        }
        for (i = 0; i < nb; i++) s[i] = (T)1 / s[i];
        for (c = 0; c < C; c++) {
            CYDL_VL(cydl_vl_load_)(x, a + c * ac, ar, nb);
            for (i = 0; i < nb; i++) x[i] = x[i] * s[i];
            CYDL_VL(cydl_vl_store_)(a + c * ac, ar, x, nb);
        }
    }
}

#include "_vec_loss_ce.h"

#undef CYDL_VL
#undef CYDL_VL_CAT
#undef CYDL_VL_CAT2

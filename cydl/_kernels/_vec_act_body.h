/* The vectorizable activation loops of _activations.pyx, once per (type, instruction
   set): included by _vec_act.h with T, SFX and ATTR defined (as _vec_update_body.h).
   Column blocks of column-major matrices: column c of X starts at X + c * ldx. Each
   line keeps the operations and their order of the Cython loops it replaces. The
   loops load before they select and never store under a condition, so that GCC
   vectorizes them (it will not if-convert otherwise). Transcendental activations stay
   in Cython: their libm calls do not vectorize without -ffast-math. */
#define CYDL_VA_CAT2(a, b) a##b
#define CYDL_VA_CAT(a, b) CYDL_VA_CAT2(a, b)
#define CYDL_VA(name) CYDL_VA_CAT(name, SFX)

/* Z[:, c] += bias[c] (stored back only with store_z); A[:, c] = relu or identity.
   bias may be NULL; A may alias Z. */
ATTR static void CYDL_VA(cydl_va_bias_relu_)(ptrdiff_t rows, ptrdiff_t ncols, T* Z,
                                             ptrdiff_t ldz, const T* bias, T* A,
                                             ptrdiff_t lda, int store_z) {
    ptrdiff_t r, c;
    T b, z;
    for (c = 0; c < ncols; c++) {
        T* zc = Z + c * ldz;
        T* ac = A + c * lda;
        b = bias != NULL ? bias[c] : 0;
        if (store_z) {
            for (r = 0; r < rows; r++) {
                z = zc[r] + b;
                zc[r] = z;
                ac[r] = z > 0 ? z : 0;
            }
        } else {
            for (r = 0; r < rows; r++) {
                z = zc[r] + b;
                ac[r] = z > 0 ? z : 0;
            }
        }
    }
}

ATTR static void CYDL_VA(cydl_va_bias_linear_)(ptrdiff_t rows, ptrdiff_t ncols, T* Z,
                                               ptrdiff_t ldz, const T* bias, T* A,
                                               ptrdiff_t lda, int store_z) {
    ptrdiff_t r, c;
    T b;
    for (c = 0; c < ncols; c++) {
        T* zc = Z + c * ldz;
        T* ac = A + c * lda;
        b = bias != NULL ? bias[c] : 0;
        for (r = 0; r < rows; r++)
            ac[r] = zc[r] + b;
        if (store_z && b != 0)
            for (r = 0; r < rows; r++)
                zc[r] = ac[r];
    }
}

/* dZ[:, c] = dA[:, c] * act'(A[:, c]) for act = relu (0), sigmoid (1), tanh (2);
   dZ may alias dA. */
ATTR static void CYDL_VA(cydl_va_backward_)(int which, ptrdiff_t rows, ptrdiff_t ncols,
                                            const T* dA, ptrdiff_t ldda, const T* A,
                                            ptrdiff_t lda, T* dZ, ptrdiff_t lddz) {
    ptrdiff_t r, c;
    T d;
    for (c = 0; c < ncols; c++) {
        const T* dac = dA + c * ldda;
        const T* ac = A + c * lda;
        T* dzc = dZ + c * lddz;
        if (which == 0) {
            for (r = 0; r < rows; r++) {
                d = dac[r];
                dzc[r] = ac[r] > 0 ? d : 0;
            }
        } else if (which == 1) {    /* the 1.0: as Cython wrote the 1 of a * (1 - a) */
            for (r = 0; r < rows; r++)
                dzc[r] = dac[r] * (T)(ac[r] * (1.0 - ac[r]));
        } else {
            for (r = 0; r < rows; r++)
                dzc[r] = dac[r] * (T)(1.0 - ac[r] * ac[r]);
        }
    }
}

#undef CYDL_VA
#undef CYDL_VA_CAT
#undef CYDL_VA_CAT2

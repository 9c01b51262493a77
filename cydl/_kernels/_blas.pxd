from cython cimport floating

cdef enum:
    # A^T B pieces for OpenBLAS's small kernels do not beat one packed call below
    # this K (their speed over the call's, 300 x 50: K 32 0.8x, 64 1.0x, 128 1.2x)
    TILE_TN_MIN_K = 128

cdef void gemm(char ta, char tb, int m, int n, int k, floating alpha,
               const floating* A, int lda, const floating* B, int ldb,
               floating beta, floating* C, int ldc) noexcept nogil
cdef int blas_pin() noexcept nogil
cdef void blas_unpin(int old) noexcept nogil
cdef bint tn_packs(int k) noexcept nogil
cdef bint gemm_packs(char ta, char tb, int n, int k, bint beta0) noexcept nogil

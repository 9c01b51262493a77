from cython cimport floating

cdef void gemm(char ta, char tb, int m, int n, int k, floating alpha,
               const floating* A, int lda, const floating* B, int ldb,
               floating beta, floating* C, int ldc) noexcept nogil
cdef int blas_pin() noexcept nogil
cdef void blas_unpin(int old) noexcept nogil

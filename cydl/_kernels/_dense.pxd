from cython cimport floating

cdef enum:
    # Multiply-adds below which a GEMM is not worth splitting across threads.
    GEMM_MIN_WORK = 40000
    # Column blocks handed to threads start on multiples of this.
    COL_ALIGN = 8
    # Interleaved partial sums of a column sum (bias_grad_cols).
    SUM_LANES = 16

cdef void dense_forward_cols(int act, floating alpha, Py_ssize_t B, Py_ssize_t n_in,
                             const floating* X, Py_ssize_t ldx, char xt,
                             const floating* W, Py_ssize_t ldw, const floating* bias,
                             floating* Z, Py_ssize_t ldz, floating* A, Py_ssize_t lda,
                             Py_ssize_t c0, Py_ssize_t c1) noexcept nogil

cdef void dense_weight_grad_cols(Py_ssize_t B, Py_ssize_t n_in,
                                 const floating* X, Py_ssize_t ldx, char xt,
                                 const floating* dZ, Py_ssize_t lddz,
                                 floating* dW, Py_ssize_t ldw, floating* db,
                                 Py_ssize_t c0, Py_ssize_t c1, floating beta) noexcept nogil

cdef void dense_input_grad_cols(Py_ssize_t B, Py_ssize_t n_out,
                                const floating* dZ, Py_ssize_t lddz,
                                const floating* W, Py_ssize_t ldw,
                                floating* dX, Py_ssize_t lddx,
                                Py_ssize_t i0, Py_ssize_t i1, floating beta) noexcept nogil

cdef int layout(Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t s0, Py_ssize_t s1,
                Py_ssize_t item, char* trans, Py_ssize_t* ld) noexcept nogil

cdef void dense_weight_grad_rows(Py_ssize_t B, Py_ssize_t n_out,
                                 const floating* X, Py_ssize_t ldx, char xt,
                                 const floating* dZ, Py_ssize_t lddz,
                                 floating* dW, Py_ssize_t ldw,
                                 Py_ssize_t i0, Py_ssize_t i1, floating beta,
                                 floating alpha=*) noexcept nogil

cdef void bias_grad_cols(Py_ssize_t B, const floating* dZ, Py_ssize_t lddz, floating* db,
                         Py_ssize_t c0, Py_ssize_t c1, floating beta) noexcept nogil

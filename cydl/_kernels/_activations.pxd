from cython cimport floating

cdef enum:
    ACT_LINEAR = 0
    ACT_RELU = 1
    ACT_SIGMOID = 2
    ACT_TANH = 3
    ACT_SOFTMAX = 4
    ACT_ELU = 5
    ACT_SELU = 6
    ACT_LEAKY_RELU = 7
    ACT_GELU = 8
    ACT_GELU_TANH = 9
    ACT_SWISH = 10
    ACT_MISH = 11
    ACT_SOFTPLUS = 12
    ACT_SOFTSIGN = 13
    ACT_EXPONENTIAL = 14
    ACT_HARD_SIGMOID = 15
    ACT_RELU6 = 16
    N_ACTIVATIONS = 17

cdef bint act_needs_z(int act, double alpha) noexcept nogil

cdef void bias_act_forward(int act, floating alpha, Py_ssize_t rows,
                           Py_ssize_t c0, Py_ssize_t c1,
                           floating* Z, Py_ssize_t ldz, const floating* bias,
                           floating* A, Py_ssize_t lda) noexcept nogil

cdef void act_backward(int act, floating alpha, Py_ssize_t rows,
                       Py_ssize_t c0, Py_ssize_t c1,
                       const floating* dA, Py_ssize_t ldda,
                       const floating* A, Py_ssize_t lda,
                       const floating* Z, Py_ssize_t ldz,
                       floating* dZ, Py_ssize_t lddz) noexcept nogil

cdef void softmax_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols,
                       const floating* Z, Py_ssize_t ldz,
                       floating* A, Py_ssize_t lda) noexcept nogil

cdef void softmax_backward_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols,
                                const floating* dA, Py_ssize_t ldda,
                                const floating* A, Py_ssize_t lda,
                                floating* dZ, Py_ssize_t lddz) noexcept nogil

from cython cimport floating

cdef void prelu_fwd_cols(Py_ssize_t rows, Py_ssize_t c0, Py_ssize_t c1,
                         const floating* X, Py_ssize_t xr, Py_ssize_t xc,
                         const floating* alpha, floating* Y, Py_ssize_t yr,
                         Py_ssize_t yc) noexcept nogil

cdef void prelu_bwd_cols(Py_ssize_t rows, Py_ssize_t c0, Py_ssize_t c1,
                         const floating* G, Py_ssize_t gr, Py_ssize_t gc,
                         const floating* X, Py_ssize_t xr, Py_ssize_t xc,
                         const floating* alpha, floating* dX, Py_ssize_t dr,
                         Py_ssize_t dc, floating* dalpha) noexcept nogil

from cython cimport floating

cdef void bn_stats_cols(Py_ssize_t rows, Py_ssize_t c0, Py_ssize_t c1,
                        const floating* X, Py_ssize_t sr, Py_ssize_t sc,
                        floating* mean, floating* var) noexcept nogil

cdef void bn_scale_cols(Py_ssize_t rows, Py_ssize_t c0, Py_ssize_t c1,
                        const floating* X, Py_ssize_t sr, Py_ssize_t sc,
                        const floating* mean, const floating* var,
                        const floating* gamma, const floating* beta, double eps,
                        floating* Y, Py_ssize_t yr, Py_ssize_t yc) noexcept nogil

cdef void bn_backward_cols(Py_ssize_t rows, Py_ssize_t c0, Py_ssize_t c1,
                           const floating* G, Py_ssize_t gr, Py_ssize_t gc,
                           const floating* X, Py_ssize_t sr, Py_ssize_t sc,
                           const floating* mean, const floating* var,
                           const floating* gamma, double eps, bint batch_stats,
                           floating* dX, Py_ssize_t dr, Py_ssize_t dc,
                           floating* dgamma, floating* dbeta) noexcept nogil

from cython cimport floating

ctypedef fused src_t:
    unsigned char
    float
    double

cdef void gather_rows_span(const src_t* X, Py_ssize_t ld, Py_ssize_t ncols,
                           const long long* idx, Py_ssize_t start, Py_ssize_t r0,
                           Py_ssize_t r1, floating* out) noexcept nogil

cdef Py_ssize_t find_nonfinite(const floating* x, Py_ssize_t n) noexcept nogil

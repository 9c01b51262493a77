from cython cimport floating
from cydl._kernels._phases cimport StepState

cdef void node_keys(StepState* p) noexcept nogil
cdef void node_forward_part(StepState* p, floating* P, const floating* X, int l, int t,
                            int nt, Py_ssize_t B, int mode) noexcept nogil
cdef void node_backward_part(StepState* p, floating* P, floating* G, const floating* X,
                             int l, int t, int nt, Py_ssize_t B, bint eager) noexcept nogil

from cython cimport floating
from cydl._kernels._phases cimport StepState, LayerDesc

cdef void accum_act_part(StepState* p, int l, int t, int nt, Py_ssize_t B) noexcept nogil
cdef void backward_part(StepState* p, floating* P, floating* G, const floating* X, int l,
                        int t, int nt, Py_ssize_t B, bint fold) noexcept nogil
cdef void update_layer_part(StepState* p, floating* P, floating* G, int l, int t, int nt,
                            Py_ssize_t B, bint folded, bint after_barrier) noexcept nogil
cdef bint update_deferred(Py_ssize_t B, LayerDesc* L, bint fold) noexcept nogil
cdef void update_part(StepState* p, floating* P, floating* G, int t, int nt) noexcept nogil

"""The backward parts of a fused step's phases: thread t's share of one layer's
backward pass (its weight gradient, or plain SGD's update folded into it, and its
input gradient with the source's activation derivative), of the activation
derivative of a node that several readers add into, and of the optimizer update.
_phases.pyx runs them; how each is cut into parts is in _parts.pxd.
"""
from cython cimport floating
from cydl._kernels._parallel cimport Span, split_range, parts_for
from cydl._kernels._blas cimport gemm
from cydl._kernels._activations cimport act_backward
from cydl._kernels._dense cimport (dense_weight_grad_cols, dense_weight_grad_rows,
                                   bias_grad_cols, dense_input_grad_cols, GEMM_MIN_WORK,
                                   COL_ALIGN)
from cydl._kernels._optim cimport update_range
from cydl._kernels._phases cimport StepState, LayerDesc, NODE_DENSE
from cydl._kernels._parts cimport NARROW, dw_rows, dx_rows, row_copy, row_copy_ld


cdef bint update_deferred(Py_ssize_t B, LayerDesc* L, bint fold) noexcept nogil:
    """Whether the lowest trained layer's update waits for a phase of its own, after a
    barrier, in column blocks: its weight gradient was split by rows (dw_rows) and is
    not folded into W. (The layers above update at the start of the next phase, after
    its barrier, in column blocks likewise.)"""
    return (L.kind == NODE_DENSE and L.trainable and not fold and L.n_out >= NARROW
            and dw_rows(B, L, False))


cdef void accum_act_part(StepState* p, int l, int t, int nt, Py_ssize_t B) noexcept nogil:
    """dA -> dZ in place for a node that several readers added their gradients into."""
    cdef LayerDesc* L = &p.L[l]
    cdef int parts = parts_for(<double>B * L.n_out * 4, 40000, nt, L.n_out)
    cdef Span sp
    if t >= parts:
        return
    sp = split_range(L.n_out, parts, t, 1)
    if p.is_double:
        _accum_act(L, <double*>p.WS, sp, B)
    else:
        _accum_act(L, <float*>p.WS, sp, B)


cdef void _accum_act(LayerDesc* L, floating* WS, Span sp, Py_ssize_t B) noexcept nogil:
    act_backward(L.act, <floating>L.alpha, B, sp.lo, sp.hi, WS + L.d, B, WS + L.a, B,
                 WS + L.z if L.keep_z else NULL, B, WS + L.d, B)


cdef void backward_part(StepState* p, floating* P, floating* G, const floating* X, int l, int t,
                         int nt, Py_ssize_t B, bint fold) noexcept nogil:
    cdef LayerDesc* L = &p.L[l]
    cdef LayerDesc* prev
    cdef floating* WS = <floating*>p.WS
    cdef floating* dZ = WS + L.d
    cdef const floating* x
    cdef Py_ssize_t ldx
    cdef char xt
    cdef int parts, tt
    cdef Span sp
    cdef double work = <double>B * L.n_in * L.n_out
    cdef floating beta
    if L.src[0] < 0:
        x, ldx, xt = X + p.in_off[-1 - L.src[0]], p.n_features, c'T'
    elif row_copy(p, &p.L[L.src[0]]):
        x, ldx, xt = WS + p.L[L.src[0]].at, row_copy_ld(&p.L[L.src[0]]), c'T'
    else:
        x, ldx, xt = WS + p.L[L.src[0]].a, B, c'N'
    if fold and L.need_dx:
        _backward_folded(p, P, G, L, x, ldx, xt, t, nt, B)
        return
    if L.trainable and dw_rows(B, L, fold):
        parts = parts_for(work, GEMM_MIN_WORK, nt, L.n_in)
        if t < parts:
            # 16 rows: whole 64-byte lines of float32 W per thread in every column
            sp = split_range(L.n_in, parts, t, 16)
            if fold:
                dense_weight_grad_rows(B, L.n_out, x, ldx, xt, dZ, B, P + L.w, L.n_in,
                                       sp.lo, sp.hi, 1, <floating>(-p.rule.s.lr))
            else:
                dense_weight_grad_rows(B, L.n_out, x, ldx, xt, dZ, B, G + L.w, L.n_in,
                                       sp.lo, sp.hi, 0, 1)
        if L.b >= 0:
            sp = split_range(L.n_out, nt, t, COL_ALIGN)
            bias_grad_cols(B, dZ, B, G + L.b, sp.lo, sp.hi, 0)
    elif L.trainable and fold:
        parts = parts_for(work, GEMM_MIN_WORK, nt, L.n_out)
        if t < parts:
            sp = split_range(L.n_out, parts, t, COL_ALIGN)
            if sp.hi > sp.lo:
                gemm(c'T' if xt == c'N' else c'N', c'N', L.n_in, <int>(sp.hi - sp.lo), <int>B,
                     <floating>(-p.rule.s.lr), x, <int>ldx, dZ + sp.lo * B, <int>B,
                     <floating>1, P + L.w + sp.lo * L.n_in, L.n_in)
                if L.b >= 0:
                    bias_grad_cols(B, dZ, B, G + L.b, sp.lo, sp.hi, 0)
    elif L.trainable:
        parts = parts_for(work, GEMM_MIN_WORK, nt, L.n_out)
        if t < parts:
            sp = split_range(L.n_out, parts, t, COL_ALIGN)
            dense_weight_grad_cols(B, L.n_in, x, ldx, xt, dZ, B, G + L.w, L.n_in,
                                   G + L.b if L.b >= 0 else NULL, sp.lo, sp.hi, 0)
    if not L.need_dx:
        return
    # input gradient, handed out from the last thread down so that two one-part
    # GEMMs of this phase land on different threads; a source with several readers
    # gets it added (beta 1) and applies its activation derivative itself
    prev = &p.L[L.src[0]]
    beta = 1 if prev.accum else 0
    tt = nt - 1 - t
    if dx_rows(B, L):
        parts = parts_for(work, GEMM_MIN_WORK, nt, B)
        if tt >= parts:
            return
        sp = split_range(B, parts, tt, COL_ALIGN)
        if sp.hi <= sp.lo:
            return
        gemm(c'N', c'T', <int>(sp.hi - sp.lo), L.n_in, L.n_out, <floating>1, dZ + sp.lo,
             <int>B, P + L.w, L.n_in, beta, WS + prev.d + sp.lo, <int>B)
        if prev.accum:
            return
        act_backward(prev.act, <floating>prev.alpha, sp.hi - sp.lo, 0, L.n_in,
                     WS + prev.d + sp.lo, B, WS + prev.a + sp.lo, B,
                     WS + prev.z + sp.lo if prev.keep_z else NULL, B, WS + prev.d + sp.lo, B)
        return
    parts = parts_for(work, GEMM_MIN_WORK, nt, L.n_in)
    if tt >= parts:
        return
    sp = split_range(L.n_in, parts, tt, COL_ALIGN)
    _input_grad_cols(WS, P, L, prev, B, sp)


cdef inline void _input_grad_cols(floating* WS, const floating* P, LayerDesc* L,
                                  LayerDesc* prev, Py_ssize_t B, Span sp) noexcept nogil:
    """Columns lo..hi of the source's gradient: dZ W[lo:hi, :]^T, added to it when
    several readers add theirs (the source then applies its activation derivative
    itself), else written and taken through the derivative here."""
    dense_input_grad_cols(B, L.n_out, WS + L.d, B, P + L.w, L.n_in, WS + prev.d, B,
                          sp.lo, sp.hi, 1 if prev.accum else 0)
    if prev.accum:
        return
    act_backward(prev.act, <floating>prev.alpha, B, sp.lo, sp.hi, WS + prev.d, B,
                 WS + prev.a, B, WS + prev.z if prev.keep_z else NULL, B, WS + prev.d, B)


cdef void _backward_folded(StepState* p, floating* P, floating* G, LayerDesc* L,
                           const floating* x, Py_ssize_t ldx, char xt, int t, int nt,
                           Py_ssize_t B) noexcept nogil:
    """A Dense layer's backward with plain SGD's update folded in (folds_hidden):
    thread t takes rows lo..hi of W (input units), first dX[:, lo:hi] = dZ W[lo:hi, :]^T
    (and the source's activation derivative), then W[lo:hi, :] += -lr X[:, lo:hi]^T dZ;
    and the bias's gradient and update on a block of units. No thread reads a row of W
    that another has changed, so no barrier is needed between the two."""
    cdef floating* WS = <floating*>p.WS
    cdef floating* dZ = WS + L.d
    cdef LayerDesc* prev = &p.L[L.src[0]]
    cdef int parts = parts_for(<double>B * L.n_in * L.n_out, GEMM_MIN_WORK, nt, L.n_in)
    cdef Span sp
    if t < parts:
        sp = split_range(L.n_in, parts, t, 16)
        if sp.hi > sp.lo:
            _input_grad_cols(WS, P, L, prev, B, sp)
            dense_weight_grad_rows(B, L.n_out, x, ldx, xt, dZ, B, P + L.w, L.n_in,
                                   sp.lo, sp.hi, 1, <floating>(-p.rule.s.lr))
    if L.b >= 0:
        sp = split_range(L.n_out, nt, t, COL_ALIGN)
        if sp.hi > sp.lo:
            bias_grad_cols(B, dZ, B, G + L.b, sp.lo, sp.hi, 0)
            update_range(p.rule, L.b + sp.lo, L.b + sp.hi, P, G, <floating*>p.S1,
                         <floating*>p.S2, <floating*>p.S3, t)


cdef void update_layer_part(StepState* p, floating* P, floating* G, int l, int t, int nt,
                             Py_ssize_t B, bint folded, bint after_barrier) noexcept nogil:
    """Optimizer step on the columns of layer l whose gradient thread t computed
    (the same split as its weight-gradient GEMM, so the block is still in cache), or,
    after_barrier, on column blocks of a gradient that the threads split by rows
    (update_deferred). A narrow layer's rows update in pieces of every column."""
    cdef LayerDesc* L = &p.L[l]
    cdef int parts
    cdef Span sp
    cdef Py_ssize_t c, col
    cdef floating* S1 = <floating*>p.S1
    cdef floating* S2 = <floating*>p.S2
    cdef floating* S3 = <floating*>p.S3
    if not L.trainable or L.kind != NODE_DENSE:    # other nodes update in their own part
        return
    if dw_rows(B, L, folded) and not (after_barrier and update_deferred(B, L, folded)):
        # this thread computed rows lo..hi of dW: a piece of every column
        parts = parts_for(<double>B * L.n_in * L.n_out, GEMM_MIN_WORK, nt, L.n_in)
        if t < parts:
            sp = split_range(L.n_in, parts, t, 16)
            if sp.hi > sp.lo and not folded:
                for c in range(L.n_out):
                    col = L.w + c * L.n_in
                    update_range(p.rule, col + sp.lo, col + sp.hi, P, G, S1, S2, S3, t)
        if L.b >= 0:
            sp = split_range(L.n_out, nt, t, COL_ALIGN)
            update_range(p.rule, L.b + sp.lo, L.b + sp.hi, P, G, S1, S2, S3, t)
        return
    parts = parts_for(<double>B * L.n_in * L.n_out, GEMM_MIN_WORK, nt, L.n_out)
    if t >= parts:
        return
    sp = split_range(L.n_out, parts, t, COL_ALIGN)
    if not folded:      # folded: the weight-gradient GEMM already updated W
        update_range(p.rule, L.w + sp.lo * L.n_in, L.w + sp.hi * L.n_in, P, G, S1, S2, S3, t)
    if L.b >= 0:
        update_range(p.rule, L.b + sp.lo, L.b + sp.hi, P, G, S1, S2, S3, t)


cdef void update_part(StepState* p, floating* P, floating* G, int t, int nt) noexcept nogil:
    cdef Py_ssize_t n = p.n_trainable
    cdef int parts = parts_for(<double>n, 16384, nt, n)
    cdef Span sp
    if t >= parts:
        return
    sp = split_range(n, parts, t, 16)
    update_range(p.rule, sp.lo, sp.hi, P, G, <floating*>p.S1, <floating*>p.S2,
                 <floating*>p.S3, t)

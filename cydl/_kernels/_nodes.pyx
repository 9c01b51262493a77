"""The per-unit node kinds of the fused step: batch normalization, dropout and
alpha dropout, PReLU, and Normalization's fixed affine map.

Each kind has a forward part and a backward part that one thread runs on a block of
units (columns), like the Dense layers' parts in _parts.pyx and _backward.pyx, and
each reuses the column kernels of its per-op twin (_norm.pyx, _prelu.pyx,
_dropout.pyx), so the fused and the per-op paths compute the same numbers. A node's
input is the previous node's output (column-major, leading dimension B) or, for the
first node, the batch rows (row-major); the node's activation, if one was folded in,
runs on its output.
"""
from cython cimport floating
from libc.math cimport sqrt
from libc.string cimport memset
from cydl._kernels._parallel cimport Span, split_range, parts_for
from cydl._kernels._phases cimport (StepState, LayerDesc, NODE_BN, NODE_DROPOUT,
                                    NODE_PRELU, NODE_AFFINE, NODE_CONCAT, NODE_ADD,
                                    NODE_SUBTRACT, NODE_MULTIPLY, NODE_AVERAGE, NODE_MAXIMUM,
                                    NODE_MINIMUM)
from cydl._kernels._activations cimport bias_act_forward, act_backward, ACT_SOFTMAX, ACT_LINEAR
from cydl._kernels._norm cimport bn_stats_cols, bn_scale_cols, bn_backward_cols
from cydl._kernels._prelu cimport prelu_fwd_cols, prelu_bwd_cols
from cydl._kernels._rng cimport kept, call_key
from cydl._kernels._optim cimport update_range

cdef enum:
    NODE_MIN_WORK = 20000     # element operations worth a thread of their own


cdef void node_keys(StepState* p) noexcept nogil:
    """Before a training step: each dropout node's mask stream for this call."""
    cdef int l
    cdef LayerDesc* L
    for l in range(p.n_layers):
        L = &p.L[l]
        if L.kind == NODE_DROPOUT:
            L.key = call_key(L.seed, L.counter[0])
            L.counter[0] += 1


cdef inline void _source(StepState* p, int s, const floating* X, Py_ssize_t B,
                         const floating** x, Py_ssize_t* sr, Py_ssize_t* sc) noexcept nogil:
    """Where source s lives: a model input (rows of the batch, row-major) or a node's
    output (column-major)."""
    if s < 0:
        x[0], sr[0], sc[0] = X + p.in_off[-1 - s], p.n_features, 1
    else:
        x[0], sr[0], sc[0] = <floating*>p.WS + p.L[s].a, 1, B


cdef inline Span _cols(LayerDesc* L, int t, int nt, Py_ssize_t B, double cost, int* ok) noexcept nogil:
    cdef int parts = parts_for(<double>B * L.n_out * cost, NODE_MIN_WORK, nt, L.n_out)
    cdef Span sp
    ok[0] = t < parts
    if ok[0]:
        sp = split_range(L.n_out, parts, t, 1)
    else:
        sp.lo = sp.hi = 0
    return sp


cdef void node_forward_part(StepState* p, floating* P, const floating* X, int l, int t,
                            int nt, Py_ssize_t B, int mode) noexcept nogil:
    cdef LayerDesc* L = &p.L[l]
    cdef floating* WS = <floating*>p.WS
    cdef floating* A = WS + L.a
    cdef floating* Z = A
    cdef const floating* x
    cdef Py_ssize_t sr, sc, r, c, n = L.n_out
    cdef int act = L.act, ok
    cdef floating k, mu
    cdef Span sp = _cols(L, t, nt, B, 4.0, &ok)
    if not ok or sp.hi <= sp.lo:
        return
    _source(p, L.src[0], X, B, &x, &sr, &sc)
    if mode > 0 and L.keep_z:
        Z = WS + L.z
    if L.out >= 0 and (act == ACT_SOFTMAX or (mode > 0 and p.outs[L.out].on_logits)):
        act = ACT_LINEAR     # as for Dense: the loss or the softmax phase takes it from here
    if L.kind >= NODE_CONCAT:
        _merge_forward(p, L, X, B, sp, Z)
    elif L.kind == NODE_BN:
        if mode == 2:         # training: batch statistics, and the moving ones follow
            bn_stats_cols(B, sp.lo, sp.hi, x, sr, sc, WS + L.s, WS + L.s + n)
            bn_scale_cols(B, sp.lo, sp.hi, x, sr, sc, WS + L.s, WS + L.s + n,
                          P + L.w if L.w >= 0 else NULL, P + L.b if L.b >= 0 else NULL,
                          L.eps, Z, 1, B)
            for c in range(sp.lo, sp.hi):
                P[L.m + c] = <floating>(P[L.m + c] * L.momentum +
                                        (WS + L.s)[c] * (1 - L.momentum))
                P[L.v + c] = <floating>(P[L.v + c] * L.momentum +
                                        (WS + L.s + n)[c] * (1 - L.momentum))
        else:
            bn_scale_cols(B, sp.lo, sp.hi, x, sr, sc, P + L.m, P + L.v,
                          P + L.w if L.w >= 0 else NULL, P + L.b if L.b >= 0 else NULL,
                          L.eps, Z, 1, B)
    elif L.kind == NODE_DROPOUT:
        for c in range(sp.lo, sp.hi):
            for r in range(B):
                if mode != 2:
                    Z[r + c * B] = x[r * sr + c * sc]
                elif kept(L.key, <unsigned long long>((p.row0 + r) * n + c), L.thr):
                    Z[r + c * B] = <floating>(L.ka * x[r * sr + c * sc] + L.kb)
                else:
                    Z[r + c * B] = <floating>L.kc
    elif L.kind == NODE_PRELU:
        prelu_fwd_cols(B, sp.lo, sp.hi, x, sr, sc, P + L.w, Z, 1, B)
    elif L.kind == NODE_AFFINE:       # Normalization: (x - mean) / max(sqrt(var), eps)
        for c in range(sp.lo, sp.hi):
            k = <floating>sqrt(<double>P[L.v + c])
            if k < <floating>L.eps:
                k = <floating>L.eps
            mu = P[L.m + c]
            for r in range(B):
                Z[r + c * B] = (x[r * sr + c * sc] - mu) / k
    if act != ACT_LINEAR or Z != A:
        bias_act_forward(act, <floating>L.alpha, B, sp.lo, sp.hi, Z, B, NULL, A, B)


cdef void node_backward_part(StepState* p, floating* P, floating* G, const floating* X,
                             int l, int t, int nt, Py_ssize_t B, bint eager) noexcept nogil:
    """dLoss/d(input) on this thread's units, through the previous node's activation,
    and the node's own parameter gradients (then their update, when eager)."""
    cdef LayerDesc* L = &p.L[l]
    cdef LayerDesc* prev = NULL
    cdef floating* WS = <floating*>p.WS
    cdef floating* D = WS + L.d
    cdef floating* dX = NULL
    cdef floating* S1 = <floating*>p.S1
    cdef floating* S2 = <floating*>p.S2
    cdef floating* S3 = <floating*>p.S3
    cdef const floating* x
    cdef Py_ssize_t sr, sc, r, c, n = L.n_out
    cdef bint grads = L.trainable
    cdef int ok
    cdef floating k
    cdef Span sp = _cols(L, t, nt, B, 6.0, &ok)
    if not ok or sp.hi <= sp.lo:
        return
    if L.kind >= NODE_CONCAT:
        _merge_backward(p, L, X, B, sp)
        return
    _source(p, L.src[0], X, B, &x, &sr, &sc)
    if L.need_dx:
        prev = &p.L[L.src[0]]
        # a source with several readers gets the gradient added: computed in place
        # in D first (each kind reads D[i] before writing dX[i])
        dX = D if prev.accum else WS + prev.d
    if grads:      # this thread owns these units: their gradients start here
        if L.w >= 0:
            memset(G + L.w + sp.lo, 0, (sp.hi - sp.lo) * sizeof(floating))
        if L.b >= 0:
            memset(G + L.b + sp.lo, 0, (sp.hi - sp.lo) * sizeof(floating))
    if L.kind == NODE_BN:
        bn_backward_cols(B, sp.lo, sp.hi, D, 1, B, x, sr, sc, WS + L.s, WS + L.s + n,
                         P + L.w if L.w >= 0 else NULL, L.eps, True, dX, 1, B,
                         G + L.w if grads and L.w >= 0 else NULL,
                         G + L.b if grads and L.b >= 0 else NULL)
    elif L.kind == NODE_DROPOUT:
        if dX != NULL:
            for c in range(sp.lo, sp.hi):
                for r in range(B):
                    dX[r + c * B] = <floating>(L.ka * D[r + c * B]) if kept(
                        L.key, <unsigned long long>((p.row0 + r) * n + c), L.thr) else 0
    elif L.kind == NODE_PRELU:
        prelu_bwd_cols(B, sp.lo, sp.hi, D, 1, B, x, sr, sc, P + L.w, dX, 1, B,
                       G + L.w if grads else NULL)
    elif L.kind == NODE_AFFINE:
        if dX != NULL:
            for c in range(sp.lo, sp.hi):
                k = <floating>sqrt(<double>P[L.v + c])
                if k < <floating>L.eps:
                    k = <floating>L.eps
                for r in range(B):
                    dX[r + c * B] = D[r + c * B] / k
    if dX != NULL:
        _hand_back(p, prev, B, sp.lo, sp.hi, dX, 0)
    if eager and grads:        # the parameters are not read again in this step
        if L.w >= 0:
            update_range(p.rule, L.w + sp.lo, L.w + sp.hi, P, G, S1, S2, S3, t)
        if L.b >= 0:
            update_range(p.rule, L.b + sp.lo, L.b + sp.hi, P, G, S1, S2, S3, t)


cdef void _hand_back(StepState* p, LayerDesc* src, Py_ssize_t B, Py_ssize_t c0, Py_ssize_t c1,
                     floating* g, Py_ssize_t g_off) noexcept nogil:
    """Give gradient columns [c0, c1) of g (column-major, column c at g + (c - g_off) B)
    to a source node: added to its d when it has several readers, else written
    through its activation derivative (d = dZ)."""
    cdef floating* WS = <floating*>p.WS
    cdef floating* d = WS + src.d
    cdef Py_ssize_t r, c
    cdef const floating* gc
    if src.accum:
        for c in range(c0, c1):
            gc = g + (c - g_off) * B
            for r in range(B):
                d[r + c * B] += gc[r]
        return
    act_backward(src.act, <floating>src.alpha, B, c0, c1, g - g_off * B, B, WS + src.a, B,
                 WS + src.z if src.keep_z else NULL, B, d, B)


cdef void _merge_forward(StepState* p, LayerDesc* L, const floating* X, Py_ssize_t B, Span sp,
                         floating* Z) noexcept nogil:
    """Concatenate (column blocks) or an elementwise merge of the sources."""
    cdef const floating* x
    cdef Py_ssize_t sr, sc, r, c, off = 0, w, lo, hi
    cdef int s
    cdef floating v, y
    if L.kind == NODE_CONCAT:
        for s in range(L.n_src):
            _source(p, L.src[s], X, B, &x, &sr, &sc)
            w = _width(p, L, s)
            lo = max(sp.lo, off)
            hi = min(sp.hi, off + w)
            for c in range(lo, hi):
                for r in range(B):
                    Z[r + c * B] = x[r * sr + (c - off) * sc]
            off += w
        return
    for c in range(sp.lo, sp.hi):
        for r in range(B):
            _source(p, L.src[0], X, B, &x, &sr, &sc)
            y = x[r * sr + c * sc]
            for s in range(1, L.n_src):
                _source(p, L.src[s], X, B, &x, &sr, &sc)
                v = x[r * sr + c * sc]
                if L.kind == NODE_ADD or L.kind == NODE_AVERAGE:
                    y = y + v
                elif L.kind == NODE_SUBTRACT:
                    y = y - v
                elif L.kind == NODE_MULTIPLY:
                    y = y * v
                elif L.kind == NODE_MAXIMUM:
                    y = y if y >= v else v
                else:
                    y = y if y <= v else v
            if L.kind == NODE_AVERAGE:
                y = y * <floating>(1.0 / L.n_src)
            Z[r + c * B] = y


cdef inline Py_ssize_t _width(StepState* p, LayerDesc* L, int s) noexcept nogil:
    return p.in_width[-1 - L.src[s]] if L.src[s] < 0 else p.L[L.src[s]].n_out


cdef void _merge_backward(StepState* p, LayerDesc* L, const floating* X, Py_ssize_t B,
                          Span sp) noexcept nogil:
    """Each source that wants a gradient gets its share of D, on this thread's columns.
    The elementwise kinds compute a source's share in place in G's scratch column
    (the node's z buffer, free in the backward pass) before handing it back."""
    cdef floating* WS = <floating*>p.WS
    cdef floating* D = WS + L.d
    cdef floating* T = WS + L.z        # scratch: a bmax x n_out buffer of this node
    cdef const floating* x
    cdef Py_ssize_t sr, sc, r, c, off = 0, w, lo, hi
    cdef int s, j, win
    cdef floating g, y, v
    if L.kind == NODE_CONCAT:
        for s in range(L.n_src):
            w = _width(p, L, s)
            lo = max(sp.lo, off)
            hi = min(sp.hi, off + w)
            if L.src[s] >= 0 and p.L[L.src[s]].needs_bwd and hi > lo:
                _hand_back(p, &p.L[L.src[s]], B, lo - off, hi - off, D + off * B, 0)
            off += w
        return
    for s in range(L.n_src):
        if L.src[s] < 0 or not p.L[L.src[s]].needs_bwd:
            continue
        for c in range(sp.lo, sp.hi):
            for r in range(B):
                g = D[r + c * B]
                if L.kind == NODE_ADD:
                    pass
                elif L.kind == NODE_AVERAGE:
                    g = g * <floating>(1.0 / L.n_src)
                elif L.kind == NODE_SUBTRACT:
                    g = g if s == 0 else -g
                elif L.kind == NODE_MULTIPLY:
                    for j in range(L.n_src):
                        if j != s:
                            _source(p, L.src[j], X, B, &x, &sr, &sc)
                            g = g * x[r * sr + c * sc]
                else:       # maximum / minimum: the first source that attains it wins
                    win = 0
                    _source(p, L.src[0], X, B, &x, &sr, &sc)
                    y = x[r * sr + c * sc]
                    for j in range(1, L.n_src):
                        _source(p, L.src[j], X, B, &x, &sr, &sc)
                        v = x[r * sr + c * sc]
                        if (L.kind == NODE_MAXIMUM and v > y) or (L.kind == NODE_MINIMUM and v < y):
                            y, win = v, j
                    g = g if win == s else 0
                T[r + c * B] = g
        _hand_back(p, &p.L[L.src[s]], B, sp.lo, sp.hi, T + sp.lo * B, sp.lo)

from cython cimport floating
from cydl._kernels._phases cimport StepState, LayerDesc, SRC_F32, SRC_F64, NODE_DENSE
from cydl._kernels._parallel cimport parts_for
from cydl._kernels._dense cimport GEMM_MIN_WORK, COL_ALIGN
from cydl._kernels._blas cimport TILE_TN_MIN_K, tn_packs, gemm_packs

# Which dimension of each GEMM the threads split. Splitting the units (columns)
# gives each thread its own block of W in every phase, which is what the cache
# wants, and is the rule where cydl cuts GEMMs into OpenBLAS's small-kernel pieces
# (on the AVX-512 development machine a row split of the large layers ranged from 6%
# faster to 19% slower from one run to the next). Where OpenBLAS packs a GEMM, every
# thread packs whole the operand that the split does not cut: the layer's input for
# a unit split, W (forward) or dZ (weight gradient) for a row split. So rows go to
# the threads where that makes the whole operand the smaller one (row_splits). A
# layer too narrow to share out in 8-column blocks (a 10-class output) splits rows.
cdef enum:
    NARROW = 4 * COL_ALIGN
    GEMV_MIN_WORK = 8192     # multiply-adds of a one-row layer worth a thread
    # Packed row splits from here. The benchmark MLP on the 2-core Zen 3 VM, speed
    # with them over without (benchmarks/lab/switch_ab.py --switch row_split --steps,
    # 200 rounds, median): SGD b64 1.011x, b128 1.020x, b256 1.016x, b512 1.058x;
    # Adam 1.000x, 1.004x, 1.011x, 1.038x; the deep 20x100 net at b128 1.007x, 0.993x
    ROW_SPLIT_MIN_B = 64
    # The weight gradient split by rows for optimizers other than plain SGD, with
    # the update after a barrier, against units (the same A/B, 200-300 rounds): Adam
    # b128 0.991x, b256 1.007x, b512 1.017x and 1.023x
    ROW_SPLIT_UPDATE_MIN_B = 256


cdef bint row_splits_on() noexcept nogil
cdef bint fold_hidden_on() noexcept nogil


cdef inline bint dx_rows(Py_ssize_t B, LayerDesc* L) noexcept nogil:
    return L.n_in < NARROW and B >= NARROW


cdef inline bint fwd_rows(Py_ssize_t B, LayerDesc* L) noexcept nogil:
    """Whether threads split a dense layer's forward by rows: a narrow layer, or a
    packed GEMM whose W (n_in x n_out) is smaller than its input (B x n_in)."""
    if B < NARROW:
        return False
    if L.n_out < NARROW:
        return True
    return (B >= ROW_SPLIT_MIN_B and L.n_out < B and row_splits_on() and
            gemm_packs(c'T' if L.src[0] < 0 else c'N', c'N', <int>L.n_out, <int>L.n_in, True))


cdef inline bint dw_rows(Py_ssize_t B, LayerDesc* L, bint fold) noexcept nogil:
    """Whether threads split a dense layer's weight gradient by rows (input units): a
    narrow layer, or a packed GEMM whose dZ (B x n_out) is smaller than its X
    (B x n_in). Plain SGD's folded update (W += -lr X^T dZ) splits so from
    ROW_SPLIT_MIN_B rows; another optimizer from ROW_SPLIT_UPDATE_MIN_B, and then
    updates W in column blocks after a barrier (update_deferred): in pieces of every
    column right away, the moments' strided streams made Adam's step at b128 take
    1.07x the time."""
    if L.n_in < NARROW:
        return False
    if L.n_out < NARROW:
        return True
    # X^T dZ reads X row-major (A B) or column-major (A^T B): both must pack
    return (B >= (ROW_SPLIT_MIN_B if fold else ROW_SPLIT_UPDATE_MIN_B) and
            L.n_out < L.n_in and row_splits_on() and
            gemm_packs(c'N', c'N', <int>L.n_out, <int>B, False) and
            gemm_packs(c'T', c'N', <int>L.n_out, <int>B, False))


cdef inline bint folds_hidden(Py_ssize_t B, LayerDesc* L, int nt) noexcept nogil:
    """Whether plain SGD folds the update of a Dense layer whose input gradient is
    needed, as it does the lowest trained layer's: W -= lr X^T dZ in the weight
    gradient's GEMM, with no gradient stored and no separate pass over W. Each thread
    takes the same rows of W (input units) for both GEMMs and reads them for its
    columns of dX before it folds them, so no thread reads a row another has
    updated; so dX must split by columns (not dx_rows), and a layer too small to
    share out (one part) keeps its two GEMMs on two threads and its update apart
    (the deep net's 100 -> 10 output at b32 took 9.5 us folded on one thread while
    the other's share of the phase took 3.7; whole steps with this rule 1.010x,
    quartiles 0.973-1.033). Speed with it over the
    lowest layer's fold only, on the 2-core Zen 3 VM (benchmarks/lab/switch_ab.py
    --switch fold_hidden --steps, 100-200 rounds, median): the deep 20x100 net b32
    1.069x (2 threads), 1.043x (1 thread), b128 1.028x; the MLP b32 1.025x, b128
    1.010x, b512 0.999x."""
    return (L.kind == NODE_DENSE and L.trainable and L.need_dx and not dx_rows(B, L)
            and fold_hidden_on() and
            (nt == 1 or parts_for(<double>B * L.n_in * L.n_out, GEMM_MIN_WORK, nt, L.n_in) > 1))


cdef inline int fwd_parts(Py_ssize_t B, LayerDesc* L, int nt) noexcept nogil:
    """Parts of a dense layer's forward: rows (a narrow layer) or units; one row is a
    GEMV, bound by reading W, so worth sharing out from a smaller size."""
    cdef double work = <double>B * L.n_in * L.n_out
    if fwd_rows(B, L):
        return parts_for(work, GEMM_MIN_WORK, nt, B)
    return parts_for(work, GEMM_MIN_WORK if B > 1 else GEMV_MIN_WORK, nt, L.n_out)


cdef enum:
    ROW_COPY_MAX_B = TILE_TN_MIN_K - 1


cdef bint row_copy_on() noexcept nogil


cdef inline bint row_copies(StepState* p, Py_ssize_t B) noexcept nogil:
    """Whether a training step of B rows keeps a row-major copy of the hidden Dense
    outputs that Dense layers read, for their weight gradient. dW = A^T dZ reads A
    (column-major) transposed, and below TILE_TN_MIN_K rows OpenBLAS packs that GEMM
    whole; A B on the copy runs on its small kernels in pieces. The deep 20x100 net
    at batch 32: a hidden layer's weight gradient and bias took 6.5-7.6 us of its
    14 us backward phase; with the copy the phase takes 10-12 us and the forward
    phase that writes the copy 1 us more (4-5 us). Whole steps in one process,
    interleaved (benchmarks/lab/switch_ab.py --switch row_copy): deep b32 1.06-1.11x
    (SGD), 1.06x (Adam), MLP b32-b96 1.03-1.05x. Decided once per step (Plan._run), so the
    forward phase that writes the copies and the backward that reads them agree."""
    return (B <= ROW_COPY_MAX_B and not p.is_double and tn_packs(<int>B)
            and row_copy_on())


cdef inline bint row_copy(StepState* p, LayerDesc* L) noexcept nogil:
    """Whether node L has a row-major copy this step."""
    return p.row_copy and L.at >= 0


cdef inline Py_ssize_t row_copy_ld(LayerDesc* L) noexcept nogil:
    """The row length of a row-major copy: whole cache lines, so that every row
    starts on one and threads whose column blocks split at a multiple of 16 share
    no line (a split at 8 mod 16 shares one per row)."""
    return (L.n_out + 15) // 16 * 16


cdef inline bint rows_in_place(StepState* p) noexcept nogil:
    """Whether the rows are used in place: already the model dtype, and in order."""
    return p.idx == NULL and p.src_kind == (SRC_F64 if p.is_double else SRC_F32)


cdef inline int gather_parts(StepState* p, Py_ssize_t B, int nt) noexcept nogil:
    return parts_for(<double>B * p.n_features, 8192, nt, B)


cdef inline int softmax_parts(Py_ssize_t B, Py_ssize_t C, int nt) noexcept nogil:
    return parts_for(<double>B * C * 20, 40000, nt, B)


cdef void gather_part(StepState* p, floating* P, int t, int nt, Py_ssize_t start,
                      Py_ssize_t B, bint x_direct, int mode) noexcept nogil
cdef void prefetch_next(StepState* p, int t, int nt, Py_ssize_t start,
                        Py_ssize_t B) noexcept nogil
cdef void forward_part(StepState* p, floating* P, const floating* X, int l, int t, int nt,
                       Py_ssize_t B, int mode) noexcept nogil
cdef void softmax_part(StepState* p, floating* WS, int t, int nt, Py_ssize_t B,
                       int mode) noexcept nogil
cdef void loss_part(StepState* p, floating* WS, int t, int nt, Py_ssize_t B,
                    bint grad) noexcept nogil
cdef void activity_part(StepState* p, floating* WS, int t, int nt, Py_ssize_t B,
                        bint grad) noexcept nogil

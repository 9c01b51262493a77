"""The dispatcher: validate, convert, allocate, then call a compiled kernel.

Every function here has a pure-NumPy twin of the same name and signature in
:mod:`cydl._ops._reference`, which is the spec and the test oracle.

The kernels are built without bounds checks, so every index, length and buffer is
checked before one runs: here, or in the kernel's entry point before it releases the
GIL where a C loop is cheaper than NumPy (row indices, labels). Bad arguments raise
ValueError or TypeError; none may crash the process (tests/test_hostile_ops.py).

Layout: 2-D activations and gradients are column-major, i.e. Fortran-ordered
``(batch, units)`` arrays, and dense kernels are Fortran-ordered ``(n_in, n_out)``
arrays. With the batch as BLAS's leading dimension, OpenBLAS runs the shapes of
small-batch training about 30% faster than with row-major activations. Inputs may come in
either order; outputs this module allocates are Fortran-ordered.
"""
import operator

import numpy as np

from cydl import _config
from cydl._kernels import _activations, _data, _dense, _losses, _optim
from cydl._ops import _blas_threads

_blas_threads.bind()

ACTIVATIONS = dict(_activations.NAMES)
LOSS_KINDS = dict(_losses.NAMES)
ACC_MODES = dict(_losses.ACC_MODES)
OPTIMIZER_KINDS = dict(_optim.KINDS)
UpdateRule = _optim.UpdateRule
# Keras' defaults for the activations that take a parameter.
DEFAULT_ALPHA = {"elu": 1.0, "leaky_relu": 0.2}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_GATHER_SOURCES = (np.dtype(np.uint8),) + _FLOATS
# More threads than this buy nothing, and asking OpenMP for millions of them can
# abort the process; the fused kernels cap at the same count.
MAX_THREADS = 256
_INT32_MAX = 2 ** 31 - 1


def resolve_threads(n_threads=None):
    """n_threads if given (validated), else the process-wide setting."""
    if n_threads is None:
        return _config.get_num_threads()
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) \
            or n_threads < 1:
        raise ValueError(f"n_threads must be a positive int. Received: n_threads={n_threads!r}")
    return min(int(n_threads), MAX_THREADS)


def activation_code(activation):
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown activation: {activation!r}. Known: "
                         f"{', '.join(sorted(ACTIVATIONS))}") from None


def _alpha(activation, alpha):
    return float(DEFAULT_ALPHA.get(activation, 0.0) if alpha is None else alpha)


def activation_needs_z(activation, alpha=None):
    """Whether the backward pass needs the pre-activation as well as the output."""
    return bool(_activations.needs_z(activation_code(activation), _alpha(activation, alpha)))


def _float_array(x, name, dtype=None):
    x = np.asarray(x)
    if dtype is None:
        dtype = x.dtype if x.dtype in _FLOATS else np.dtype(_config.floatx())
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric. Received dtype={x.dtype}")
    return x.astype(dtype, copy=False)


def _contiguous_2d(x, name, dtype):
    x = _float_array(x, name, dtype)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D. Received shape={x.shape}")
    if not (x.flags.c_contiguous or x.flags.f_contiguous):
        x = np.ascontiguousarray(x)
    return x


def _fortran(x, name, dtype):
    x = _float_array(x, name, dtype)
    return np.asfortranarray(x)


def _check_buffer(buf, shape, dtype, name, order):
    """buf, if it is a writable ndarray of this shape and dtype; order "F" or "C" also
    demands that contiguity, None takes any strides (the kernel reads them)."""
    if not isinstance(buf, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array. Received: {type(buf).__name__}")
    layout_ok = order is None or (buf.flags.f_contiguous if order == "F"
                                  else buf.flags.c_contiguous)
    if buf.shape != tuple(shape) or buf.dtype != dtype or not layout_ok:
        kind = {"F": "Fortran-ordered ", "C": "contiguous "}.get(order, "")
        raise ValueError(f"{name} must be a {kind}{np.dtype(dtype)} array of shape "
                         f"{tuple(shape)}. Received shape={buf.shape}, dtype={buf.dtype}"
                         + ("" if layout_ok else ", other memory order"))
    if not buf.flags.writeable:
        raise ValueError(f"{name} is read-only; it must be writable")
    return buf


def _check_out(out, shape, dtype, name):
    if out is None:
        return np.empty(shape, dtype=dtype, order="F")
    return _check_buffer(out, shape, dtype, name, "F")


def _index(value, name):
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int. Received: {name}={value!r}") from None


def dense_forward(X, W, b=None, activation="linear", alpha=None, *, out=None, z_out=None,
                  n_threads=None):
    """A := act(X W + b); Z := X W + b is written to z_out when given.

    Shapes: X (B, n_in), W (n_in, n_out), b (n_out,), A and Z (B, n_out).
    """
    W = _fortran(W, "W", None)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D. Received shape={W.shape}")
    dtype = W.dtype
    X = _contiguous_2d(X, "X", dtype)
    if X.shape[1] != W.shape[0]:
        raise ValueError(f"X has {X.shape[1]} features but W has shape {W.shape}")
    n_out = W.shape[1]
    if b is not None:
        b = np.ascontiguousarray(_float_array(b, "b", dtype))
        if b.shape != (n_out,):
            raise ValueError(f"b must have shape ({n_out},). Received {b.shape}")
    code = activation_code(activation)
    A = _check_out(out, (X.shape[0], n_out), dtype, "out")
    Z = A if z_out is None else _check_out(z_out, A.shape, dtype, "z_out")
    _dense.dense_forward(X, W, b, Z, A, code, _alpha(activation, alpha),
                         resolve_threads(n_threads))
    return A


def dense_backward(dA, X, W, A, Z=None, activation="linear", alpha=None, *, dW_out=None,
                   db_out=None, dX_out=None, need_dX=True, need_dW=True, use_bias=True,
                   accumulate=False, n_threads=None):
    """Gradients of a dense layer: returns (dW, db, dX).

    dZ = dA * act'(.); dW (+)= X^T dZ; db (+)= sum_rows dZ; dX = dZ W^T. With
    accumulate=True, dW and db are added to dW_out and db_out. need_dW=False (a
    frozen layer) and need_dX=False (the first layer) skip those parts, which then
    come back as None. dA is not modified.
    """
    W = _fortran(W, "W", None)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D. Received shape={W.shape}")
    dtype = W.dtype
    X = _contiguous_2d(X, "X", dtype)
    B, n_in, n_out = X.shape[0], W.shape[0], W.shape[1]
    dA = _fortran(dA, "dA", dtype)
    A = _fortran(A, "A", dtype)
    if X.shape[1] != n_in or dA.shape != (B, n_out) or A.shape != (B, n_out):
        raise ValueError(f"Inconsistent shapes: X {X.shape}, W {W.shape}, dA {dA.shape}, "
                         f"A {A.shape}")
    code = activation_code(activation)
    if Z is not None:
        Z = _fortran(Z, "Z", dtype)
        if Z.shape != (B, n_out):
            raise ValueError(f"Z must have shape {(B, n_out)} like A. Received {Z.shape}")
    elif activation_needs_z(activation, alpha):
        raise ValueError(f"activation {activation!r} needs Z for its gradient")
    dW = db = None
    if need_dW:
        dW = _check_out(dW_out, (n_in, n_out), dtype, "dW_out")
    if need_dW and use_bias:
        db = np.empty(n_out, dtype) if db_out is None else \
            _check_buffer(db_out, (n_out,), dtype, "db_out", "C")
    if accumulate and (dW_out is None or (use_bias and db_out is None)):
        raise ValueError("accumulate=True needs dW_out (and db_out)")
    dX = _check_out(dX_out, (B, n_in), dtype, "dX_out") if need_dX else None
    dZ = np.empty((B, n_out), dtype, order="F")
    _dense.dense_backward(dA, X, W, A, Z, dZ, dW, db, dX, code, _alpha(activation, alpha),
                          accumulate, resolve_threads(n_threads))
    return dW, db, dX


def activation_forward(Z, activation="relu", alpha=None, *, out=None, n_threads=None):
    """A := act(Z) elementwise; softmax along the last axis. Z may have any shape and
    strides. Returns a new array of Z's shape (a matrix keeps Z's memory order), or
    out, which may be Z itself."""
    code = activation_code(activation)
    Z = _float_array(Z, "Z")
    Z2 = _as_matrix(Z, code)
    A2, A = _out_matrix(out, Z.shape, Z2, (Z,), "out")
    _activations.activation_forward(Z2, A2, code, _alpha(activation, alpha),
                                    resolve_threads(n_threads))
    return _from_matrix(A2, A, Z.shape)


def activation_backward(dA, A, Z=None, activation="relu", alpha=None, *, out=None,
                        n_threads=None):
    """dZ := dA * act'(Z) (softmax: the row-wise Jacobian-vector product). The
    operands may each have any strides; the result is laid out like A, or is out,
    which may be dA itself."""
    code = activation_code(activation)
    A = _float_array(A, "A")
    dA = _float_array(dA, "dA", A.dtype)
    if dA.shape != A.shape:
        raise ValueError(f"dA {dA.shape} and A {A.shape} differ in shape")
    if Z is None and activation_needs_z(activation, alpha):
        raise ValueError(f"activation {activation!r} needs Z for its gradient")
    A2, dA2 = _as_matrix(A, code), _as_matrix(dA, code)
    Z2 = None
    if Z is not None:
        Z = _float_array(Z, "Z", A.dtype)
        if Z.shape != A.shape:
            raise ValueError(f"Z {Z.shape} and A {A.shape} differ in shape")
        Z2 = _as_matrix(Z, code)
    dZ2, dZ = _out_matrix(out, A.shape, A2, (dA, A, Z), "out")
    _activations.activation_backward(dA2, A2, Z2, dZ2, code, _alpha(activation, alpha),
                                     resolve_threads(n_threads))
    return _from_matrix(dZ2, dZ, A.shape)


def _as_matrix(x, code):
    """x as a 2-D view (rows, cols) that the activation kernels read in place, whatever
    its strides (they honour each operand's own). Softmax needs rows = everything but
    the last axis; for the elementwise ones any index map works as long as every
    operand of a call gets the same one, which this function guarantees by mapping
    from the logical shape alone. A copy happens only for N-D arrays that NumPy cannot
    reshape in place."""
    if code == ACTIVATIONS["softmax"] and x.ndim < 1:
        raise ValueError("softmax needs at least one axis")
    if x.ndim == 2:
        return x
    if x.ndim == 0:
        return x.reshape(1, 1)
    if x.ndim == 1:
        return x[None, :] if code == ACTIVATIONS["softmax"] else x[:, None]
    return x.reshape(int(np.prod(x.shape[:-1])), x.shape[-1])


def _out_matrix(out, shape, like, inputs, name):
    """(the matrix the kernel writes, the array returned). Without out: a new matrix
    in like's memory order. With out: out itself when its matrix view is out's own
    memory and it is an input itself or overlaps none, else a scratch matrix that
    _from_matrix copies into out."""
    # the order in which like's elements lie closer together
    order = "F" if abs(like.strides[0]) <= abs(like.strides[1]) and like.shape[0] > 1 \
        else "C"
    if out is None:
        return np.empty(like.shape, like.dtype, order=order), None
    _check_buffer(out, shape, like.dtype, name, None)
    view = out.reshape(like.shape) if out.ndim != 2 else out
    in_place = np.may_share_memory(view, out) and all(
        x is None or not np.may_share_memory(out, x) or _same_view(out, x) for x in inputs)
    if in_place:
        return view, out
    return np.empty(like.shape, like.dtype, order=order), out


def _same_view(x, y):
    return x.__array_interface__["data"][0] == y.__array_interface__["data"][0] and \
        x.strides == y.strides and x.shape == y.shape


def _from_matrix(res, out, shape):
    if out is None:
        return res if res.shape == shape else res.reshape(shape)
    if not np.may_share_memory(res, out):
        out[...] = res.reshape(shape)
    return out


def loss_forward_backward(kind, y_pred, y_true, sample_weight=None, *, acc_mode="none",
                          param=1.0, thresh=0.5, grad_out=None, want_grad=True,
                          stats_out=None, n_threads=None, label_smoothing=0.0):
    """(stats, grad) of a loss on a batch, with grad = d mean_loss / d y_pred.

    stats = [sum of per-sample losses (weighted), accuracy hits, sum of per-sample
    mean |error|, sum of per-sample mean error^2]. Sparse kinds take integer labels
    (B,) in [0, C). `label_smoothing` (cross-entropy kinds only, in [0, 1]) smooths the
    targets as Keras does: t (1 - ls) + ls / C, or + ls / 2 for the binary kinds; the
    accuracy statistic counts against the unsmoothed targets.
    """
    code = _lookup(LOSS_KINDS, kind, "loss kind")
    acc = _lookup(ACC_MODES, acc_mode, "acc_mode")
    sparse = kind.startswith("sparse")
    smooth = check_label_smoothing(label_smoothing)
    if smooth and kind in ("mse", "mae", "huber"):
        raise ValueError(f"label_smoothing applies to the cross-entropies only; loss kind "
                         f"{kind!r} received label_smoothing={label_smoothing!r}")
    if (acc_mode == "sparse") != sparse and acc_mode != "none":
        raise ValueError(f"acc_mode {acc_mode!r} does not go with loss kind {kind!r}: "
                         f"'sparse' needs integer labels, the others dense targets")
    P = _contiguous_2d(y_pred, "y_pred", None)
    dtype = P.dtype
    B, C = P.shape
    if C == 0 and B > 0:
        raise ValueError(f"y_pred must have at least one column. Received shape={P.shape}")
    labels = Y = None
    if sparse:
        y = np.asarray(y_true)
        if y.size != B:
            raise ValueError(f"{y.size} labels for {B} predictions")
        if y.dtype == np.int32:
            labels = np.ascontiguousarray(y.reshape(-1))   # the kernel checks the range
        else:
            labels, bad = labels_to_int32(y, max(C, 1))
            if bad >= 0:
                raise ValueError(f"Received a label value of {y.reshape(-1)[bad]} (at "
                                 f"index {bad}), outside the valid range [0, {C})")
    else:
        Y = _contiguous_2d(y_true, "y_true", dtype)
        if Y.shape != P.shape:
            raise ValueError(f"y_true {Y.shape} and y_pred {P.shape} differ in shape")
    sw = None
    if sample_weight is not None:
        sw = np.ascontiguousarray(sample_weight, dtype=dtype).reshape(-1)
        if sw.shape[0] != B:
            raise ValueError(f"{sw.shape[0]} sample weights for {B} samples")
    G = None
    if want_grad:
        G = np.empty((B, C), dtype, order="F") if grad_out is None else \
            _check_buffer(grad_out, (B, C), dtype, "grad_out", None)
    stats = np.zeros(4) if stats_out is None else \
        _check_buffer(stats_out, (4,), np.float64, "stats_out", "C")
    _losses.loss_forward_backward(code, acc, float(param), float(thresh),
                                  P, labels, Y, sw, G, 1.0 / max(B, 1), stats,
                                  resolve_threads(n_threads), smooth)
    return stats, G


def check_label_smoothing(value):
    """label_smoothing as a float in [0, 1], or a ValueError/TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                          np.floating)):
        raise TypeError(f"label_smoothing must be a number in [0, 1]. Received: "
                        f"label_smoothing={value!r} of type {type(value).__name__}")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1]. Received: "
                         f"label_smoothing={value!r}")
    return value


def optimizer_step(rule, params, grads, slots=(), n_threads=None):
    """One fused update of `params` in place from `grads` (1-D buffers) and the
    optimizer's slot buffers, by the UpdateRule's formula. Returns the L1/L2 penalty
    of the weights before the update (UpdateRule.set_penalties; 0 without one)."""
    if not isinstance(rule, UpdateRule):
        raise TypeError(f"rule must be an UpdateRule. Received: {type(rule).__name__}")
    slots = list(slots)
    if len(slots) > 3:
        raise ValueError(f"at most 3 slots. Received {len(slots)} slots")
    s = slots + [None] * (3 - len(slots))
    try:
        # apply() itself checks lengths and required slots before it writes anything
        rule.apply(params, grads, s[0], s[1], s[2], resolve_threads(n_threads))
    except (TypeError, ValueError):
        _explain_buffers(params, grads, slots)    # a clearer message, if it finds one
        raise
    return rule.penalty()


def _explain_buffers(params, grads, slots):
    if not isinstance(params, np.ndarray) or params.dtype not in _FLOATS:
        raise TypeError(f"params must be a float32 or float64 array. Received: "
                        f"{getattr(params, 'dtype', type(params).__name__)}")
    n = params.shape
    if params.ndim != 1 or not params.flags.c_contiguous:
        raise ValueError(f"params must be a contiguous 1-D buffer. Received shape={n}")
    _check_buffer(params, n, params.dtype, "params", "C")
    if not isinstance(grads, np.ndarray) or grads.dtype != params.dtype or grads.shape != n \
            or not grads.flags.c_contiguous:
        raise ValueError(f"grads must be a contiguous {params.dtype} buffer of shape {n} "
                         f"like params")
    for k, s in enumerate(slots):
        if s is not None:
            _check_buffer(s, n, params.dtype, f"slot {k + 1}", "C")


def gather_rows(X, idx, start, stop, out, n_threads=None):
    """out[:stop-start] = X[idx[start:stop]] (X[start:stop] if idx is None), cast to
    out's dtype. X: C-ordered 2-D float32, float64 or uint8; idx: int64."""
    try:
        # the kernel checks start, stop, out's size and every index before it reads
        _data.gather_rows(X, idx, start, stop, out, resolve_threads(n_threads))
    except (TypeError, ValueError, OverflowError):
        _explain_gather(X, idx, start, stop, out)    # a clearer message, if it finds one
        raise
    return out


def _explain_gather(X, idx, start, stop, out):
    if not isinstance(X, np.ndarray) or X.dtype not in _GATHER_SOURCES:
        raise TypeError(f"X must be a uint8, float32 or float64 array. Received: "
                        f"{getattr(X, 'dtype', type(X).__name__)}")
    if X.ndim != 2 or not X.flags.c_contiguous:
        raise ValueError(f"X must be a C-ordered 2-D array. Received shape={X.shape}")
    if not isinstance(out, np.ndarray) or out.dtype not in _FLOATS:
        raise TypeError(f"out must be a float32 or float64 array. Received: "
                        f"{getattr(out, 'dtype', type(out).__name__)}")
    start, stop = _index(start, "start"), _index(stop, "stop")
    limit, what = X.shape[0], "rows of X"
    if idx is not None:
        if not isinstance(idx, np.ndarray) or idx.dtype != np.int64 or idx.ndim != 1 \
                or not idx.flags.c_contiguous:
            raise TypeError(f"idx must be a contiguous 1-D int64 array. Received: "
                            f"{getattr(idx, 'dtype', type(idx).__name__)} "
                            f"{getattr(idx, 'shape', '')}")
        limit, what = idx.shape[0], "entries of idx"
    if not 0 <= start <= stop <= limit:
        raise ValueError(f"Need 0 <= start <= stop <= {limit} ({what}). Received "
                         f"start={start}, stop={stop}")
    if out.ndim != 2 or out.shape[0] < stop - start or out.shape[1] != X.shape[1]:
        raise ValueError(f"out must have at least {stop - start} rows and {X.shape[1]} "
                         f"columns. Received shape={out.shape}")
    _check_buffer(out, out.shape, out.dtype, "out", "C")


def first_nonfinite(x, n_threads=None):
    """Flat index of the first NaN or inf in x, or -1."""
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        return -1
    if x.dtype not in _FLOATS:
        x = x.astype(np.float64)
    flat = x.reshape(-1) if x.flags.c_contiguous else np.ascontiguousarray(x).reshape(-1)
    return _data.first_nonfinite(flat, resolve_threads(n_threads))


def labels_to_int32(y, n_classes):
    """(labels as int32, index of the first label outside [0, n_classes) or -1)."""
    n_classes = _index(n_classes, "n_classes")
    if not 1 <= n_classes <= _INT32_MAX:
        raise ValueError(f"n_classes must be in [1, {_INT32_MAX}]. Received: "
                         f"n_classes={n_classes}")
    y = np.ascontiguousarray(np.asarray(y).reshape(-1))
    if y.dtype.kind == "f":
        if y.size and not np.array_equal(y, np.floor(y)):
            raise ValueError("sparse labels must be integers")
        y = y.astype(np.int64)
    elif y.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        y = y.astype(np.int64)
    out = np.empty(y.shape[0], np.int32)
    bad = _data.labels_to_int32(y, n_classes, out)
    return out, bad


def _lookup(table, key, what):
    try:
        return table[key]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown {what} {key!r}. Known: {sorted(table)}") from None


_THREAD_MEMO = None


def make_fast_call(plan, sample_shape, out_shape, lock, store, max_rows, tapes):
    """The one-call latency path of model(x) on a compiled Plan (see
    cydl/_kernels/_predict.pyx): fast(x) returns the output, or None where the
    general path must answer (tapes: the thread-local holding the recording tape)."""
    global _THREAD_MEMO
    from cydl._kernels._predict import FastCall, ThreadMemo
    if _THREAD_MEMO is None:
        _THREAD_MEMO = ThreadMemo(_config.get_num_threads, vars(_config),
                                  _config._ENV_DICT, _config._ENV_KEY)
    return FastCall(plan, sample_shape, lock, store, max_rows, _THREAD_MEMO, tapes,
                    out_shape)


def make_plan(layers, params, grads, n_trainable, n_features, outputs, inputs=None):
    """Compile a graph of nodes and its losses into one whole-step kernel.

    Args:
        layers: node dicts in topological order: kind (see cydl.models._lowering),
            src (the node indices it reads, or -1 - k for model input k; default:
            the node before, or the input), n_in, n_out, activation, alpha,
            trainable, and the offsets of the node's parameters in the flat buffers
            (w / b, m / v; -1: none), plus the kind's constants.
        params, grads: the model's flat buffers (1-D, float32 or float64).
        n_trainable: the first n_trainable entries are what the optimizer updates.
        n_features: the width of the combined input row.
        outputs: dicts with node, loss (a kind from LOSS_KINDS), and optionally
            acc_mode, on_logits, param, thresh, weight and smooth (label smoothing).
        A layer dict may carry ar_l1 / ar_l2: an activity regularizer on the node's
        output (Plan.activity then holds each one's penalty sum after a step).
        inputs: (offset, width) of each model input in the combined row (default:
            one input, the whole row).

    Names are resolved here; Plan() itself checks sizes, offsets, sources and buffers.
    """
    from cydl._kernels import _fused
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(f"layers must be a non-empty list of layer dicts. Received: "
                         f"{layers!r}")
    if not isinstance(outputs, (list, tuple)) or not outputs:
        raise ValueError(f"outputs must be a non-empty list of output dicts. Received: "
                         f"{outputs!r}")
    specs = []
    for i, layer in enumerate(layers):
        missing = [k for k in ("n_in", "n_out", "activation", "trainable") if k not in layer]
        if missing:
            raise ValueError(f"layer {i} is missing {', '.join(map(repr, missing))}")
        code = activation_code(layer["activation"])
        alpha = _alpha(layer["activation"], layer.get("alpha"))
        spec = dict(layer, act=code, alpha=alpha,
                    n_in=_index(layer["n_in"], "n_in"), n_out=_index(layer["n_out"], "n_out"),
                    keep_z=bool(_activations.needs_z(code, alpha)))
        for key in ("w", "b", "m", "v"):
            spec[key] = _index(layer.get(key, -1), key)
        specs.append(spec)
    outs = []
    for k, o in enumerate(outputs):
        if "node" not in o:
            raise ValueError(f"output {k} is missing 'node'")
        outs.append(dict(o, node=_index(o["node"], "node"),
                         loss_kind=_lookup(LOSS_KINDS, o.get("loss", "mse"), "loss kind"),
                         acc_mode=_lookup(ACC_MODES, o.get("acc_mode", "none"), "acc_mode")))
    n_features = _index(n_features, "n_features")
    return _fused.Plan(specs, params, grads, _index(n_trainable, "n_trainable"), n_features,
                       outs, [(0, n_features)] if inputs is None else list(inputs))



from cydl._ops._nodes import *  # noqa: E402,F401,F403  (batch norm, dropout, PReLU)

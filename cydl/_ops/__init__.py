"""The dispatcher: validate, convert, allocate, then call a compiled kernel.

Every function here has a pure-NumPy twin of the same name and signature in
:mod:`cydl._ops._reference`, which is the spec and the test oracle.

Layout: 2-D activations and gradients are column-major, i.e. Fortran-ordered
``(batch, units)`` arrays, and dense kernels are Fortran-ordered ``(n_in, n_out)``
arrays. With the batch as BLAS's leading dimension, OpenBLAS runs the shapes of
small-batch training about 30% faster than with row-major activations. Inputs may come in
either order; outputs this module allocates are Fortran-ordered.
"""
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


def resolve_threads(n_threads=None):
    """n_threads if given (validated), else the process-wide setting."""
    if n_threads is None:
        return _config.get_num_threads()
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) \
            or n_threads < 1:
        raise ValueError(f"n_threads must be a positive int. Received: n_threads={n_threads!r}")
    return int(n_threads)


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


def _check_out(out, shape, dtype, name):
    if out is None:
        return np.empty(shape, dtype=dtype, order="F")
    if out.shape != tuple(shape) or out.dtype != dtype or not out.flags.f_contiguous:
        raise ValueError(f"{name} must be a Fortran-ordered {dtype} array of shape "
                         f"{tuple(shape)}. Received shape={out.shape}, dtype={out.dtype}")
    return out


def dense_forward(X, W, b=None, activation="linear", alpha=None, *, out=None, z_out=None,
                  n_threads=None):
    """A := act(X W + b); Z := X W + b is written to z_out when given.

    Shapes: X (B, n_in), W (n_in, n_out), b (n_out,), A and Z (B, n_out).
    """
    W = _fortran(W, "W", None)
    dtype = W.dtype
    X = _contiguous_2d(X, "X", dtype)
    if W.ndim != 2 or X.shape[1] != W.shape[0]:
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
    elif activation_needs_z(activation, alpha):
        raise ValueError(f"activation {activation!r} needs Z for its gradient")
    dW = db = None
    if need_dW:
        dW = _check_out(dW_out, (n_in, n_out), dtype, "dW_out")
    if need_dW and use_bias:
        db = db_out if db_out is not None else np.empty(n_out, dtype)
        if db.shape != (n_out,) or db.dtype != dtype:
            raise ValueError(f"db_out must be a {dtype} array of shape ({n_out},)")
    if accumulate and (dW_out is None or (use_bias and db_out is None)):
        raise ValueError("accumulate=True needs dW_out (and db_out)")
    dX = _check_out(dX_out, (B, n_in), dtype, "dX_out") if need_dX else None
    dZ = np.empty((B, n_out), dtype, order="F")
    _dense.dense_backward(dA, X, W, A, Z, dZ, dW, db, dX, code, _alpha(activation, alpha),
                          accumulate, resolve_threads(n_threads))
    return dW, db, dX


def activation_forward(Z, activation="relu", alpha=None, *, out=None, n_threads=None):
    """A := act(Z) elementwise; softmax along the last axis. Returns a new array of
    Z's shape (Fortran-ordered when Z is a Fortran-ordered matrix)."""
    code = activation_code(activation)
    Z = _float_array(Z, "Z")
    Z2 = _as_matrix(Z, code)
    A2 = np.empty(Z2.shape, Z2.dtype, order="F") if out is None else out
    _activations.activation_forward(Z2, A2, code, _alpha(activation, alpha),
                                    resolve_threads(n_threads))
    return A2 if A2.shape == Z.shape else A2.reshape(Z.shape)


def activation_backward(dA, A, Z=None, activation="relu", alpha=None, *, out=None,
                        n_threads=None):
    """dZ := dA * act'(Z) (softmax: the row-wise Jacobian-vector product)."""
    code = activation_code(activation)
    A = _float_array(A, "A")
    dA = _float_array(dA, "dA", A.dtype)
    if dA.shape != A.shape:
        raise ValueError(f"dA {dA.shape} and A {A.shape} differ in shape")
    if Z is None and activation_needs_z(activation, alpha):
        raise ValueError(f"activation {activation!r} needs Z for its gradient")
    A2, dA2 = _as_matrix(A, code), _as_matrix(dA, code)
    Z2 = _as_matrix(_float_array(Z, "Z", A.dtype), code) if Z is not None else None
    dZ2 = np.empty(A2.shape, A2.dtype, order="F") if out is None else out
    _activations.activation_backward(dA2, A2, Z2, dZ2, code, _alpha(activation, alpha),
                                     resolve_threads(n_threads))
    return dZ2 if dZ2.shape == A.shape else dZ2.reshape(A.shape)


def _as_matrix(x, code):
    """A Fortran (rows, cols) view or copy of x. Softmax needs rows = samples; the
    elementwise activations take any contiguous array as a single column."""
    if code == ACTIVATIONS["softmax"]:
        if x.ndim < 1:
            raise ValueError("softmax needs at least one axis")
        return np.asfortranarray(x.reshape(-1, x.shape[-1]))
    if x.ndim == 2 and x.flags.f_contiguous:
        return x
    return np.ascontiguousarray(x).reshape(-1, 1)


def loss_forward_backward(kind, y_pred, y_true, sample_weight=None, *, acc_mode="none",
                          param=1.0, thresh=0.5, grad_out=None, want_grad=True,
                          stats_out=None, n_threads=None):
    """(stats, grad) of a loss on a batch, with grad = d mean_loss / d y_pred.

    stats = [sum of per-sample losses (weighted), accuracy hits, sum of per-sample
    mean |error|, sum of per-sample mean error^2]. Sparse kinds take integer labels
    (B,) already checked to lie in [0, C).
    """
    try:
        code = LOSS_KINDS[kind]
    except KeyError:
        raise ValueError(f"Unknown loss kind {kind!r}. Known: {sorted(LOSS_KINDS)}") from None
    P = _contiguous_2d(y_pred, "y_pred", None)
    dtype = P.dtype
    B, C = P.shape
    labels = Y = None
    if kind.startswith("sparse"):
        labels = np.ascontiguousarray(y_true, dtype=np.int32).reshape(-1)
        if labels.shape[0] != B:
            raise ValueError(f"{labels.shape[0]} labels for {B} predictions")
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
        G = np.empty((B, C), dtype, order="F") if grad_out is None else grad_out
    stats = np.zeros(4) if stats_out is None else stats_out
    _losses.loss_forward_backward(code, ACC_MODES[acc_mode], float(param), float(thresh),
                                  P, labels, Y, sw, G, 1.0 / max(B, 1), stats,
                                  resolve_threads(n_threads))
    return stats, G


def optimizer_step(rule, params, grads, slots=(), n_threads=None):
    """One fused update of `params` in place from `grads` (1-D buffers) and the
    optimizer's slot buffers, by the UpdateRule's formula."""
    if params.dtype != grads.dtype or params.shape != grads.shape:
        raise ValueError("params and grads must share dtype and shape")
    s = list(slots) + [None] * (3 - len(slots))
    rule.apply(params, grads, s[0], s[1], s[2], resolve_threads(n_threads))


def gather_rows(X, idx, start, stop, out, n_threads=None):
    """out[:stop-start] = X[idx[start:stop]] (X[start:stop] if idx is None), cast to
    out's dtype. X: C-ordered 2-D float32, float64 or uint8."""
    _data.gather_rows(X, idx, start, stop, out, resolve_threads(n_threads))
    return out


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
    y = np.ascontiguousarray(np.asarray(y).reshape(-1))
    if y.dtype.kind == "f":
        if y.size and not np.array_equal(y, np.floor(y)):
            raise ValueError("sparse labels must be integers")
        y = y.astype(np.int64)
    elif y.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        y = y.astype(np.int64)
    out = np.empty(y.shape[0], np.int32)
    bad = _data.labels_to_int32(y, int(n_classes), out)
    return out, bad


def make_plan(layers, params, grads, n_trainable, n_features, outputs, inputs=None):
    """Compile a graph of nodes and its losses into one whole-step kernel.

    Args:
        layers: node dicts in topological order: kind, src (the node indices it
            reads, or -1 - k for model input k; default: the node before, or the
            input), n_in, n_out, activation, alpha, trainable, and the offsets of
            the node's parameters in the flat buffers (w / b, m / v; -1: none).
        params, grads: the model's flat buffers (1-D, float32 or float64).
        n_trainable: the first n_trainable entries are what the optimizer updates.
        n_features: the width of the combined input row.
        outputs: dicts with node, loss (a kind from LOSS_KINDS), and optionally
            acc_mode, on_logits, param, thresh and weight.
        inputs: (offset, width) of each model input in the combined row (default:
            one input, the whole row).
    """
    from cydl._kernels import _fused
    if params.ndim != 1 or grads.shape != params.shape or grads.dtype != params.dtype \
            or params.dtype not in _FLOATS or not params.flags.c_contiguous \
            or not grads.flags.c_contiguous:
        raise ValueError("params and grads must be contiguous 1-D float buffers alike")
    inputs = [(0, int(n_features))] if inputs is None else [(int(o), int(w)) for o, w in inputs]
    for off, w in inputs:
        if off < 0 or w <= 0 or off + w > n_features:
            raise ValueError(f"input columns [{off}, {off + w}) outside the {n_features}-wide row")
    specs, readers = [], [0] * len(layers)
    for i, layer in enumerate(layers):
        code = activation_code(layer["activation"])
        kind = int(layer.get("kind", 0))
        src = [int(s) for s in layer.get("src", [i - 1 if i else -1])]
        if not 1 <= len(src) <= 8 or any(s >= i or s < -len(inputs) for s in src) or \
                (kind < 5 and len(src) != 1):
            raise ValueError(f"layer {i}: sources {src} must be earlier nodes or inputs")
        widths = [layers[s]["n_out"] if s >= 0 else inputs[-1 - s][1] for s in src]
        n_in, n_out = int(layer["n_in"]), int(layer["n_out"])
        if kind not in range(12):
            raise ValueError(f"layer {i}: unknown node kind {kind}")
        if kind == 5:
            ok = n_in == n_out == sum(widths)
        elif kind > 5:
            ok = len(src) >= 2 and all(w == n_out for w in widths) and n_in == n_out
        else:
            ok = widths[0] == n_in and (kind == 0 or n_in == n_out)
        if not ok:
            raise ValueError(f"layer {i} ({n_in} -> {n_out}) does not fit its sources' "
                             f"widths {widths}")
        for s in src:
            if s >= 0:
                readers[s] += 1
        sizes = {"w": n_in * n_out if kind == 0 else n_out, "b": n_out, "m": n_out,
                 "v": n_out}
        offsets = {k: int(layer.get(k, -1)) for k in sizes}
        for k, size in sizes.items():
            if offsets[k] >= 0 and offsets[k] + size > params.size:
                raise ValueError(f"layer {i}: offset {k}={offsets[k]} outside the "
                                 f"parameter buffer")
        if kind == 0 and offsets["w"] < 0:
            raise ValueError(f"layer {i}: a Dense node needs its kernel offset")
        if kind in (1, 4) and (offsets["m"] < 0 or offsets["v"] < 0):
            raise ValueError(f"layer {i}: the node needs its statistics' offsets")
        if kind == 3 and offsets["w"] < 0:
            raise ValueError(f"layer {i}: a PReLU node needs its slopes' offset")
        if layer["trainable"] and any(offsets[k] >= 0 and offsets[k] + sizes[k] > n_trainable
                                      for k in ("w", "b")):
            raise ValueError(f"layer {i} is trainable but outside the trainable region")
        counter = layer.get("counter")
        if kind == 2 and (not isinstance(counter, np.ndarray) or counter.dtype != np.uint64
                          or counter.shape != (1,)):
            raise ValueError(f"layer {i}: a dropout node needs a uint64[1] counter")
        alpha = _alpha(layer["activation"], layer.get("alpha"))
        grad_srcs = [s for s in src if s >= 0 and specs[s]["needs_bwd"]]
        specs.append({"kind": kind, "src": src, "n_in": n_in, "n_out": n_out, "act": code,
                      "alpha": alpha, "trainable": bool(layer["trainable"]), **offsets,
                      "need_dx": bool(grad_srcs),
                      "needs_bwd": bool(layer["trainable"]) or bool(grad_srcs),
                      "accum": False, "out": -1,
                      "eps": float(layer.get("eps", 0.0)),
                      "momentum": float(layer.get("momentum", 0.0)),
                      "ka": float(layer.get("ka", 1.0)), "kb": float(layer.get("kb", 0.0)),
                      "kc": float(layer.get("kc", 0.0)), "seed": int(layer.get("seed", 0)),
                      "thr": int(layer.get("thr", 0)), "counter": counter,
                      "keep_z": bool(_activations.needs_z(code, alpha))})
    outs = []
    for k, o in enumerate(outputs):
        node = int(o["node"])
        if not 0 <= node < len(specs) or specs[node]["out"] >= 0 or readers[node]:
            raise ValueError(f"output {k}: node {node} must be a node that nothing else "
                             f"reads, and an output once")
        specs[node]["out"] = k
        loss = o.get("loss", "mse")
        if loss not in LOSS_KINDS:
            raise ValueError(f"output {k}: unknown loss kind {loss!r}")
        outs.append({"node": node, "loss_kind": LOSS_KINDS[loss],
                     "acc_mode": ACC_MODES[o.get("acc_mode", "none")],
                     "on_logits": bool(o.get("on_logits", False)),
                     "param": float(o.get("param", 0.0)), "thresh": float(o.get("thresh", 0.5)),
                     "weight": float(o.get("weight", 1.0)), "sparse": loss.startswith("sparse")})
    for i, spec in enumerate(specs):
        if spec["act"] == ACTIVATIONS["softmax"] and spec["out"] < 0:
            raise ValueError(f"layer {i}: softmax is supported on output nodes only")
        spec["accum"] = readers[i] > 1      # several readers add their gradients
    return _fused.Plan(specs, params, grads, int(n_trainable), int(n_features), outs, inputs)

from cydl._ops._nodes import *  # noqa: E402,F401,F403  (batch norm, dropout, PReLU)

"""The checks a Plan's specs pass before any kernel sees them: every index, size,
offset and source of the graph's nodes, the outputs' loss codes, and the buffers the
kernels will read through raw pointers. The backward-pass flags (need_dx, needs_bwd,
accum, out) are derived here, never taken from the caller."""
from libc.limits cimport INT_MAX
from libc.math cimport isfinite
from cydl._kernels._activations cimport ACT_SOFTMAX, N_ACTIVATIONS, act_needs_z
from cydl._kernels._losses cimport (LOSS_SPARSE_SOFTMAX_CE, LOSS_SPARSE_CE_PROB, LOSS_HUBER,
                                    LOSS_BCE_PROB, ACC_SPARSE, ACC_CATEGORICAL, ACC_BINARY)
from cydl._kernels._phases cimport (NODE_DENSE, NODE_BN, NODE_DROPOUT, NODE_PRELU,
                                    NODE_AFFINE, NODE_CONCAT, MAX_SRC, MAX_OUT)
import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_SOURCES = (np.dtype(np.uint8),) + _FLOATS
_MERGE, _N_KINDS = NODE_CONCAT, 12


cdef inline bint _is_sparse(int loss_kind) noexcept nogil:
    return loss_kind == LOSS_SPARSE_SOFTMAX_CE or loss_kind == LOSS_SPARSE_CE_PROB


def _check_array(a, name, dtypes, ndim, rows=None, cols=None, writable=False):
    """ValueError/TypeError unless a is a C-contiguous ndarray of one of `dtypes` with
    this many dimensions (and rows / cols when given). The kernels read such arrays
    through raw pointers, so nothing about them may be assumed."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array. Received: {type(a).__name__}")
    if a.dtype not in dtypes:
        raise TypeError(f"{name} must have dtype {' or '.join(str(d) for d in dtypes)}. "
                        f"Received: dtype={a.dtype}")
    if a.ndim != ndim or (rows is not None and a.shape[0] != rows) or \
            (cols is not None and a.shape[1] != cols):
        want = ", ".join("n" if d is None else str(d) for d in (rows, cols)[:ndim])
        raise ValueError(f"{name} must have shape ({want}{',' if ndim == 1 else ''}). "
                         f"Received: shape={a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (np.ascontiguousarray)")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} is read-only; it must be writable")


def _checked(layers, outputs, inputs, Py_ssize_t size, n_trainable, n_features):
    """Node and output specs with every index, size and offset the kernels rely on
    checked, and the backward-pass flags derived here (never taken from the caller):
    need_dx (a source wants a gradient), needs_bwd, accum (several readers), out."""
    if not layers:
        raise ValueError("a plan needs at least one layer. Received: layers=[]")
    if not 0 <= n_trainable <= size:
        raise ValueError(f"n_trainable={n_trainable} is outside [0, {size}] (params size)")
    if not 1 <= n_features <= INT_MAX:
        raise ValueError(f"n_features must be a positive int. Received: {n_features}")
    if not 1 <= len(inputs) <= MAX_SRC or not 1 <= len(outputs) <= MAX_OUT:
        raise ValueError(f"a plan has 1 to {MAX_SRC} inputs and outputs. Received "
                         f"{len(inputs)} inputs, {len(outputs)} outputs")
    inputs = [(int(o), int(w)) for o, w in inputs]
    for off, w in inputs:
        if off < 0 or w <= 0 or off + w > n_features:
            raise ValueError(f"input columns [{off}, {off + w}) outside the {n_features}-"
                             f"wide row")
    specs, readers, n_ar = [], [0] * len(layers), 0
    for i, spec in enumerate(layers):
        spec = dict(spec)
        kind, act = int(spec.get("kind", 0)), int(spec["act"])
        src = [int(k) for k in spec.get("src", [i - 1 if i else -1])]
        n_in, n_out = int(spec["n_in"]), int(spec["n_out"])
        if not 0 <= kind < _N_KINDS:
            raise ValueError(f"layer {i}: unknown node kind {kind}")
        if not 0 <= act < N_ACTIVATIONS:
            raise ValueError(f"layer {i}: unknown activation code {act}")
        if not 1 <= len(src) <= MAX_SRC or any(k >= i or k < -len(inputs) for k in src) or \
                (kind < _MERGE and len(src) != 1):
            raise ValueError(f"layer {i}: sources {src} must be earlier nodes or inputs")
        if not 1 <= n_in <= INT_MAX or not 1 <= n_out <= INT_MAX:
            raise ValueError(f"layer {i}: n_in and n_out must be positive ints. Received "
                             f"n_in={n_in}, n_out={n_out}")
        widths = [specs[k]["n_out"] if k >= 0 else inputs[-1 - k][1] for k in src]
        if kind == _MERGE:
            ok = n_in == n_out == sum(widths)
        elif kind > _MERGE:
            ok = len(src) >= 2 and all(w == n_out for w in widths) and n_in == n_out
        else:
            ok = widths[0] == n_in and (kind == NODE_DENSE or n_in == n_out)
        if not ok:
            raise ValueError(f"layer {i} ({n_in} -> {n_out}) does not fit its sources' "
                             f"widths {widths}")
        for k in src:
            if k >= 0:
                readers[k] += 1
        sizes = {"w": n_in * n_out if kind == NODE_DENSE else n_out, "b": n_out,
                 "m": n_out, "v": n_out}
        for key, n in sizes.items():
            spec[key] = off = int(spec.get(key, -1))
            # -1: the node has no such weights (then its size does not count)
            if off < -1 or (off >= 0 and off + n > size):
                raise ValueError(f"layer {i}: offset {key}={off} outside the parameter "
                                 f"buffer of {size}")
        needs = {NODE_DENSE: ("w",), NODE_BN: ("m", "v"), NODE_PRELU: ("w",),
                 NODE_AFFINE: ("m", "v")}.get(kind, ())
        if any(spec[key] < 0 for key in needs):
            raise ValueError(f"layer {i}: node kind {kind} needs the offsets {needs}")
        trainable = bool(spec["trainable"])
        if trainable and any(spec[k] >= 0 and spec[k] + sizes[k] > n_trainable
                             for k in ("w", "b")):
            raise ValueError(f"layer {i} is trainable but outside the trainable region "
                             f"of {n_trainable}")
        counter = spec.get("counter")
        if kind == NODE_DROPOUT and (not isinstance(counter, np.ndarray) or
                                     counter.dtype != np.uint64 or counter.shape != (1,)
                                     or not counter.flags.writeable):
            raise ValueError(f"layer {i}: a dropout node needs a writable uint64[1] counter")
        grad_srcs = [k for k in src if k >= 0 and specs[k]["needs_bwd"]]
        seed = int(spec.get("seed", 0))
        if not 0 <= seed < 2 ** 64:
            raise ValueError(f"layer {i}: seed={seed} is not a 64-bit unsigned int")
        for key in ("alpha", "eps", "momentum", "ka", "kb", "kc"):
            spec[key] = float(spec.get(key) or 0.0)
        # an activity regularizer's factors: the penalty's gradient goes into d
        ar = [float(spec.get(key) or 0.0) for key in ("ar_l1", "ar_l2")]
        if not all(isfinite(f) and f >= 0 for f in ar):
            raise ValueError(f"layer {i}: activity regularizer factors must be finite and "
                             f">= 0. Received ar_l1={ar[0]}, ar_l2={ar[1]}")
        spec["ar_l1"], spec["ar_l2"] = ar
        spec["ar_slot"] = n_ar if ar[0] or ar[1] else -1
        n_ar += spec["ar_slot"] >= 0
        spec.update(seed=seed, thr=min(max(int(spec.get("thr", 0)), 0), 2 ** 53))
        spec.update(kind=kind, act=act, src=src, n_in=n_in, n_out=n_out, trainable=trainable,
                    need_dx=bool(grad_srcs), needs_bwd=trainable or bool(grad_srcs),
                    accum=False, out=-1, counter=counter if kind == NODE_DROPOUT else None,
                    keep_z=bool(spec.get("keep_z")) or act_needs_z(act, float(spec["alpha"])))
        specs.append(spec)
    outs = []
    for k, o in enumerate(outputs):
        o = dict(o)
        node, kind, acc = int(o["node"]), int(o["loss_kind"]), int(o["acc_mode"])
        if not 0 <= node < len(specs) or specs[node]["out"] >= 0 or readers[node]:
            raise ValueError(f"output {k}: node {node} must be a node that nothing else "
                             f"reads, and an output once")
        if not 0 <= kind <= LOSS_HUBER:
            raise ValueError(f"Unknown loss kind code {kind}")
        if not 0 <= acc <= ACC_BINARY:
            raise ValueError(f"Unknown acc_mode code {acc}")
        # the loss kernel reads labels for sparse accuracy and targets for the others
        if (acc == ACC_SPARSE and not _is_sparse(kind)) or \
                ((acc == ACC_CATEGORICAL or acc == ACC_BINARY) and _is_sparse(kind)):
            raise ValueError(f"acc_mode code {acc} does not go with loss kind code {kind}")
        specs[node]["out"] = k
        smooth = float(o.get("smooth", 0.0))
        if not 0.0 <= smooth <= 1.0 or (smooth != 0 and kind > LOSS_BCE_PROB):
            raise ValueError(f"output {k}: smooth={smooth} must be in [0, 1], and 0 but "
                             f"for the cross-entropies (loss kind code {kind})")
        on_logits = bool(o.get("on_logits", False))
        if on_logits and specs[node]["ar_slot"] >= 0:
            # the loss takes the logits: the penalty's gradient, of the activated output,
            # would have to pass the folded activation first
            raise ValueError(f"output {k}: node {node} has an activity regularizer, so its "
                             f"loss cannot take the logits (on_logits)")
        o.update(node=node, loss_kind=kind, acc_mode=acc, sparse=_is_sparse(kind),
                 on_logits=on_logits,
                 param=float(o.get("param", 0.0)), thresh=float(o.get("thresh", 0.5)),
                 weight=float(o.get("weight", 1.0)), smooth=smooth)
        outs.append(o)
    for i, spec in enumerate(specs):
        if spec["act"] == ACT_SOFTMAX and spec["out"] < 0:
            raise ValueError(f"layer {i}: softmax is supported on output nodes only")
        # several readers add their gradients; a regularized hidden node starts its d
        # with the penalty's gradient, which its reader then adds to
        spec["accum"] = readers[i] > 1 or (spec["ar_slot"] >= 0 and spec["out"] < 0)
    return specs, outs, inputs

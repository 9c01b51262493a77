"""Differentiable array ops with Keras 3's `keras.ops` names.

Each op is a primitive (see cydl.autodiff): it runs on NumPy arrays, Variables,
taped Tensors or symbolic KerasTensors, and its gradient is a closure over that
one call.
"""
import numpy as np

from cydl.autodiff import apply, unbroadcast


def _binary(name, forward, grads):
    """A broadcasting binary op; grads(a, b, out, g) -> (da, db) before unbroadcast."""
    def prim(values, need, **_):
        a, b = values
        out = forward(a, b)
        if need is None:
            return out, None
        sa, sb = np.shape(a), np.shape(b)

        def vjp(g):
            da, db = grads(a, b, out, g, need)
            return (unbroadcast(da, sa) if need[0] else None,
                    unbroadcast(db, sb) if need[1] else None)
        return out, vjp

    def op(x1, x2):
        return apply(prim, (x1, x2))
    prim.op_name = name         # what the plan lowering recognizes (models/_lower_ops.py)
    op.__name__ = name
    op.__doc__ = f"Elementwise {name} with NumPy broadcasting; differentiable."
    return op


add = _binary("add", np.add, lambda a, b, o, g, n: (g, g))
subtract = _binary("subtract", np.subtract, lambda a, b, o, g, n: (g, -g if n[1] else None))
multiply = _binary("multiply", np.multiply,
                   lambda a, b, o, g, n: (g * b if n[0] else None, g * a if n[1] else None))
divide = _binary("divide", np.true_divide,
                 lambda a, b, o, g, n: (g / b if n[0] else None, -g * o / b if n[1] else None))
maximum = _binary("maximum", np.maximum,
                  lambda a, b, o, g, n: (g * (a >= b), g * (a < b)))
minimum = _binary("minimum", np.minimum,
                  lambda a, b, o, g, n: (g * (a <= b), g * (a > b)))
power = _binary("power", np.power,
                lambda a, b, o, g, n: (g * b * np.power(a, b - 1) if n[0] else None,
                                       g * o * np.log(np.where(a > 0, a, 1)) if n[1] else None))
true_divide = divide


def _unary(name, forward, grad):
    """An elementwise op; grad(x, out, g) -> dx."""
    def prim(values, need, **_):
        x, = values
        out = forward(x)
        if need is None:
            return out, None
        return out, lambda g: (grad(x, out, g),)

    def op(x):
        return apply(prim, (x,))
    op.__name__ = name
    op.__doc__ = f"Elementwise {name}; differentiable."
    return op


negative = _unary("negative", np.negative, lambda x, o, g: -g)
square = _unary("square", np.square, lambda x, o, g: 2 * x * g)
sqrt = _unary("sqrt", np.sqrt, lambda x, o, g: g / (2 * o))
exp = _unary("exp", np.exp, lambda x, o, g: g * o)
log = _unary("log", np.log, lambda x, o, g: g / x)
log1p = _unary("log1p", np.log1p, lambda x, o, g: g / (1 + x))
absolute = _unary("absolute", np.abs, lambda x, o, g: g * np.sign(x))
abs = absolute      # noqa: A001  (keras.ops.abs)
sin = _unary("sin", np.sin, lambda x, o, g: g * np.cos(x))
cos = _unary("cos", np.cos, lambda x, o, g: -g * np.sin(x))


def _matmul(values, need):
    a, b = values
    out = np.matmul(a, b)
    if need is None:
        return out, None

    def vjp(g):
        # NumPy's rules: a 1-D operand is a row (a) or a column (b) whose axis is
        # dropped from the result; leading axes broadcast. Bring everything to
        # (..., M, K) @ (..., K, N), then undo both.
        a1 = a[None, :] if a.ndim == 1 else a
        b1 = b[:, None] if b.ndim == 1 else b
        g1 = np.asarray(g)
        if b.ndim == 1:
            g1 = g1[..., None]
        if a.ndim == 1:
            g1 = g1[..., None, :]
        da = db = None
        if need[0]:
            da = np.reshape(unbroadcast(np.matmul(g1, np.swapaxes(b1, -1, -2)), a1.shape),
                            a.shape)
        if need[1]:
            if a1.ndim > 2 and b1.ndim == 2:    # batched rows against one matrix: one GEMM
                db = np.matmul(a1.reshape(-1, a1.shape[-1]).T, g1.reshape(-1, g1.shape[-1]))
            else:
                db = unbroadcast(np.matmul(np.swapaxes(a1, -1, -2), g1), b1.shape)
            db = np.reshape(db, b.shape)
        return da, db
    return out, vjp


_matmul.op_name = "matmul"


def matmul(x1, x2):
    """Matrix product (x1 @ x2), batched over leading axes of x1; differentiable."""
    return apply(_matmul, (x1, x2))


def _reduce(name, forward, scale):
    def prim(values, need, axis=None, keepdims=False):
        x, = values
        out = forward(x, axis=axis, keepdims=keepdims)
        if need is None:
            return out, None
        shape = x.shape

        def vjp(g):
            g = np.asarray(g)
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g * scale(shape, axis), shape),)
        return out, vjp

    def op(x, axis=None, keepdims=False):
        ax = tuple(axis) if isinstance(axis, list) else axis
        return apply(prim, (x,), axis=ax, keepdims=bool(keepdims))
    op.__name__ = name
    op.__doc__ = f"{name} over `axis` (all axes if None); differentiable."
    return op


def _count(shape, axis):
    if axis is None:
        return 1.0 / max(int(np.prod(shape)), 1)
    axes = axis if isinstance(axis, tuple) else (axis,)
    return 1.0 / int(np.prod([shape[a] for a in axes]))


sum = _reduce("sum", np.sum, lambda shape, axis: 1.0)     # noqa: A001
mean = _reduce("mean", np.mean, _count)


def _reshape(values, need, shape):
    x, = values
    out = np.reshape(x, shape)
    if need is None:
        return out, None
    return out, lambda g: (np.reshape(g, x.shape),)


def reshape(x, new_shape):
    """x with a new shape (one entry may be -1); differentiable."""
    return apply(_reshape, (x,), shape=tuple(new_shape))


def _transpose(values, need, axes):
    x, = values
    out = np.transpose(x, axes)
    if need is None:
        return out, None
    inv = None if axes is None else tuple(np.argsort(axes))
    return out, lambda g: (np.transpose(g, inv),)


def transpose(x, axes=None):
    return apply(_transpose, (x,), axes=None if axes is None else tuple(axes))


def _concatenate(values, need, axis):
    out = np.concatenate(values, axis=axis)
    if need is None:
        return out, None
    cuts = np.cumsum([v.shape[axis] for v in values])[:-1]

    def vjp(g):
        return tuple(np.split(g, cuts, axis=axis))
    return out, vjp


_concatenate.op_name = "concatenate"


def concatenate(xs, axis=-1):
    """Join arrays along `axis`; differentiable."""
    return apply(_concatenate, tuple(xs), axis=int(axis))


def _stack(values, need, axis):
    out = np.stack(values, axis=axis)
    if need is None:
        return out, None
    return out, lambda g: tuple(np.moveaxis(g, axis, 0))


def stack(xs, axis=0):
    return apply(_stack, tuple(xs), axis=int(axis))


def _getitem(values, need, item):
    x, = values
    out = x[item]
    if need is None:
        return out, None

    def vjp(g):
        dx = np.zeros(x.shape, g.dtype)
        np.add.at(dx, item, g)
        return (dx,)
    return out, vjp


def getitem(x, item):
    return apply(_getitem, (x,), item=item)


def _clip(values, need, lo, hi):
    x, = values
    out = np.clip(x, lo, hi)
    if need is None:
        return out, None
    return out, lambda g: (g * ((x >= lo) & (x <= hi)),)


def clip(x, x_min, x_max):
    return apply(_clip, (x,), lo=x_min, hi=x_max)


def _where(values, need):
    c, a, b = values
    out = np.where(c, a, b)
    if need is None:
        return out, None
    return out, lambda g: (None, unbroadcast(np.where(c, g, 0), np.shape(a)),
                           unbroadcast(np.where(c, 0, g), np.shape(b)))


def where(condition, x1, x2):
    from cydl.autodiff import value_of
    return apply(_where, (value_of(condition), x1, x2))


def _stop(values, need):
    return values[0], (lambda g: (None,)) if need else None


def stop_gradient(x):
    """x, through which no gradient flows."""
    return apply(_stop, (x,))


def _cast(values, need, dtype):
    x, = values
    out = x.astype(dtype)
    if need is None:
        return out, None
    return out, lambda g: (g.astype(x.dtype),)


def cast(x, dtype):
    return apply(_cast, (x,), dtype=np.dtype(dtype))


def convert_to_numpy(x):
    from cydl.autodiff import value_of
    return np.asarray(value_of(x))


def convert_to_tensor(x, dtype=None):
    from cydl import _config
    return np.asarray(x, dtype=dtype or _config.floatx())

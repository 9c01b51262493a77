"""Reverse-mode differentiation with the state kept per call, never per layer.

Every differentiable operation is a *primitive*: a function
``fn(values, need, **attrs) -> (out, vjp)`` that computes its output and, when
``need`` says some input needs a gradient, a closure ``vjp(g)`` over exactly that
call's inputs and intermediates. ``apply`` runs a primitive in one of three ways:

* on symbolic KerasTensors it records a graph node (functional API, tracing);
* under an active tape, when an input needs a gradient, it returns a ``Tensor``
  that holds the value, its parents and the closure;
* otherwise it returns the plain NumPy result: inference pays nothing for autodiff.

``backward`` walks the Tensors in reverse creation order and sums gradients where a
value fans out, so a layer applied twice gets the sum of both uses by construction.
Weight gradients are added into each Variable's slot of the model's flat gradient
buffer (or into a fresh array for ``GradientTape.gradient``).

Example:
>>> with cydl.GradientTape() as tape:
...     y = cydl.ops.sum(cydl.ops.square(layer(x)))
>>> grads = tape.gradient(y, layer.trainable_weights)
"""
import itertools
import threading

import numpy as np

class _Local(threading.local):
    # class-level defaults: reading an unset attribute then costs no AttributeError
    # (getattr with a default raised one inside: 0.4 us of every model(x) call)
    tape = None
    sink = None


_local = _Local()
_order = itertools.count()


class Tensor:
    """A value computed under a tape, with the closure that carries its gradient back.

    It behaves like the array it holds (shape, dtype, arithmetic through cydl.ops),
    so a layer's `call` is written once for inference and training. The eager
    idioms work on it as on a NumPy array: `float(t)`, `int(t)`, `bool(t)`,
    `t.item()`, `t.numpy()`, `np.asarray(t)`, and `<, <=, >, >=` give NumPy bools
    (a Python-usable bool for a scalar); none of them is differentiated. In a
    `call` that also runs without a tape (inference, where ops give plain arrays),
    prefer `cydl.ops.convert_to_numpy(x)` to `x.numpy()`: it takes both.

    `==` and `!=` stay identity, unlike Keras' eager tensors: a Tensor is a node of
    the tape that Python containers hold and compare (`t in outputs`), and an
    elementwise `==` would break that. Use `cydl.ops.equal` for elementwise equality.
    """

    __slots__ = ("value", "parents", "need", "vjp", "order", "pre_activation")
    __array_priority__ = 100

    def __init__(self, value, parents, need, vjp):
        self.value = value
        self.parents = parents
        self.need = need
        self.vjp = vjp
        self.order = next(_order)
        self.pre_activation = None      # (Tensor of logits, activation name) if known

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)
    ndim = property(lambda self: self.value.ndim)
    size = property(lambda self: self.value.size)

    def __len__(self):
        return len(self.value)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype=dtype)

    def numpy(self):
        return np.array(self.value)

    def item(self, *args):
        return self.value.item(*args)

    def __bool__(self):
        return bool(self.value)

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __index__(self):
        if self.value.dtype.kind not in "iu":
            raise TypeError(f"Only an integer Tensor can be used as an index; this one has "
                            f"dtype {self.dtype}")
        return int(self.value)

    def __repr__(self):
        return f"<Tensor shape={self.shape} dtype={self.dtype}>"


def _compare(np_fn):
    def method(self, other):
        return np_fn(self.value, value_of(other))
    return method


Tensor.__lt__, Tensor.__le__ = _compare(np.less), _compare(np.less_equal)
Tensor.__gt__, Tensor.__ge__ = _compare(np.greater), _compare(np.greater_equal)


def _op(name, swap=False):
    def method(self, other):
        from cydl import ops
        fn = getattr(ops, name)
        return fn(other, self) if swap else fn(self, other)
    method.__name__ = name
    return method


def add_arithmetic(cls):
    """Give cls (Tensor, KerasTensor, Variable) the operators, routed through cydl.ops."""
    for dunder, name, swap in (
            ("__add__", "add", False), ("__radd__", "add", True),
            ("__sub__", "subtract", False), ("__rsub__", "subtract", True),
            ("__mul__", "multiply", False), ("__rmul__", "multiply", True),
            ("__truediv__", "divide", False), ("__rtruediv__", "divide", True),
            ("__matmul__", "matmul", False), ("__rmatmul__", "matmul", True),
            ("__pow__", "power", False), ("__rpow__", "power", True)):
        setattr(cls, dunder, _op(name, swap))

    def neg(self):
        from cydl import ops
        return ops.negative(self)

    def getitem(self, item):
        from cydl import ops
        return ops.getitem(self, item)

    def absolute(self):
        from cydl import ops
        return ops.absolute(self)
    cls.__neg__ = neg
    cls.__abs__ = absolute
    cls.__getitem__ = getitem
    return cls


add_arithmetic(Tensor)


# ------------------------------------------------------------------ taping
class _Tape:
    def __init__(self, watched, keep_logits=False, outer=None):
        self.watch_all = watched is None       # every trainable Variable is a source
        # id -> Variable or watched array (held here, so that the id stays theirs)
        self.watched = {} if watched is None else {id(v): v for v in watched}
        self.keep_logits = keep_logits     # activations remember their input (evaluation)
        # an enclosing GradientTape: what it watches must keep being recorded inside
        self.outer = outer


def active_tape():
    return _local.tape


class recording:
    """Context: ops on the watched variables (or on Tensors) are recorded.

    Args:
        variables: the Variables whose gradients are wanted; None means every
            Variable with trainable=True.
    """

    def __init__(self, variables=None, keep_logits=False):
        self.tape = _Tape(variables, keep_logits)

    def __enter__(self):
        self.prev = active_tape()
        _local.tape = self.tape
        return self.tape

    def __exit__(self, *exc):
        _local.tape = self.prev


def requires_grad(x):
    if type(x) is Tensor:
        return True
    tape = active_tape()
    while tape is not None:
        if id(x) in tape.watched:
            return True
        if tape.watch_all and getattr(x, "_is_variable", False) and x.trainable:
            return True
        tape = tape.outer
    return False


def value_of(x):
    if type(x) is Tensor:
        return x.value
    if getattr(x, "_is_variable", False):
        return x.value
    return x


def apply(fn, args, **attrs):
    """Run primitive fn on args (arrays, Variables, Tensors or KerasTensors)."""
    for a in args:
        if getattr(a, "_is_symbolic", False):
            from cydl import graph
            return graph.op_node(fn, args, attrs)
    if active_tape() is None:
        return fn(tuple(value_of(a) for a in args), None, **attrs)[0]
    need = tuple(requires_grad(a) for a in args)
    values = tuple(value_of(a) for a in args)
    if not any(need):
        return fn(values, None, **attrs)[0]
    out, vjp = fn(values, need, **attrs)
    return Tensor(out, args, need, vjp)


# ------------------------------------------------------------------ backward
def grad_buffer(var):
    """Where the gradient of var accumulates during the current backward pass."""
    sink = _local.sink
    if sink is None:
        return var._grad
    buf = sink.get(id(var))
    if buf is None:
        buf = sink[id(var)] = np.zeros(var.shape, var.dtype, order="F" if var.ndim == 2 else "C")
    return buf


def backward(pairs, sink=None, capture=()):
    """Propagate gradients [(Tensor, dLoss/dTensor), ...] down to the variables.

    With sink=None, weight gradients are added into each Variable's gradient view
    (zero it first); with a dict, into fresh arrays keyed by id(Variable) (or of a
    watched array). The gradients of the Tensors whose ids are in `capture` go into
    the sink too.
    """
    grads, nodes, seen, stack = {}, [], set(), []
    for t, g in pairs:
        if type(t) is Tensor:
            _accumulate(grads, t, g)
            stack.append(t)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        nodes.append(t)
        stack.extend(p for p in t.parents if type(p) is Tensor)
    nodes.sort(key=lambda t: t.order, reverse=True)
    prev, _local.sink = _local.sink, sink
    try:
        for t in nodes:
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if id(t) in capture:
                sink[id(t)] = np.array(g)
            if t.vjp is None:        # a Tensor that only carries logits
                continue
            in_grads = t.vjp(g)
            for p, need, gi in zip(t.parents, t.need, in_grads):
                if not need or gi is None:
                    continue
                if type(p) is Tensor:
                    _accumulate(grads, p, gi)
                else:
                    buf = grad_buffer(p)
                    buf += np.reshape(gi, buf.shape)
    finally:
        _local.sink = prev


def _accumulate(grads, t, g):
    g = np.asarray(g, t.dtype)
    if g.shape != t.shape:
        g = np.broadcast_to(g, t.shape)
    old = grads.get(id(t))
    grads[id(t)] = g if old is None else old + g


def unbroadcast(g, shape):
    """Sum g over the axes that broadcasting added or stretched to reach shape."""
    if g.shape == tuple(shape):
        return g
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


from cydl.gradient_tape import GradientTape  # noqa: E402,F401  (public here too)

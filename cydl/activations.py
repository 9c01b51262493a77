"""Activation functions with Keras' names, usable on arrays and by name in layers.

Each function here carries the name and parameter of the compiled kernel that
implements it, so `Dense(10, activation=cydl.activations.relu)` and
`activation="relu"` run the same fused code.
"""
import functools

from cydl._checks import number
from cydl.ops.nn import activation as _act


def _param(kernel, value):
    """The checked parameter of a parametrized activation (None stays None): NaN or
    inf would turn every negative input into NaN without any error."""
    if value is None:
        return None
    if kernel == "leaky_relu":
        return number(value, "negative_slope", low=0.0, owner="leaky_relu")
    if kernel == "elu":
        return number(value, "alpha", owner="elu")
    return value


def _kernel_fn(kernel, alpha=None, doc=""):
    def fn(x):
        return _act(x, kernel, alpha)
    fn.__name__ = fn.__qualname__ = kernel     # pickled by reference: cydl.activations.<name>
    fn.__doc__ = doc
    fn._cydl_spec = (kernel, alpha)
    return fn


linear = _kernel_fn("linear", doc="Identity: f(x) = x.")
sigmoid = _kernel_fn("sigmoid", doc="1 / (1 + exp(-x)).")
tanh = _kernel_fn("tanh", doc="Hyperbolic tangent.")
softmax = _kernel_fn("softmax", doc="exp(x) / sum(exp(x)) along the last axis.")
selu = _kernel_fn("selu", doc="Scaled ELU: self-normalizing with lecun_normal weights.")
softplus = _kernel_fn("softplus", doc="log(1 + exp(x)).")
softsign = _kernel_fn("softsign", doc="x / (1 + |x|).")
exponential = _kernel_fn("exponential", doc="exp(x).")
hard_sigmoid = _kernel_fn("hard_sigmoid", doc="Piecewise linear sigmoid: relu6(x + 3) / 6.")
relu6 = _kernel_fn("relu6", doc="min(max(x, 0), 6).")
mish = _kernel_fn("mish", doc="x * tanh(softplus(x)).")
swish = _kernel_fn("swish", doc="x * sigmoid(x), also called SiLU.")
silu = swish


def relu(x, negative_slope=0.0):
    """max(x, 0), or leaky with negative_slope > 0."""
    negative_slope = _param("leaky_relu", negative_slope)
    return _act(x, "leaky_relu" if negative_slope else "relu", negative_slope or None)


relu._cydl_spec = ("relu", None)


def leaky_relu(x, negative_slope=0.2):
    """x for x > 0, negative_slope * x otherwise."""
    return _act(x, "leaky_relu", _param("leaky_relu", negative_slope))


leaky_relu._cydl_spec = ("leaky_relu", 0.2)


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _act(x, "elu", _param("elu", alpha))


elu._cydl_spec = ("elu", 1.0)


def gelu(x, approximate=False):
    """x * Phi(x), exact (erf) by default as in Keras; tanh form if approximate."""
    return _act(x, "gelu_tanh" if approximate else "gelu")


gelu._cydl_spec = ("gelu", None)

_BY_NAME = {
    "linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
    "elu": elu, "selu": selu, "leaky_relu": leaky_relu, "gelu": gelu, "swish": swish,
    "silu": swish, "mish": mish, "softplus": softplus, "softsign": softsign,
    "exponential": exponential, "hard_sigmoid": hard_sigmoid, "relu6": relu6,
}


def get(identifier):
    """The activation function for a name, a function from this module, or None
    (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, (list, tuple)) and len(identifier) == 2:
        name, param = identifier          # a serialized [name, parameter] pair
        fn = get(name)
        if param is None:
            return fn
        key = {"leaky_relu": "negative_slope", "elu": "alpha"}.get(name)
        if key is None:
            raise ValueError(f"Activation {name!r} takes no parameter (received {param!r})")
        param = _param(name, param)
        return functools.partial(fn, **{key: param})
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Unknown activation: {identifier!r}. Known: "
                             f"{', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[identifier]
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret activation identifier: {identifier!r}")


def serialize(fn):
    name, alpha = spec(fn)
    if name is None:        # a user function: saved by name, found again via custom_objects
        return getattr(fn, "__name__", repr(fn))
    return name if alpha is None else [name, alpha]


def spec(identifier):
    """(kernel name, parameter) for an activation identifier.

    Functions from this module, strings, functools.partial of them (e.g.
    partial(leaky_relu, negative_slope=0.1)) and layers such as LeakyReLU are
    understood. Any other callable gives (None, None): it runs as written, built
    from cydl.ops, and is differentiated through them.
    """
    if isinstance(identifier, (list, tuple)) and len(identifier) == 2:
        get(identifier)       # checks the name and the parameter
        return identifier[0], _param(identifier[0], identifier[1])
    fn = get(identifier)
    if isinstance(fn, functools.partial) and hasattr(fn.func, "_cydl_spec"):
        name, alpha = fn.func._cydl_spec
        if fn.args:
            alpha = fn.args[0]
        for key in ("negative_slope", "alpha"):
            if key in fn.keywords:
                alpha = fn.keywords[key]
        if fn.func is relu and alpha:
            name = "leaky_relu"
        if fn.func is gelu and fn.keywords.get("approximate"):
            name = "gelu_tanh"
        return name, _param(name, alpha)
    return getattr(fn, "_cydl_spec", (None, None))

"""Every public cydl.ops function and every Tensor/Variable operator against PyTorch
autodiff: forward values and gradients, with hypothesis drawing shapes (0-d to 3-D,
size-1 and broadcast axes), the memory layout of every operand and of the
cotangent, and where the gradient enters (a Variable, or a Tensor that an earlier op
produced in another layout)."""
import operator

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import cydl
from cydl import ops
from cydl.autodiff import Tensor
from cydl.variables import Variable

from .conftest import DEFAULT, budget, seeds, torch_or_skip, values

torch = torch_or_skip()
from ._twins import ACTS, KERNEL_ACTS, Case, check  # noqa: E402

F = torch.nn.functional

POSITIVE = ((0.2, 3.0),)                                 # sqrt, log, a power's base


def shape(draw, lo=0, hi=3):
    # half the draws have every side >= 2: a flat walk over two layouts only
    # scrambles when no axis is trivial, and small shapes would dominate otherwise
    if hi >= 2 and draw(st.booleans()):
        return draw(hnp.array_shapes(min_dims=max(lo, 2), max_dims=hi, min_side=2,
                                     max_side=4))
    return draw(hnp.array_shapes(min_dims=lo, max_dims=hi, min_side=1, max_side=4))


def unary(cy, th, domain=DEFAULT, lo=0):
    return lambda draw, rng: Case([values(rng, shape(draw, lo), domain)], "v", cy, th)


def binary(cy, th, da=DEFAULT, db=DEFAULT, kinds="dd"):
    def build(draw, rng):
        sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                        max_side=4)).input_shapes
        return Case([values(rng, sa, da), values(rng, sb, db)], kinds, cy, th)
    return build


def matmul_case(cy, th, kinds="dd"):
    def build(draw, rng):
        m, k, n, b = (draw(st.integers(1, 4)) for _ in range(4))
        sa, sb = draw(st.sampled_from([((m, k), (k, n)), ((k,), (k, n)), ((m, k), (k,)),
                                       ((k,), (k,)), ((b, m, k), (k, n)),
                                       ((b, m, k), (k,))]))
        return Case([values(rng, sa), values(rng, sb)], kinds, cy, th)
    return build


def reduce_case(cy_fn, th_fn):
    def build(draw, rng):
        s = shape(draw)
        axes = draw(st.lists(st.integers(0, len(s) - 1), unique=True, max_size=len(s))) \
            if s else []
        axes = [a - len(s) if draw(st.booleans()) else a for a in axes]   # negative too
        axis = None if not axes or draw(st.booleans()) else \
            axes[0] if len(axes) == 1 and draw(st.booleans()) else tuple(axes)
        keep = draw(st.booleans())
        dims = tuple(range(len(s))) if axis is None else \
            (axis,) if isinstance(axis, int) else axis
        return Case([values(rng, s)], "v", lambda a: cy_fn(a, axis=axis, keepdims=keep),
                    lambda t: th_fn(t, dim=dims, keepdim=keep) if dims else t * 1.0)
    return build


def reshape_case(draw, rng):
    s = shape(draw)
    n = int(np.prod(s))
    new = list(draw(st.sampled_from([(n,), (1, n), (n, 1), s[::-1], (1,) + s])))
    if new and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return Case([values(rng, s)], "v", lambda a: ops.reshape(a, new),
                lambda t: t.reshape(new))


def transpose_case(draw, rng):
    s = shape(draw)
    axes = None if draw(st.booleans()) else draw(st.permutations(range(len(s))))
    perm = list(range(len(s)))[::-1] if axes is None else axes
    return Case([values(rng, s)], "v", lambda a: ops.transpose(a, axes),
                lambda t: t.permute(perm))


def join_case(stack):
    def build(draw, rng):
        s, k = list(shape(draw, 0 if stack else 1)), draw(st.integers(1, 3))
        nd = len(s) + stack
        axis = draw(st.integers(-nd, nd - 1))
        shapes = [tuple(s) if stack else tuple(draw(st.integers(1, 3)) if i == axis % nd
                                               else n for i, n in enumerate(s))
                  for _ in range(k)]
        cy, th = (ops.stack, torch.stack) if stack else (ops.concatenate, torch.cat)
        return Case([values(rng, sh) for sh in shapes], "d" * k,
                    lambda *a: cy(list(a), axis), lambda *t: th(list(t), axis))
    return build


def index_item(draw, s):
    """A basic index: ints (negative too) and slices with any sign of step."""
    item = []
    for n in s[:draw(st.integers(1, len(s)))]:
        if draw(st.booleans()):
            item.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.none() | st.integers(-n - 1, n + 1)
            item.append(slice(draw(bound), draw(bound), draw(st.sampled_from([1, 2, -1, -2]))))
    return tuple(item)


def torch_index(t, item, sizes):
    """NumPy basic indexing in torch, which has no negative steps: index_select."""
    dim = 0
    for it, n in zip(item, sizes):
        if isinstance(it, slice):
            idx = torch.tensor(list(range(*it.indices(n))), dtype=torch.long)
            t, dim = t.index_select(dim, idx), dim + 1
        else:
            t = t.select(dim, it)
    return t


def getitem_case(cy):
    def build(draw, rng):
        s = shape(draw, 1)
        item = index_item(draw, s)
        return Case([values(rng, s)], "v", lambda a: cy(a, item),
                    lambda t: torch_index(t, item, s))
    return build


def clip_case(draw, rng):
    lo, hi = draw(st.sampled_from([(-1.0, 1.0), (-0.5, 2.0)]))
    dom = ((lo - 1.5, lo - 0.1), (lo + 0.1, hi - 0.1), (hi + 0.1, hi + 1.5))   # off bounds
    return Case([values(rng, shape(draw), dom)], "v", lambda a: ops.clip(a, lo, hi),
                lambda t: torch.clamp(t, lo, hi))


def where_case(draw, rng):
    sc, sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3,
                                                        max_side=4)).input_shapes
    return Case([rng.random(sc) < 0.5, values(rng, sa), values(rng, sb)], "mdd",
                ops.where, torch.where)


def cast_case(draw, rng):
    dt = draw(st.sampled_from(["float32", "float64"]))
    return Case([values(rng, shape(draw))], "v", lambda a: ops.cast(a, dt),
                lambda t: t.to(getattr(torch, dt)), out_dtype=dt)


def convert_case(draw, rng):
    # cydl's documented default is floatx(); Keras would keep a NumPy array's dtype
    dt = draw(st.sampled_from([None, "float32", "float64"]))
    out = dt or cydl.config.floatx()
    return Case([values(rng, shape(draw))], "v", lambda a: ops.convert_to_tensor(a, dt),
                lambda t: t.detach().to(getattr(torch, out)), out_dtype=out)


def activation_case(draw, rng):
    name = draw(st.sampled_from(KERNEL_ACTS))
    alpha = draw(st.sampled_from([None, 0.5])) if name in ("elu", "leaky_relu") else None
    th = ACTS[name] if alpha is None else (
        lambda t: F.elu(t, alpha)) if name == "elu" else (lambda t: F.leaky_relu(t, alpha))
    return Case([values(rng, shape(draw, name == "softmax"))], "v",
                lambda a: ops.activation(a, name, alpha), th)


def dense_case(draw, rng):
    b, n, u = (draw(st.integers(1, 5)) for _ in range(3))
    name = draw(st.sampled_from(KERNEL_ACTS))
    if draw(st.booleans()):
        return Case([values(rng, (b, n)), values(rng, (n, u)), values(rng, (u,))], "dww",
                    lambda x, w, c: ops.dense(x, w, c, name),
                    lambda x, w, c: ACTS[name](x @ w + c))
    return Case([values(rng, (b, n)), values(rng, (n, u))], "dw",
                lambda x, w: ops.dense(x, w, None, name), lambda x, w: ACTS[name](x @ w))


def param_case(cy, th, params, domain=DEFAULT):
    def build(draw, rng):
        p = draw(st.sampled_from(params))
        return Case([values(rng, shape(draw), domain)], "v", lambda a: cy(a, p),
                    lambda t: th(t, p))
    return build


def softmax_case(draw, rng):
    s = shape(draw, 1)
    axis = draw(st.integers(-len(s), len(s) - 1))       # Keras allows any axis
    return Case([values(rng, s)], "v", lambda a: ops.softmax(a, axis),
                lambda t: torch.softmax(t, axis))


def compare_case(cy, th, kinds="dd"):
    def build(draw, rng):
        sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                        max_side=4)).input_shapes
        pick = lambda s: rng.choice([-1.0, 0.5, 2.0], size=s)   # noqa: E731  (ties wanted)
        return Case([pick(sa), pick(sb)], kinds, cy, th, out_dtype=bool)
    return build


HARD = ((-5.0, -3.1), (-2.9, 2.9), (3.1, 5.0))      # hard_sigmoid's kinks are at +-3
RELU6 = ((-2.0, -0.1), (0.1, 5.9), (6.1, 8.0))
OPS = {
    "abs": unary(ops.abs, torch.abs), "absolute": unary(ops.absolute, torch.abs),
    "add": binary(ops.add, torch.add), "subtract": binary(ops.subtract, torch.sub),
    "multiply": binary(ops.multiply, torch.mul), "divide": binary(ops.divide, torch.div),
    "true_divide": binary(ops.true_divide, torch.div),
    "maximum": binary(ops.maximum, torch.maximum),
    "minimum": binary(ops.minimum, torch.minimum),
    "power": binary(ops.power, torch.pow, POSITIVE, ((-2.0, 2.0),)),
    "negative": unary(ops.negative, torch.neg), "square": unary(ops.square, torch.square),
    "sqrt": unary(ops.sqrt, torch.sqrt, POSITIVE),
    "exp": unary(ops.exp, torch.exp), "log": unary(ops.log, torch.log, POSITIVE),
    "log1p": unary(ops.log1p, torch.log1p, ((-0.7, 3.0),)),
    "sin": unary(ops.sin, torch.sin), "cos": unary(ops.cos, torch.cos),
    "matmul": matmul_case(ops.matmul, torch.matmul),
    "sum": reduce_case(ops.sum, torch.sum), "mean": reduce_case(ops.mean, torch.mean),
    "reshape": reshape_case, "transpose": transpose_case,
    "concatenate": join_case(False), "stack": join_case(True),
    "getitem": getitem_case(ops.getitem), "clip": clip_case, "where": where_case,
    "stop_gradient": unary(ops.stop_gradient, lambda t: t.detach()),
    "cast": cast_case, "convert_to_tensor": convert_case,
    "convert_to_numpy": unary(ops.convert_to_numpy, lambda t: t.detach()),
    "activation": activation_case, "dense": dense_case,
    # None: the default argument (Keras 3: elu's alpha 1.0, ops.gelu approximate=True)
    "elu": param_case(lambda x, a: ops.elu(x) if a is None else ops.elu(x, a),
                      lambda t, a: F.elu(t, 1.0 if a is None else a), [None, 0.5, 1.7]),
    "gelu": param_case(lambda x, a: ops.gelu(x) if a is None else ops.gelu(x, a),
                       lambda t, a: F.gelu(t, approximate="none" if a is False else "tanh"),
                       [None, True, False]),
    "leaky_relu": param_case(lambda a, s: ops.leaky_relu(a) if s is None else
                             ops.leaky_relu(a, s),
                             lambda t, s: F.leaky_relu(t, 0.2 if s is None else s),
                             [None, 0.1, 0.5]),
    "hard_sigmoid": unary(ops.hard_sigmoid, ACTS["hard_sigmoid"], HARD),
    "relu6": unary(ops.relu6, F.relu6, RELU6), "mish": unary(ops.mish, F.mish),
    "relu": unary(ops.relu, F.relu), "selu": unary(ops.selu, F.selu),
    "sigmoid": unary(ops.sigmoid, torch.sigmoid), "silu": unary(ops.silu, F.silu),
    "swish": unary(ops.swish, F.silu), "softplus": unary(ops.softplus, F.softplus),
    "softsign": unary(ops.softsign, F.softsign), "tanh": unary(ops.tanh, torch.tanh),
    "softmax": softmax_case,
    "equal": compare_case(ops.equal, torch.eq),
    "not_equal": compare_case(ops.not_equal, torch.ne),
    "less": compare_case(ops.less, torch.lt),
    "less_equal": compare_case(ops.less_equal, torch.le),
    "greater": compare_case(ops.greater, torch.gt),
    "greater_equal": compare_case(ops.greater_equal, torch.ge),
}
_b = lambda f: binary(f, f, kinds="vd")   # noqa: E731  (a Tensor/Variable on the left)
_r = lambda f, **k: binary(f, f, kinds="cv", **k)     # noqa: E731  (array on the left)
OPERATORS = {
    "__add__": _b(lambda a, b: a + b), "__sub__": _b(lambda a, b: a - b),
    "__mul__": _b(lambda a, b: a * b), "__truediv__": _b(lambda a, b: a / b),
    "__pow__": binary(lambda a, b: a ** b, lambda a, b: a ** b, POSITIVE, ((-2.0, 2.0),)),
    "__radd__": _r(lambda a, b: a + b), "__rsub__": _r(lambda a, b: a - b),
    "__rmul__": _r(lambda a, b: a * b), "__rtruediv__": _r(lambda a, b: a / b),
    "__rpow__": _r(lambda a, b: a ** b, da=POSITIVE),
    "__matmul__": matmul_case(lambda a, b: a @ b, lambda a, b: a @ b, "vd"),
    "__rmatmul__": matmul_case(lambda a, b: a @ b, lambda a, b: a @ b, "cv"),
    "__neg__": unary(lambda a: -a, lambda t: -t), "__abs__": unary(abs, abs),
    "__getitem__": getitem_case(lambda a, item: a[item]),
    # a Tensor's comparisons (multiply makes one under the tape): bools, no gradient
    **{f"__{c}__": compare_case(lambda a, b, c=c: getattr(operator, c)(ops.multiply(a, 1.0), b),
                                getattr(torch, c), "vd") for c in ("lt", "le", "gt", "ge")},
    # a Python number on the left: the reflected methods proper
    "scalar __radd__": unary(lambda a: 1.5 + a, lambda t: 1.5 + t),
    "scalar __rsub__": unary(lambda a: 1.5 - a, lambda t: 1.5 - t),
    "scalar __rmul__": unary(lambda a: -0.7 * a, lambda t: -0.7 * t),
    "scalar __rtruediv__": unary(lambda a: 1.5 / a, lambda t: 1.5 / t),
    "scalar __rpow__": unary(lambda a: 1.7 ** a, lambda t: 1.7 ** t),
}
CASES = {**OPS, **{"operator " + k: v for k, v in OPERATORS.items()}}
MODES = ("variable", "tensor", "cotangent")


PY_OPERATORS = {f"__{r}{n}__" for r in ("", "r", "i") for n in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
    "lshift", "rshift")} | {f"__{n}__" for n in (
        "neg", "pos", "abs", "invert", "getitem", "lt", "le", "gt", "ge", "eq", "ne")}


def test_every_op_and_operator_has_an_oracle():
    # a new op or operator without a row here fails: add its torch reference
    assert sorted(set(ops.__all__) - set(OPS)) == []
    for cls in (Tensor, Variable):
        assert sorted(PY_OPERATORS & set(vars(cls)) - set(OPERATORS)) == [], cls


def test_softmax_refuses_an_axis_out_of_range():
    for axis in (2, -3, 1.0, None):
        with pytest.raises(ValueError, match="axis"):
            ops.softmax(np.ones((2, 3)), axis=axis)


# 3 modes x 12 examples per op in float64; 8 with the mode drawn in float32: the
# whole file stays near 20 s on two cores.
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CASES))
@budget(12)
@given(data=st.data(), seed=seeds)
def test_float64_matches_torch(name, mode, data, seed):
    rng = np.random.default_rng(seed)
    check(CASES[name](data.draw, rng), np.float64, mode, data.draw, rng)


@pytest.mark.parametrize("name", sorted(CASES))
@budget(8)
@given(data=st.data(), seed=seeds, mode=st.sampled_from(MODES))
def test_float32_matches_torch(name, data, seed, mode):
    rng = np.random.default_rng(seed)
    check(CASES[name](data.draw, rng), np.float32, mode, data.draw, rng)

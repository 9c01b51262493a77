"""`cydl.ops` calls (the op nodes of a traced graph) as ONNX ops.

An op node is recognized by its primitive, as cydl's model config does
(cydl.models._op_config): the public ops' primitives are found once by calling each
op on a symbolic tensor, so nothing depends on function names. Operands are cast
to the dtype NumPy computed the op in (the node's output dtype; for a comparison,
the operands' common type), constants become initializers and layer weights
initializers named by their paths.
"""
import numpy as np

from cydl import graph
from cydl.export._onnx_activations import emit_activation

_UNARY = {"Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Negative": "Neg", "Absolute": "Abs",
          "Sin": "Sin", "Cos": "Cos", "StopGradient": "Identity"}
_BINARY = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Divide": "Div",
           "Maximum": "Max", "Minimum": "Min", "Power": "Pow", "Matmul": "MatMul",
           "Equal": "Equal", "Less": "Less", "Greater": "Greater",
           "LessEqual": "LessOrEqual", "GreaterEqual": "GreaterOrEqual"}
_INT64 = np.iinfo(np.int64)


def affine(b, x, ndim, kernel, bias):
    """x @ kernel + bias: Gemm for a matrix, MatMul and Add for more axes."""
    if ndim == 2:
        return b.op("Gemm", [x, kernel] + ([bias] if bias else []))
    y = b.op("MatMul", [x, kernel])
    return b.op("Add", [y, bias]) if bias else y


def _dtype_of(a):
    if isinstance(a, graph.KerasTensor):
        return np.dtype(a.dtype)
    if getattr(a, "_is_variable", False):
        return a.numpy().dtype
    return a


def emit_op(b, node, args):
    """The value name(s) of one op node; args are node.args with tensors as names."""
    from cydl.models._op_config import _prims
    prim, out, attrs = node.operation, node.outputs, dict(node.attrs or {})
    raw = node.args
    if getattr(prim, "op_name", None) == "affine":
        w, bias = b.weight(raw[1]), (b.weight(raw[2]) if len(raw) > 2 else None)
        return affine(b, args[0], raw[0].ndim, w, bias)
    kind = _prims().get(prim)
    if kind is None or not isinstance(out, graph.KerasTensor):
        name = getattr(prim, "op_name", None) or getattr(prim, "__name__", repr(prim))
        raise NotImplementedError(
            f"ONNX export cannot express the op {name!r} in {b.where}: only the "
            f"public cydl.ops functions map to ONNX")
    operands = [a for a in raw if not (isinstance(a, np.ndarray) and a.dtype == bool)]
    dtype = np.dtype(out.dtype) if out.dtype != "bool" else \
        np.result_type(*[_dtype_of(a) for a in operands])

    def v(i, to=dtype):
        """Operand i as a value name of dtype `to`."""
        a = raw[i]
        if isinstance(a, graph.KerasTensor):
            return b.cast(args[i], a.dtype, to) if a.dtype != "bool" else args[i]
        if getattr(a, "_is_variable", False):
            return b.cast(b.weight(a), a.numpy().dtype, to)
        return b.const(a, to if np.asarray(a).dtype != bool else bool)
    if kind == "Activation":
        return emit_activation(b, v(0), attrs["name"], attrs.get("alpha"), dtype)
    if kind in _UNARY:
        return b.op(_UNARY[kind], [v(0)])
    if kind == "Square":
        return b.op("Mul", [v(0), v(0)])
    if kind == "Log1p":
        return b.op("Log", [b.op("Add", [v(0), b.const(1, dtype)])])
    if kind in _BINARY:
        return b.op(_BINARY[kind], [v(0), v(1)])
    if kind == "NotEqual":
        return b.op("Not", [b.op("Equal", [v(0), v(1)])])
    if kind in ("Sum", "Mean"):
        axis = attrs.get("axis")
        axes = [] if axis is None else [b.ints(np.atleast_1d(axis), "axes")]
        return b.op(f"Reduce{kind}", [v(0)] + axes, keepdims=int(attrs.get("keepdims")))
    if kind == "Reshape":
        shape = list(attrs["shape"])
        return b.op("Reshape", [v(0), b.ints(shape)], allowzero=int(0 in shape))
    if kind == "Transpose":
        axes = attrs.get("axes")
        perm = list(axes) if axes is not None else list(range(raw[0].ndim))[::-1]
        return b.op("Transpose", [v(0)], perm=perm)
    if kind == "Concatenate":
        return b.op("Concat", [v(i) for i in range(len(raw))], axis=attrs["axis"])
    if kind == "Stack":
        axes = b.ints([attrs["axis"]], "axes")
        return b.op("Concat", [b.op("Unsqueeze", [v(i), axes]) for i in range(len(raw))],
                    axis=attrs["axis"])
    if kind == "Clip":
        bounds = ["" if attrs[k] is None else b.const(attrs[k], dtype) for k in ("lo", "hi")]
        return b.op("Clip", [v(0)] + bounds)
    if kind == "Where":
        return b.op("Where", [v(0, bool), v(1), v(2)])
    if kind == "Cast":
        return b.op("Cast", [args[0]], to=b.helper.np_dtype_to_tensor_dtype(
            np.dtype(out.dtype)))
    if kind == "GetItem":
        return _getitem(b, v(0), raw[0].ndim, attrs["item"])
    raise NotImplementedError(f"ONNX export cannot express the op {kind!r} in "
                              f"{b.where}")


def _getitem(b, x, ndim, item):
    """x[item] for ints, slices and one Ellipsis: Slice, then Squeeze the int axes."""
    item = item if isinstance(item, tuple) else (item,)
    if sum(i is Ellipsis for i in item) == 1:
        k = item.index(Ellipsis)
        item = item[:k] + (slice(None),) * (ndim - len(item) + 1) + item[k + 1:]
    ok = all(isinstance(i, slice) or (isinstance(i, (int, np.integer)) and
                                      not isinstance(i, bool)) for i in item)
    if not ok or len(item) > ndim:
        raise NotImplementedError(f"ONNX export of {b.where}: indexing with {item!r} "
                                  f"(only ints, slices and one Ellipsis map to ONNX)")
    rows, squeeze = [], []
    for axis, i in enumerate(item):
        if isinstance(i, slice):
            step = 1 if i.step is None else int(i.step)
            if i == slice(None):
                continue
            start = i.start if i.start is not None else (0 if step > 0 else _INT64.max)
            stop = i.stop if i.stop is not None else \
                (_INT64.max if step > 0 else _INT64.min)
            rows.append((int(start), int(stop), axis, step))
        else:
            rows.append((int(i), int(i) + 1 if i != -1 else _INT64.max, axis, 1))
            squeeze.append(axis)
    if rows:
        starts, stops, axes, steps = zip(*rows)
        x = b.op("Slice", [x, b.ints(starts, "starts"), b.ints(stops, "ends"),
                           b.ints(axes, "axes"), b.ints(steps, "steps")])
    return b.op("Squeeze", [x, b.ints(squeeze, "axes")]) if squeeze else x

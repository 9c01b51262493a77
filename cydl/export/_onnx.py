"""`model.export(path, format="onnx")`: the model's graph as an ONNX ModelProto.

The graph is the one cydl itself runs (cydl.graph.Function: Sequential, functional
and traced subclassed models alike), walked node by node by GraphBuilder
(_onnx_graph.py): built-in layers map to ONNX ops in _onnx_layers.py, `cydl.ops`
calls (custom layers, Lambda, user activations, raw ops in a functional graph) in
_onnx_ops.py. Nothing is hand-written protobuf: every piece comes from
`onnx.helper` / `onnx.numpy_helper`, and the result passes `onnx.checker` with
shape inference before it is written.

Opset 18 by default: the oldest opset where every reduction takes its axes as an
input (ReduceSum since 13, ReduceMean/ReduceMax in 18), so one code path serves all
of them, and one that ONNX Runtime has run since 1.14 (2023). GELU is written with
Erf rather than opset 20's Gelu op, which keeps the file loadable by runtimes from
before ONNX Runtime 1.17.
"""
import os

import numpy as np

from cydl import graph
from cydl._version import __version__

OPSET = 18
MIN_OPSET = 18


def require_onnx():
    try:
        import onnx
    except ImportError as e:
        raise ImportError('Exporting to ONNX needs the `onnx` package: '
                          'pip install "cydl[onnx]"') from e
    return onnx


def export_onnx(model, filepath, verbose=None, input_signature=None, opset_version=None,
                **kwargs):
    """Write `model` as an ONNX file for inference, as Keras 3's `export_onnx`.

    The graph's inputs are named after the model's inputs, its outputs after
    `model.output_names`; the batch axis is dynamic (dim_param "batch"). A float32
    model gives a float32 graph, a float64 model a double one. The file is written
    to a temporary name and renamed, so a failed export leaves no partial file.

    ONNX Runtime has no double Erf kernel: in a float64 graph, exact GELU computes
    erf in float32 (casts around it), so that one activation is float32-accurate.

    Args:
        model: a built cydl Model. A subclassed model must trace (no data-dependent
            Python control flow in `call`).
        filepath: str or pathlib.Path, the file to write.
        verbose: print the path when done (default True, as in Keras).
        input_signature: optional input shapes, batch axis included, one per input:
            tuples (None for a dynamic axis) or objects with `.shape` (and
            optionally `.dtype`) such as `cydl.Input(...)`. Builds an unbuilt
            subclassed model; an int batch size fixes the graph's batch axis.
        opset_version: the ONNX opset (default 18; at least 18).

    Example:
    >>> model.export("model.onnx", format="onnx")
    >>> session = onnxruntime.InferenceSession("model.onnx")
    >>> y, = session.run(None, {session.get_inputs()[0].name: x})
    """
    if kwargs:
        raise TypeError(f"export_onnx() got unexpected keyword arguments: {sorted(kwargs)}")
    onnx = require_onnx()
    path = _check_path(filepath)
    proto = to_onnx(model, input_signature, opset_version)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        onnx.save_model(proto, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    if verbose is None or verbose:
        print(f"Saved artifact at '{path}'.")


def _check_path(filepath):
    """The path as a str, once it names a file that can be written (before the
    model is converted, and with the path the user gave in the error)."""
    path = os.fspath(filepath)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot export to {path!r}: it is a directory. Give a "
                                f"file name, e.g. {os.path.join(path, 'model.onnx')!r}")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot export to {path!r}: the directory {folder!r} "
                                f"does not exist (create it first)")
    return path


def to_onnx(model, input_signature=None, opset_version=None):
    """The checked onnx.ModelProto of `model` (arguments as for export_onnx)."""
    from cydl.export._onnx_graph import GraphBuilder, model_function
    onnx = require_onnx()
    opset = _opset(onnx, opset_version)
    if input_signature is not None and not getattr(model, "built", True) and \
            hasattr(model, "_function"):
        shapes = [tuple(s) for s, _ in _specs(input_signature)]
        model.build(shapes[0] if len(shapes) == 1 else shapes)
    fn = model_function(model)
    in_names = [t.name or f"input_{i}" for i, t in enumerate(fn.inputs)]
    out_names = list(model.output_names)
    if len(set(in_names)) != len(in_names):
        raise ValueError(f"Model {model.name!r}: its inputs need distinct names to be graph "
                         f"inputs. Received: {in_names}")
    shapes = _input_shapes(fn, in_names, input_signature)
    b = GraphBuilder(onnx, reserved=in_names + out_names)
    outs = b.run(fn, in_names)
    b.name_outputs(outs, out_names)
    h = onnx.helper
    batch = shapes[0][0] if shapes and shapes[0] else "batch"
    inputs = [h.make_tensor_value_info(n, _elem(onnx, t.dtype), s)
              for n, t, s in zip(in_names, fn.inputs, shapes)]
    outputs = [h.make_tensor_value_info(
        n, _elem(onnx, t.dtype), [batch if i == 0 and d is None else
                                  (f"{n}_dim{i}" if d is None else d)
                                  for i, d in enumerate(t.shape)])
        for n, t in zip(out_names, graph.flatten(fn.outputs))]
    g = h.make_graph(b.nodes, model.name, inputs, outputs, initializer=b.initializers)
    opsets = [h.make_opsetid("", opset)]
    proto = h.make_model(g, producer_name="cydl", producer_version=__version__,
                         opset_imports=opsets,
                         ir_version=h.find_min_ir_version_for(opsets))
    proto.doc_string = f"{type(model).__name__} {model.name!r} exported by cydl"
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _opset(onnx, opset_version):
    if opset_version is None:
        return OPSET
    latest = onnx.defs.onnx_opset_version()
    if isinstance(opset_version, bool) or not isinstance(opset_version, (int, np.integer)) \
            or not MIN_OPSET <= opset_version <= latest:
        raise ValueError(f"opset_version must be an int in [{MIN_OPSET}, {latest}] (the "
                         f"installed onnx's newest). Received: opset_version={opset_version!r}")
    return int(opset_version)


def _elem(onnx, dtype):
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _is_spec(x):
    return hasattr(x, "shape") or (isinstance(x, (list, tuple)) and all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool))
        for d in x))


def _specs(signature):
    """[(shape, dtype or None)] from a spec, or a (nested) list or dict of specs."""
    if _is_spec(signature):
        shape = getattr(signature, "shape", signature)
        return [(tuple(None if d is None else int(d) for d in shape),
                 getattr(signature, "dtype", None))]
    if isinstance(signature, dict):
        signature = list(signature.values())
    if isinstance(signature, (list, tuple)):
        return [s for item in signature for s in _specs(item)]
    raise TypeError(f"input_signature must hold shapes (tuples) or objects with a `shape`. "
                    f"Received: {signature!r}")


def _input_shapes(fn, names, signature):
    """Each graph input's dims: the model's, with the signature's sizes where given;
    a dynamic batch axis is "batch", any other dynamic axis "<input>_dim<axis>"."""
    specs = [(None, None)] * len(fn.inputs) if signature is None else _specs(signature)
    if len(specs) != len(fn.inputs):
        raise ValueError(f"input_signature has {len(specs)} input(s), the model "
                         f"{len(fn.inputs)}: {names}")
    out = []
    for name, t, (shape, dtype) in zip(names, fn.inputs, specs):
        shape = t.shape if shape is None else shape
        if len(shape) != len(t.shape) or any(
                m is not None and s is not None and m != s for m, s in zip(t.shape, shape)):
            raise ValueError(f"input_signature: input {name!r} has shape {t.shape} in the "
                             f"model. Received: {shape}")
        if dtype is not None and np.dtype(str(dtype)) != np.dtype(t.dtype):
            raise ValueError(f"input_signature: input {name!r} is {t.dtype} in the model. "
                             f"Received: dtype={dtype}")
        dims = [m if s is None else s for m, s in zip(t.shape, shape)]
        out.append([("batch" if i == 0 else f"{name}_dim{i}") if d is None else d
                    for i, d in enumerate(dims)])
    return out

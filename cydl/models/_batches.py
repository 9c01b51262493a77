"""The data of fit, evaluate and predict, matched to a model's inputs and outputs and
checked once, before any step runs (see cydl.models._data for the checks)."""
import numpy as np

from cydl import graph
from cydl.models import _data


class Data:
    """Checked arrays: inputs (n, ...) each, targets per output, sample weights."""

    def __init__(self, xs, kind, names, targets=(), sw=None):
        self.xs = xs
        self.kind = kind              # "single", "list", "tuple" or "dict"
        self.names = names
        self.targets = list(targets)  # per output: (int32 labels or None, Y or None)
        self.sw = sw
        self.n = xs[0].shape[0]

    def structure(self, xs):
        """Per-input batches in the structure the model's call takes."""
        if self.kind == "single":
            return xs[0]
        if self.kind == "dict":
            return dict(zip(self.names, xs))
        return tuple(xs) if self.kind == "tuple" else list(xs)

    def flat(self, k):
        return self.xs[k].reshape(self.n, -1)

    def take(self, rows):
        def cut(a):
            return None if a is None else a[rows]
        return Data([x[rows] for x in self.xs], self.kind, self.names,
                    [(cut(l), cut(Y)) for l, Y in self.targets], cut(self.sw))


def first_array(x):
    return graph.flatten(list(x.values()) if isinstance(x, dict) else x)[0]


def _split_inputs(x, model):
    if isinstance(x, dict):
        fn = model._function
        names = [t.name for t in fn.inputs] if fn is not None else list(x)
        missing = [n for n in names if n not in x]
        if missing:
            raise ValueError(f"`x` misses inputs {missing}; the model's inputs are {names}")
        return [x[n] for n in names], "dict", names
    if isinstance(x, (list, tuple)):
        kind = "tuple" if isinstance(x, tuple) else "list"
        n_in = _n_inputs(model)
        arrays = len(x) > 0 and all(isinstance(a, np.ndarray) for a in x)
        if (n_in is not None and n_in > 1) or (n_in is None and arrays and len(x) > 1):
            return list(x), kind, None
        if arrays and len(x) == 1:
            return [x[0]], "single", None
    return [x], "single", None


def _n_inputs(model):
    fn = model._function
    if fn is not None:
        return len(fn.inputs)
    if model.built and model.input_shape is not None:
        return len(model.input_shape) if isinstance(model.input_shape, list) else 1
    return None


def _sample_shapes(model, n):
    shape = model.input_shape if model.built else None
    if shape is None:
        return [None] * n
    if isinstance(shape, dict):
        shape = list(shape.values())
    shapes = shape if isinstance(shape, list) else [shape]
    if len(shapes) != n:
        raise ValueError(f"The model expects {len(shapes)} input(s), received {n}")
    return [tuple(s[1:]) for s in shapes]


def prepare_inputs(model, x):
    """x (an array, or a list/tuple/dict of arrays) checked and matched to the model's
    inputs; builds the model from their shapes if it was not built yet."""
    if x is None:
        raise ValueError("`x` is required")
    xs, kind, names = _split_inputs(x, model)
    dtype = model._store_dtype()
    arrays = [_data.as_features(a, "x" if len(xs) == 1 else f"x[{i}]", None, dtype)
              for i, a in enumerate(xs)]
    n = arrays[0].shape[0]
    for i, a in enumerate(arrays[1:], 1):
        if a.shape[0] != n:
            raise ValueError(f"Data cardinality is ambiguous: x[0] has {n} samples, "
                             f"x[{i}] has {a.shape[0]}")
    if not model.built:
        shapes = [(None,) + a.shape[1:] for a in arrays]
        model._maybe_build(shapes[0] if kind == "single" else
                           dict(zip(names, shapes)) if kind == "dict" else shapes)
    for i, (a, shape) in enumerate(zip(arrays, _sample_shapes(model, len(arrays)))):
        _data.check_sample_shape(a, "x" if len(arrays) == 1 else f"x[{i}]", shape)
    return Data(arrays, kind, names)


def _split_targets(y, model):
    names = model.output_names
    if isinstance(y, dict):
        missing = [n for n in names if n not in y]
        if missing:
            raise ValueError(f"`y` misses outputs {missing}; the outputs are {names}")
        return [y[n] for n in names]
    if len(names) > 1:
        if not isinstance(y, (list, tuple)) or len(y) != len(names):
            raise ValueError(f"The model has {len(names)} outputs {names}: pass `y` as a "
                             f"list or dict of {len(names)} arrays")
        return list(y)
    return [y]


def _output_shapes(model):
    shape = model.output_shape
    return shape if isinstance(shape, list) else [shape]


def _final_activations(model):
    from cydl.models._runners import final_activation
    fn = model._function
    if fn is None or model._eager:
        return [None] * len(_output_shapes(model))
    return [final_activation(t.node.operation) if t.node is not None and t.node.is_layer
            else None for t in graph.flatten(fn.outputs)]


def prepare(model, x, y, sample_weight=None, class_weight=None):
    """Inputs, targets and sample weights for training or evaluation."""
    data = prepare_inputs(model, x)
    if y is None:
        raise ValueError("`y` is required: cydl models need targets to compute the loss")
    heads = model._compile_config.bind(model.output_names)
    ys = _split_targets(y, model)
    dtype = model._store_dtype()
    for k, (yk, head, out_shape, act) in enumerate(zip(ys, heads, _output_shapes(model),
                                                      _final_activations(model))):
        _data.check_lengths(data.xs[0], yk, None)
        head.resolve(act, np.shape(yk), out_shape)
        if head.sparse:
            data.targets.append((_data.as_labels(yk, out_shape[-1]), None))
        else:
            data.targets.append((None, _data.as_targets(yk, out_shape, dtype)))
    _data.check_lengths(data.xs[0], ys[0], sample_weight)
    labels = data.targets[0][0]
    if class_weight is not None and labels is None:
        # Keras 3: one-hot targets weigh by their argmax, a single 0/1 column by its
        # rounded value
        Y = data.targets[0][1]
        labels = Y.argmax(axis=1) if Y.shape[1] > 1 else np.rint(Y[:, 0]).astype(np.int64)
        if labels.size and labels.min() < 0:
            raise ValueError(f"class_weight needs non-negative classes; the targets round "
                             f"to the class {labels.min()}")
    data.sw = _data.as_sample_weight(sample_weight, data.n, dtype, class_weight, labels)
    return data

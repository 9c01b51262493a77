"""plot_model and model_to_dot: a model's layer graph drawn with pydot and Graphviz."""
import html
import numbers
import os
import tempfile

import numpy as np

_PYDOT_HINT = ('pip install pydot (or pip install "cydl[plot]"); drawing also needs '
               "Graphviz's `dot` program")
_DOT_HINT = ("install Graphviz (e.g. `apt-get install graphviz`, `brew install graphviz`, "
             "`conda install graphviz`, or https://graphviz.org/download/) and make sure "
             "`dot` is on the PATH")
_RANKDIRS = ("TB", "LR", "BT", "RL")


def _pydot():
    try:
        import pydot
    except ImportError as e:
        raise ImportError(f"model_to_dot and plot_model need the pydot package, which is "
                          f"not installed ({e}): {_PYDOT_HINT}") from None
    return pydot


def _check_graphviz(pydot):
    """Render an empty graph: the cheapest proof that `dot` runs."""
    errors = tuple(e for e in (OSError, getattr(pydot, "PydotException", None),
                               getattr(pydot, "InvocationException", None)) if e is not None)
    try:
        pydot.Dot.create(pydot.Dot())
    except errors as e:
        raise ImportError(f"plot_model could not run Graphviz's `dot` program ({e}): "
                          f"{_DOT_HINT}. pydot is installed; model_to_dot works without "
                          f"Graphviz") from None


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_, numbers.Integral)):
        raise TypeError(f"`{name}` must be True or False. Received: {name}={value!r} of type "
                        f"{type(value).__name__}")
    return bool(value)


def _check_args(model, rankdir, dpi, **flags):
    from cydl.layers.base import Layer
    if not isinstance(model, Layer) or not hasattr(model, "layers"):
        raise TypeError(f"Expected a cydl model. Received: model={model!r} of type "
                        f"{type(model).__name__}")
    if not model.built:
        raise ValueError(f"Model {model.name!r} has not been built yet: build it first "
                         f"(give it an Input, call build(), or call it on a batch of data)")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"`rankdir` must be one of {', '.join(map(repr, _RANKDIRS))}. "
                         f"Received: rankdir={rankdir!r}")
    if isinstance(dpi, (bool, np.bool_)) or not isinstance(dpi, (numbers.Real, np.number)) \
            or not np.isfinite(dpi) or dpi <= 0:
        raise (TypeError if not isinstance(dpi, (numbers.Real, np.number))
               or isinstance(dpi, (bool, np.bool_)) else ValueError)(
            f"`dpi` must be a positive number. Received: dpi={dpi!r}")
    return {k: _flag(v, k) for k, v in flags.items()}


# ---------------------------------------------------------------- labels
def _fmt_shapes(tensors):
    shapes = [tuple(t.shape) for t in tensors]
    if not shapes:
        return "?"
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _fmt_dtypes(tensors):
    dtypes = [str(t.dtype) for t in tensors]
    if not dtypes:
        return "?"
    return dtypes[0] if len(set(dtypes)) == 1 else str(dtypes)


def _activation_name(fn):
    from cydl import activations
    try:
        name = activations.serialize(fn)
    except Exception:  # noqa: BLE001  (a custom callable: its own name will do)
        name = None
    if not isinstance(name, str):
        name = getattr(fn, "__name__", None) or type(fn).__name__
    return name


def _label(obj, class_name, inputs, outputs, opts):
    """A Keras 3 style HTML table: the name and class, then the optional rows."""
    e = html.escape
    cols = []
    if opts["show_shapes"]:
        if class_name != "InputLayer":
            cols.append(f'<td bgcolor="white"><font point-size="14">Input shape: '
                        f"<b>{e(_fmt_shapes(inputs))}</b></font></td>")
        cols.append(f'<td bgcolor="white"><font point-size="14">Output shape: '
                    f"<b>{e(_fmt_shapes(outputs))}</b></font></td>")
    if opts["show_dtype"]:
        cols.append(f'<td bgcolor="white"><font point-size="14">Output dtype: '
                    f"<b>{e(_fmt_dtypes(outputs))}</b></font></td>")
    weights = getattr(obj, "weights", None)
    if opts["show_trainable"] and weights:
        cols.append('<td bgcolor="forestgreen"><font point-size="14" color="white">'
                    "<b>Trainable</b></font></td>" if obj.trainable else
                    '<td bgcolor="firebrick"><font point-size="14" color="white">'
                    "<b>Non-trainable</b></font></td>")
    span = max(1, len(cols))
    name = getattr(obj, "name", None) or getattr(obj, "__name__", None) or class_name
    title = (f"<b>{e(name)}</b> ({e(class_name)})" if opts["show_layer_names"]
             else f"<b>{e(class_name)}</b>")
    rows = [f'<tr><td colspan="{span}" bgcolor="black"><font point-size="16" '
            f'color="white">{title}</font></td></tr>']
    activation = getattr(obj, "activation", None)
    if opts["show_layer_activations"] and activation is not None:
        rows.append(f'<tr><td bgcolor="white" colspan="{span}"><font point-size="14">'
                    f"Activation: <b>{e(_activation_name(activation))}</b></font></td></tr>")
    if cols:
        rows.append(f"<tr>{''.join(cols)}</tr>")
    return ('<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
            + "".join(rows) + "</table>>")


# ---------------------------------------------------------------- graph walk
def _is_graph_model(obj):
    from cydl.models.model import Model
    return isinstance(obj, Model) and obj._is_graph and obj._function is not None


def _add_node(pydot, container, key, label):
    node = pydot.Node(key, label=label)
    node.set("fontname", "Helvetica")
    node.set("border", "0")
    node.set("margin", "0")
    container.add_node(node)


class _Drawer:
    """Adds a model's boxes to a pydot graph (clusters for expanded nested models)
    and collects the edges, each drawn once."""

    def __init__(self, pydot, opts, expand_nested):
        self.pydot, self.opts, self.expand = pydot, opts, expand_nested
        self.edges = []
        self._keys = set()      # the boxes drawn so far
        self._expanded = {}     # id(nested model) -> (entry keys, exit keys)

    def edge(self, src, dst):
        if (src, dst) not in self.edges:
            self.edges.append((src, dst))

    def model(self, model, container):
        """Draw `model`'s graph into `container`: (a box key per input tensor, a box
        key per output tensor), so that a parent can connect to them."""
        from cydl import graph
        fn = model._function
        producer, entries = {}, []
        for t in fn.inputs:
            layer = getattr(t, "_input_layer", None)
            key = str(id(layer if layer is not None else t))
            if layer is not None and not self._seen(key):
                _add_node(self.pydot, container, key,
                          _label(layer, "InputLayer", [], [t], self.opts))
            elif layer is None and not self._seen(key):
                # a traced input without an InputLayer: a plain box stands for it
                _add_node(self.pydot, container, key,
                          _label(t, "Input", [], [t], self.opts))
            producer[id(t)] = key
            entries.append(key)
        for node in fn.nodes:
            op = node.operation
            parents = node.parents()
            outs = graph.flatten(node.outputs)
            if self.expand and _is_graph_model(op):
                inner_in, inner_out = self._nested(op, container)
                for i, p in enumerate(parents):
                    self.edge(producer[id(p)], inner_in[min(i, len(inner_in) - 1)])
                for j, t in enumerate(outs):
                    producer[id(t)] = inner_out[min(j, len(inner_out) - 1)]
                continue
            # a layer is one box however often it is called; an op call is a box each
            key = str(id(op)) if node.is_layer else str(id(node))
            if not self._seen(key):
                class_name = type(op).__name__ if node.is_layer else \
                    getattr(op, "__name__", type(op).__name__)
                _add_node(self.pydot, container, key,
                          _label(op, class_name, parents, outs, self.opts))
            for p in parents:
                self.edge(producer[id(p)], key)
            for t in outs:
                producer[id(t)] = key
        exits = [producer[id(t)] for t in graph.flatten(fn.outputs)]
        return entries, exits

    def _seen(self, key):
        if key in self._keys:
            return True
        self._keys.add(key)
        return False

    def _nested(self, model, container):
        if id(model) not in self._expanded:
            cluster = self.pydot.Cluster(style="dashed", graph_name=f"m{id(model)}")
            cluster.set("label", model.name)
            cluster.set("labeljust", "l")
            self._expanded[id(model)] = self.model(model, cluster)
            container.add_subgraph(cluster)
        return self._expanded[id(model)]


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False, splines="ortho"):
    """Convert a model to a `pydot.Dot` graph: one box per layer, one arrow per
    connection. Needs pydot (`pip install pydot`), not Graphviz.

    Sequential and functional models are drawn layer by layer, their Input layers
    included; a subclassed model is a single box, as in Keras.

    Args:
        model: a built cydl model.
        show_shapes: show each layer's input and output shapes.
        show_dtype: show each layer's output dtype.
        show_layer_names: show the layer names (else only their classes).
        rankdir: "TB" (top to bottom), "LR" (left to right), "BT" or "RL".
        expand_nested: draw the layers of nested models inside a dashed cluster
            instead of one box per nested model.
        dpi: the image resolution.
        subgraph: return a `pydot.Cluster` (for drawing inside another graph).
        show_layer_activations: show the activation of layers that have one.
        show_trainable: show whether each layer with weights is trainable.
        splines: Graphviz's edge style: "ortho" (default), "curved", "polyline",
            "spline" or "line".

    Returns:
        A `pydot.Dot` (or `pydot.Cluster` with `subgraph=True`); `to_string()`
        gives its dot source.

    Example:

    >>> dot = cydl.utils.model_to_dot(model, show_shapes=True)
    >>> print(dot.to_string())
    """
    opts = _check_args(model, rankdir, dpi, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, expand_nested=expand_nested,
                       subgraph=subgraph, show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable)
    if not isinstance(splines, str):
        raise TypeError(f"`splines` must be a str such as 'ortho'. Received: "
                        f"splines={splines!r}")
    pydot = _pydot()
    if opts.pop("subgraph"):
        dot = pydot.Cluster(style="dashed", graph_name=f"m{id(model)}")
        dot.set("label", model.name)
        dot.set("labeljust", "l")
    else:
        dot = pydot.Dot()
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set("splines", splines)
        dot.set_node_defaults(shape="record")
    expand = opts.pop("expand_nested")
    if not _is_graph_model(model):
        from cydl.graph import KerasTensor
        shapes = model.input_shape, model.output_shape

        def tensors(s):
            # input_shape: one tuple, or a list of them for several inputs
            many = isinstance(s, list) or (isinstance(s, tuple) and s and
                                          isinstance(s[0], (tuple, list)))
            return [KerasTensor(x, model.dtype) for x in (s if many else [s]) if x is not None]
        _add_node(pydot, dot, str(id(model)),
                  _label(model, type(model).__name__, tensors(shapes[0]), tensors(shapes[1]),
                         opts))
        return dot
    drawer = _Drawer(pydot, opts, expand)
    drawer.model(model, dot)
    for src, dst in drawer.edges:
        edge = pydot.Edge(src, dst)
        edge.set("penwidth", "2")
        dot.add_edge(edge)
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=True, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, splines="ortho"):
    """Draw a model's layer graph into an image file with pydot and Graphviz.

    Needs pydot (`pip install pydot`, or `pip install "cydl[plot]"`) and Graphviz's
    `dot` program (a system package: `apt-get install graphviz`, `brew install
    graphviz`, ...); the error says which one is missing. The file is written whole
    or not at all (a temporary file renamed over it).

    Args:
        model: a built cydl model.
        to_file: the image file; its extension picks the format ("png", "svg",
            "pdf", "dot", ...; none means PNG).
        show_shapes: show each layer's input and output shapes.
        show_dtype: show each layer's output dtype.
        show_layer_names: show the layer names (else only their classes).
        rankdir: "TB" (top to bottom), "LR" (left to right), "BT" or "RL".
        expand_nested: draw the layers of nested models inside dashed clusters.
        dpi: the image resolution.
        show_layer_activations: show the activation of layers that have one.
        show_trainable: show whether each layer with weights is trainable.
        splines: Graphviz's edge style ("ortho", "curved", "polyline", "spline",
            "line").

    Returns:
        When IPython is installed, an `IPython.display.Image` (PNG, JPEG, GIF) or
        `IPython.display.SVG` of the file, so that a notebook shows it; else None.

    Example:

    >>> cydl.utils.plot_model(model, "my_fashion_mnist_model.png", show_shapes=True)
    """
    if not isinstance(to_file, (str, os.PathLike)):
        raise TypeError(f"`to_file` must be a path (str or os.PathLike). Received: "
                        f"to_file={to_file!r} of type {type(to_file).__name__}")
    to_file = os.fspath(to_file)
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable, splines=splines)
    pydot = _pydot()
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    formats = getattr(dot, "formats", None)
    if formats and extension not in formats:
        raise ValueError(f"plot_model cannot write a {extension!r} file. Received: "
                         f"to_file={to_file!r}; use one of the extensions "
                         f"{', '.join(sorted(set(formats) - {'raw'}))}")
    _check_graphviz(pydot)
    data = dot.create(format=extension)
    folder = os.path.dirname(os.path.abspath(to_file))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(to_file) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, to_file)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    if extension not in ("png", "jpg", "jpeg", "gif", "svg"):
        return None         # formats a notebook cannot show inline
    try:
        from IPython import display
    except ImportError:
        return None
    if extension == "svg":
        return display.SVG(filename=to_file)
    return display.Image(filename=to_file)

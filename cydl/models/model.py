"""Model: the functional API and subclassing, over one graph engine.

`Model(inputs, outputs)` is a Function over the nodes between them. A subclass
that makes layers in `__init__` and composes them in `call` is traced once into
the same kind of graph when its `call` has no data-dependent Python control flow;
otherwise it runs eagerly, on a tape. Sequential is a Model whose graph is a chain.
Training, evaluation and prediction come from Trainer (cydl.models.trainer).
"""
import threading

from cydl import graph
from cydl.layers.base import Layer, unique_name
from cydl.layers.input_layer import InputLayer
from cydl.models.trainer import Trainer


class Model(Trainer, Layer):
    """A graph of layers that trains: compile, fit, evaluate, predict.

    Args:
        inputs: a KerasTensor from cydl.Input, or a list or dict of them.
        outputs: the KerasTensor(s) the model computes from them.
        name: the model's name.

    Example (functional):
    >>> inputs = cydl.Input(shape=(8,))
    >>> hidden = cydl.layers.Dense(30, activation="relu")(inputs)
    >>> model = cydl.Model(inputs=inputs, outputs=cydl.layers.Dense(1)(hidden))

    Example (subclassing):
    >>> class WideAndDeep(cydl.Model):
    ...     def __init__(self, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.hidden = cydl.layers.Dense(30, activation="relu")
    ...         self.out = cydl.layers.Dense(1)
    ...     def call(self, inputs):
    ...         wide, deep = inputs
    ...         return self.out(cydl.layers.concatenate([wide, self.hidden(deep)]))
    """

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        super().__init__(name=name or unique_name(self._default_name()), **kwargs)
        self._function = None
        self._eager = False          # a subclass whose call could not be traced
        self._init_trainer()
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("A functional model needs both `inputs` and `outputs`")
            self._set_function(graph.Function(inputs, outputs))

    def _default_name(self):
        return "functional" if type(self) is Model else type(self).__name__.lower()

    def _set_function(self, fn):
        for t in fn.inputs:
            if not isinstance(t, graph.KerasTensor):
                raise TypeError(f"Model inputs must come from cydl.Input. Received {t!r}")
        self._function = fn
        self._input_layers = [getattr(t, "_input_layer", None) for t in fn.inputs]
        self.input_shape = _shapes(fn.input_structure)
        self.output_shape = _shapes(fn.outputs)
        self.built = True
        self._invalidate()

    @property
    def _is_graph(self):
        return type(self).call is Model.call

    # ------------------------------------------------------------ structure
    @property
    def layers(self):
        if self._is_graph and self._function is not None:
            inputs = [l for l in self._input_layers if l is not None]
            return inputs + self._function.layers()
        return list(self._tracked)

    def _sublayers(self):
        if self._is_graph:
            return self._function.layers() if self._function is not None else []
        return list(self._tracked)

    @property
    def inputs(self):
        return self._function.inputs if self._function is not None else None

    @property
    def outputs(self):
        return graph.flatten(self._function.outputs) if self._function is not None else None

    @property
    def output_names(self):
        """The names of the output layers, in output order, as in Keras: the keys of
        per-output losses, metrics and targets, and the prefixes of their logs
        ("cls_loss"). Two outputs from one layer, or a model whose outputs have no
        layer, get "output_1", "output_2", ... so that the names stay unique.

        Example:

        >>> model = cydl.Model(inputs, [Dense(3, name="cls")(h), Dense(1, name="reg")(h)])
        >>> model.output_names
        ['cls', 'reg']
        """
        if self._function is not None and self._is_graph:
            names = [t.name or f"output_{i + 1}" for i, t in enumerate(self.outputs)]
            if len(set(names)) == len(names):
                return names
        return [f"output_{i + 1}" for i in range(self._n_outputs())]

    def _n_outputs(self):
        if self._function is not None:
            return len(graph.flatten(self._function.outputs))
        return len(graph.flatten(self.output_shape)) if isinstance(self.output_shape, list) \
            else 1

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in `layers`."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. Existing layers are: "
                         f"{[layer.name for layer in self.layers]}")

    # ------------------------------------------------------------ building
    def build(self, input_shape):
        """Build a subclassed model for inputs of this shape (batch axis included)."""
        if not self.built:
            self._build_for(input_shape)

    def _maybe_build(self, input_shape):
        if not self.built:
            self._build_for(input_shape)

    def _build_for(self, shape):
        """Trace call() on symbolic inputs of this shape into a graph; a call that
        needs concrete values runs eagerly instead (built by one call on zeros)."""
        sym = _symbolic_inputs(shape, self.dtype)
        try:
            outputs = self.call(sym, **({"training": False} if _takes_training(self) else {}))
            fn = graph.Function(sym, outputs)
        except Exception:     # noqa: BLE001 (data-dependent control flow, or numpy on a symbol)
            self._eager = True
            dummy = graph.map_structure(graph._dummy, sym)
            out = self.call(dummy, **({"training": False} if _takes_training(self) else {}))
            self.input_shape = _shapes(sym)
            self.output_shape = _shapes(graph.map_structure(
                lambda v: graph.KerasTensor((None,) + tuple(v.shape[1:]), v.dtype), out))
            self.built = True
            self._invalidate()
            return
        self._function = fn
        self._input_layers = [None] * len(fn.inputs)
        self.input_shape = _shapes(sym)
        self.output_shape = _shapes(outputs)
        self.built = True
        self._invalidate()

    # ------------------------------------------------------------ running
    def call(self, inputs, training=None):
        if self._function is None:
            raise ValueError(f"Model {self.name!r} has no graph yet: give it inputs and "
                             "outputs, or override call()")
        flat = graph.flatten(_match_inputs(self._function, inputs))
        return self._function.run(flat, training=bool(training))

    def _forward(self, inputs, training):
        """The outputs for concrete inputs: the graph, or the eager call()."""
        if self._function is not None and not self._eager:
            return self._function.run(graph.flatten(_match_inputs(self._function, inputs)),
                                      training=training)
        return Layer.__call__(self, inputs, training=training)

    def _sample_structure(self):
        return self.input_shape

    # ------------------------------------------------------------ config, copies
    def get_config(self):
        """The model's config, as in Keras 3: the layers and their connections for a
        functional model; for a subclassed model, the constructor arguments it was
        made with (recorded when they are plain values; otherwise define get_config)."""
        from cydl.models import config as config_mod
        return config_mod.model_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model a config describes: the graph of a functional config, else
        cls(**config)."""
        from cydl.models import config as config_mod
        return config_mod.model_from_config(cls, config, custom_objects)

    def __setstate__(self, state):
        super().__setstate__(state)
        self._lock = threading.RLock()
        self._store = None
        self._invalidate()

    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs):
        """Print a table of the layers, output shapes and parameter counts."""
        from cydl.models.summary import print_summary
        print_summary(self, line_length, print_fn)


def _takes_training(model):
    import inspect
    params = inspect.signature(model.call).parameters
    return "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def _shapes(structure):
    if isinstance(structure, (list, tuple)):
        return [_shapes(s) for s in structure]
    if isinstance(structure, dict):
        return {k: _shapes(v) for k, v in structure.items()}
    return tuple(structure.shape)


def _symbolic_inputs(shape, dtype):
    if isinstance(shape, dict):
        return {k: _symbolic_inputs(v, dtype) for k, v in shape.items()}
    if isinstance(shape, list) or (isinstance(shape, tuple) and shape and
                                   isinstance(shape[0], (tuple, list))):
        return [_symbolic_inputs(s, dtype) for s in shape]
    layer = InputLayer(shape=tuple(shape[1:]), dtype=dtype)
    return layer.output


def _match_inputs(fn, inputs):
    """Inputs as the graph wants them: a dict is matched by input name."""
    if isinstance(inputs, dict):
        try:
            return [inputs[t.name] for t in fn.inputs]
        except KeyError as e:
            raise ValueError(f"Missing input {e.args[0]!r}; the model's inputs are "
                             f"{[t.name for t in fn.inputs]}") from None
    flat = graph.flatten(inputs)
    if len(flat) != len(fn.inputs):
        raise ValueError(f"The model expects {len(fn.inputs)} input(s), received "
                         f"{len(flat)}")
    return flat

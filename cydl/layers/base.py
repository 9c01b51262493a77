"""The Layer contract, as in Keras 3: `__init__` stores the config, `build(input_shape)`
creates the weights with `add_weight`, and `call(inputs, training=None)` computes the
output. There is no backward to write: `call` is made of differentiable ops
(cydl.ops, or the compiled primitives the built-in layers use), and the gradient of
each call is a closure recorded for that call (see cydl.autodiff). Models put every
weight into one flat buffer (see cydl.models._store); layers only see views.
"""
import collections
import inspect
import threading

import numpy as np

from cydl import _config, constraints, initializers, regularizers
from cydl._checks import as_array
from cydl._registry import snake_case
from cydl.autodiff import requires_grad
from cydl.layers._init_args import capture
from cydl.variables import Variable

_NAME_COUNTS = collections.defaultdict(int)
_context = threading.local()       # the `training` flag of the outermost call


def clear_session():
    """Reset the automatic layer names (dense, dense_1, ...)."""
    _NAME_COUNTS.clear()


def unique_name(base):
    n = _NAME_COUNTS[base]
    _NAME_COUNTS[base] += 1
    return base if n == 0 else f"{base}_{n}"


def work_buffer(cache, key, shape, dtype, order="F"):
    """A view of a cached array, grown when needed, so that a steady-state training
    step allocates nothing."""
    size = int(np.prod(shape))
    buf = cache.get(key)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = cache[key] = np.empty(size, dtype)
    return buf[:size].reshape(shape, order=order)


def _accepts_training(cls):
    flag = cls.__dict__.get("_call_takes_training")
    if flag is None:
        params = inspect.signature(cls.call).parameters
        flag = "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
        cls._call_takes_training = flag
    return flag


def current_training():
    """The training flag in effect for a call that did not pass one."""
    return getattr(_context, "training", False)


class collect_activity:
    """Context: every activity-regularization loss that layer calls add (each a
    penalty over the batch size, a Tensor under a tape) goes into `into`, a list.
    The graph runner seeds its backward pass with them and adds them to the loss."""

    def __init__(self, into):
        self.into = into

    def __enter__(self):
        self.prev = getattr(_context, "activity", None)
        _context.activity = self.into
        return self.into

    def __exit__(self, *exc):
        _context.activity = self.prev


def _activity_losses(regularizer, outputs):
    """Keras 3: regularizer(output) / batch size for each output tensor of a call."""
    from cydl import graph, ops
    from cydl.regularizers import penalty
    out = []
    for y in graph.flatten(outputs):
        if not hasattr(y, "shape") or getattr(y, "_is_symbolic", False):
            continue
        loss = penalty(regularizer, y)
        if len(y.shape) and y.shape[0]:       # Keras' divide_no_nan: an empty batch adds 0
            loss = ops.divide(loss, y.shape[0])
        elif len(y.shape):
            loss = np.zeros((), np.asarray(getattr(y, "value", y)).dtype)
        out.append(loss)
    return out


def _as_input(x, dtype, name):
    """Arrays become arrays of the layer dtype; Tensors and nested structures pass."""
    if isinstance(x, (list, tuple)):
        return type(x)(_as_input(v, dtype, name) for v in x)
    if isinstance(x, dict):
        return {k: _as_input(v, dtype, name) for k, v in x.items()}
    if getattr(x, "_is_variable", False) or hasattr(x, "vjp"):
        return x
    a = as_array(x, "inputs")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"Layer {name!r} expects numeric input. Received dtype={a.dtype}")
    if a.dtype == dtype:
        return a
    if a is x and requires_grad(a):     # an array a GradientTape watches: cast on the tape
        from cydl.ops import cast
        return cast(a, dtype)
    return a.astype(dtype)


def shapes_of(x):
    if isinstance(x, (list, tuple)):
        return [shapes_of(v) for v in x]
    if isinstance(x, dict):
        return {k: shapes_of(v) for k, v in x.items()}
    return tuple(x.shape)


class Layer:
    """Base class of all layers.

    Subclass it with `build(input_shape)` (create weights with `add_weight`) and
    `call(inputs, training=None)` written with cydl.ops; cydl differentiates it.

    Args:
        name: the layer's name; unique automatic names by default.
        dtype: "float32" or "float64"; default cydl.config.floatx().
        trainable: whether the optimizer updates this layer's weights.
        input_shape: shape of one sample, for the first layer of a Sequential.
        activity_regularizer: a penalty on the layer's output, added to the loss
            divided by the batch size, as in Keras 3 (e.g. "l1" or
            cydl.regularizers.L1(1e-3)). L1/L2/L1L2 on a layer of the fused plan
            stay in the compiled step.

    Example:
    >>> class Scale(cydl.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
    ...     def call(self, x):
    ...         return x * self.w
    >>> Scale()(np.ones((2, 3))).shape
    (2, 3)
    """

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        if not cls.__module__.startswith("cydl."):
            # a custom class: its constructor arguments are its config when it has no
            # get_config() (Keras 3's auto-config), see cydl/layers/_init_args.py
            object.__setattr__(obj, "_auto_config", capture(cls, args, kwargs))
        return obj

    def __init__(self, name=None, dtype=None, trainable=True, input_shape=None,
                 input_dim=None, batch_input_shape=None, activity_regularizer=None,
                 **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                            f"{kwargs}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string. Received: name={name!r}")
        object.__setattr__(self, "_tracked", [])
        self.name = name or unique_name(snake_case(type(self).__name__))
        if dtype is not None:
            dtype = np.dtype(dtype).name
            if dtype not in ("float32", "float64"):
                raise ValueError(f"dtype must be float32 or float64. Received: dtype={dtype!r}")
        self._dtype = dtype
        self._trainable = bool(trainable)
        self.built = False
        self._variables = []
        self._input_spec = None
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_dim is not None:
            input_shape = (input_dim,)
        if input_shape is not None:
            self._input_spec = tuple(input_shape)
        self.input_shape = None
        self.output_shape = None
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._activity = []       # the activity losses of the latest call

    def __setattr__(self, key, value):
        # Keras' auto-tracking: layers held as attributes (or in lists of them)
        # contribute their weights to this layer's
        tracked = self.__dict__.get("_tracked")
        if tracked is not None and not key.startswith("_"):
            items = value if isinstance(value, (list, tuple)) else (value,)
            for item in items:
                if isinstance(item, Layer) and item is not self and \
                        all(t is not item for t in tracked):
                    tracked.append(item)
        object.__setattr__(self, key, value)

    # ------------------------------------------------------------ properties
    @property
    def dtype(self):
        return self._dtype or _config.floatx()

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value

    def _sublayers(self):
        return list(self._tracked)

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    @property
    def variables(self):
        return self.weights

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        own = [v for v in self._variables if v.trainable]
        return _unique(own + [v for layer in self._sublayers() for v in layer.trainable_weights])

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            own = list(self._variables) + [v for layer in self._sublayers()
                                           for v in layer.weights]
        else:
            own = [v for v in self._variables if not v.trainable] + \
                  [v for layer in self._sublayers() for v in layer.non_trainable_weights]
        return _unique(own)

    trainable_variables = property(lambda self: self.trainable_weights)
    non_trainable_variables = property(lambda self: self.non_trainable_weights)

    @property
    def losses(self):
        """The regularization penalties of the trainable weights (this layer's and its
        sublayers'), one scalar each, then the activity-regularization losses of the
        latest call of this layer and its sublayers: add them to the loss of a
        custom training loop, inside the GradientTape so that they differentiate."""
        from cydl.regularizers import penalty
        out = [penalty(v.regularizer, v) for v in self.trainable_weights
               if v.regularizer is not None]
        seen, stack = set(), [self]
        while stack:
            layer = stack.pop(0)
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out += getattr(layer, "_activity", [])
            stack += layer._sublayers()
        return out

    # ------------------------------------------------------------ building
    def add_weight(self, name=None, shape=None, initializer="glorot_uniform", dtype=None,
                   trainable=True, regularizer=None, constraint=None):
        """Create a weight of this layer; returns its Variable."""
        shape = tuple(int(s) for s in (shape or ()))
        init = initializers.get(initializer)
        value = init(shape, dtype or self.dtype)
        var = Variable(value, name or f"variable_{len(self._variables)}", trainable,
                       regularizers.get(regularizer), constraints.get(constraint))
        var.path = f"{self.name}/{var.name}"
        self._variables.append(var)
        return var

    def build(self, input_shape):
        """Create the weights for inputs of `input_shape` (batch axis included)."""
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(input_shape)
            self.built = True
            if isinstance(input_shape, tuple):
                self.input_shape = (None,) + tuple(input_shape[1:])
                try:
                    self.output_shape = self.compute_output_shape(self.input_shape)
                except Exception:      # noqa: BLE001 (a custom layer's shape is found by calling it)
                    self.output_shape = None
            else:
                self.input_shape = input_shape

    # ------------------------------------------------------------ computing
    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must implement call()")

    def __call__(self, inputs, *args, training=None, **kwargs):
        from cydl import graph
        if graph.any_symbolic(inputs):
            return graph.layer_node(self, inputs, args, training, kwargs)
        inputs = _as_input(inputs, self.dtype, self.name)
        self._maybe_build(shapes_of(inputs))
        outer = getattr(_context, "training", None)
        if training is None:
            training = bool(outer)
        _context.training = bool(training)
        try:
            if _accepts_training(type(self)):
                kwargs["training"] = bool(training)
            outputs = self.call(inputs, *args, **kwargs)
        finally:
            _context.training = outer
        if getattr(self, "activity_regularizer", None) is not None:
            self._activity = _activity_losses(self.activity_regularizer, outputs)
            collector = getattr(_context, "activity", None)
            if collector is not None:
                collector.extend(self._activity)
        return outputs

    # ------------------------------------------------------------ weights
    def get_weights(self):
        """Copies of the weights, in the order of `weights`."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"Layer {self.name!r} expects {len(own)} weights, "
                             f"received {len(weights)}")
        for var, w in zip(own, weights):
            var.assign(w)

    def count_params(self):
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet: call it on data first")
        return int(sum(v.size for v in self.weights))

    # ------------------------------------------------------------ config, copies
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._input_spec is not None:
            config["input_shape"] = self._input_spec
        if getattr(self, "activity_regularizer", None) is not None:     # as Keras writes it
            from cydl._registry import serialize
            config["activity_regularizer"] = serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __getstate__(self):
        # caches (compiled runners, work buffers) are rebuilt on demand, never copied
        return {k: v for k, v in self.__dict__.items() if k not in self._CACHES}

    _CACHES = ("_store", "_runners", "_fast", "_lock", "_activity")

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out

"""Lambda: a function as a layer, and why most of them cannot be saved.

A cydl file holds no code: it is never pickled and loading imports nothing named
in it. A Lambda therefore saves by name only a plain module-level function (or one
of cydl.ops / cydl.activations), which load_model finds again in `custom_objects`
(or in cydl). A lambda or a closure has no such name: saving the model is a
ValueError that says so; save_weights works for any model.
"""
import inspect

import numpy as np

from cydl.layers.base import Layer


def _cydl_name(fn):
    """The name under which cydl.ops or cydl.activations holds fn, or None."""
    from cydl import activations, ops
    name = getattr(fn, "__name__", None)
    for module in (ops, activations):
        if name and not name.startswith("_") and getattr(module, name, None) is fn:
            return name
    return None


def savable_name(fn):
    """The name a saved file can use for fn: a module-level function without a
    closure, or one of cydl's; None for a lambda, a closure, a bound method..."""
    if _cydl_name(fn):
        return fn.__name__
    if inspect.isfunction(fn) and fn.__name__ != "<lambda>" and \
            fn.__qualname__ == fn.__name__ and not fn.__closure__:
        return fn.__name__
    return None


def find_function(name, custom_objects, owner):
    """The function a saved {"function": name} means: from custom_objects, else cydl."""
    from cydl import activations, ops
    found = (custom_objects or {}).get(name)
    if found is None and not name.startswith("_"):
        found = getattr(ops, name, None) or getattr(activations, name, None)
    if found is None:
        raise ValueError(f"Unknown function {name!r} of {owner} in the saved file: pass it "
                         f"in custom_objects={{{name!r}: {name}}}")
    return found


class Lambda(Layer):
    """Wraps a function of the inputs, written with cydl.ops, as a layer.

    Args:
        function: callable(inputs, **arguments); it also receives `training` when
            its signature names it.
        output_shape: the output shape without the batch axis, or a function of
            the input shape; by default found by calling `function` on zeros.
        arguments: dict of keyword arguments passed to `function`.

    Saving: a model with a Lambda saves only when `function` is a plain
    module-level function (restored through `custom_objects`) or a cydl op; for a
    lambda or a closure write a custom layer with `get_config()`, or use
    `save_weights()`.

    Example:
    >>> layer = cydl.layers.Lambda(lambda x: cydl.ops.square(x))
    >>> layer(np.array([[1.0, -2.0]]))
    array([[1., 4.]], dtype=float32)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable. Received: "
                            f"function={function!r} of type {type(function).__name__}")
        if mask is not None:
            raise NotImplementedError("Lambda: `mask` is not supported (cydl has no masking)")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: `arguments` must be a dict of keyword arguments. "
                            f"Received: arguments={arguments!r}")
        if output_shape is not None and not callable(output_shape):
            output_shape = tuple(output_shape)
        self.function = function
        self.output_shape_arg = output_shape
        self.arguments = dict(arguments or {})
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):      # some builtins have no signature
            params = {}
        self._fn_training = "training" in params

    def compute_output_shape(self, input_shape):
        spec = self.output_shape_arg
        if callable(spec):
            return spec(input_shape)
        if spec is not None:
            return (input_shape[0],) + spec
        zeros = np.zeros(tuple(1 if s is None else s for s in input_shape), self.dtype)
        return (input_shape[0],) + tuple(np.shape(self.function(zeros, **self.arguments))[1:])

    def call(self, inputs, training=None):
        kwargs = dict(self.arguments)
        if self._fn_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def get_config(self):
        """The config, holding the function itself: fine in memory (clone_model); the
        saver writes it by name or explains why it cannot (see cydl.saving)."""
        return {**super().get_config(), "function": self.function,
                "output_shape": self.output_shape_arg, "arguments": self.arguments}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        owner = f"Lambda layer {config.get('name')!r}"
        for key in ("function", "output_shape"):
            spec = config.get(key)
            if isinstance(spec, dict) and "function" in spec:
                config[key] = find_function(spec["function"], custom_objects, owner)
        return cls(**config)

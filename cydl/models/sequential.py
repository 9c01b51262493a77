"""Sequential: a plain stack of layers, kept as a chain-shaped graph."""
from cydl import graph
from cydl.layers.base import Layer
from cydl.layers.input_layer import InputLayer, KerasTensor
from cydl.models.model import Model


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: list of layers; it may start with cydl.Input(shape=...) or an
            InputLayer, which fixes the input shape and builds the model at once.
        name: the model's name.

    Example:
    >>> model = cydl.Sequential([
    ...     cydl.layers.Input(shape=(28, 28)),
    ...     cydl.layers.Flatten(),
    ...     cydl.layers.Dense(300, activation="relu"),
    ...     cydl.layers.Dense(10, activation="softmax"),
    ... ])
    """

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._layers = []
        self._input_layer = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._layers)

    def _sublayers(self):
        return list(self._layers)

    def add(self, layer):
        """Append a layer (or an Input) to the stack."""
        if isinstance(layer, KerasTensor) and getattr(layer, "_input_layer", None):
            layer = layer._input_layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("An Input can only start a Sequential model")
            self._input_layer = layer
            self._rebuild()
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Only layers can be added to a Sequential model. "
                            f"Received: {layer!r} of type {type(layer).__name__}")
        if any(existing is layer for existing in self._layers):
            raise ValueError(f"Layer {layer.name!r} is already in this model")
        if layer.name in {existing.name for existing in self._layers}:
            raise ValueError(f"All layers added to a Sequential model should have unique "
                             f"names. Name {layer.name!r} is already the name of a layer")
        self._layers.append(layer)
        if self._input_layer is None and len(self._layers) == 1 and \
                layer._input_spec is not None:
            self._input_layer = InputLayer(shape=layer._input_spec, dtype=layer._dtype)
        self._rebuild()

    def pop(self):
        """Remove the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model")
        layer = self._layers.pop()
        self._rebuild()
        return layer

    def _rebuild(self):
        self._invalidate()
        if self._input_layer is None:
            self.built = False
            self._function = None
            return
        t = self._input_layer.output
        for layer in self._layers:
            t = layer(t)
        self._set_function(graph.Function(self._input_layer.output, t))

    def _build_for(self, shape):
        if isinstance(shape, list):
            raise ValueError("A Sequential model takes a single input")
        self._input_layer = InputLayer(shape=tuple(shape[1:]), dtype=self._dtype)
        self._rebuild()

    def get_config(self):
        from cydl.models import config as config_mod
        return config_mod.sequential_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from cydl.models import config as config_mod
        return config_mod.sequential_from_config(cls, config, custom_objects)

"""Sequential: a plain stack of layers."""
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
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Append a layer (or an Input) to the stack."""
        if isinstance(layer, KerasTensor):
            if self._layers or self._input_layer is not None:
                raise ValueError("An Input can only start a Sequential model")
            self._input_layer = layer._layer
            self._build_from_input()
            return
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("An InputLayer can only start a Sequential model")
            self._input_layer = layer
            self._build_from_input()
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Only layers can be added to a Sequential model. "
                            f"Received: {layer!r} of type {type(layer).__name__}")
        if any(existing is layer for existing in self._layers):
            raise ValueError(f"Layer {layer.name!r} is already in this model")
        names = {existing.name for existing in self._layers}
        if layer.name in names:
            raise ValueError(f"All layers added to a Sequential model should have unique "
                             f"names. Name {layer.name!r} is already the name of a layer")
        self._layers.append(layer)
        self._runners = {}
        self._fast = None
        if self.built:
            self.built = False
            self._ensure_built(self.input_shape)
        elif len(self._layers) == 1 and layer._input_spec is not None:
            self._ensure_built((None,) + tuple(layer._input_spec))
        elif self._input_layer is not None:
            self._build_from_input()

    def pop(self):
        """Remove the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model")
        layer = self._layers.pop()
        self._runners = {}
        self._fast = None
        if self.built:
            in_shape = self.input_shape
            self.built = False
            if self._layers:
                self._ensure_built(in_shape)
        return layer

"""Activation layers with weights: PReLU."""
from cydl import _ops, constraints, initializers, ops, regularizers
from cydl._registry import serialize
from cydl.autodiff import apply, grad_buffer
from cydl.layers.base import Layer


class _PReLU:
    """The primitive of one call, values (x, alpha) with alpha seen as the shape of
    x's trailing axes: the vjp adds dalpha into the weight's gradient buffer."""

    def __init__(self, alpha_var, alpha_shape):
        self.alpha_var, self.alpha_shape = alpha_var, alpha_shape

    def __call__(self, values, need):
        x, alpha = values
        a = alpha.reshape(self.alpha_shape)
        y = _ops.prelu_forward(x, a)
        if need is None:
            return y, None
        var = self.alpha_var

        def vjp(g):
            dalpha_out = None
            if need[1]:
                buf = grad_buffer(var)
                direct = buf.shape == a.shape
                dalpha_out = buf if direct else None
            dx, dalpha = _ops.prelu_backward(g, x, a, dalpha_out=dalpha_out,
                                             need_dX=need[0], need_dalpha=need[1])
            if need[1] and not direct:
                buf += dalpha.reshape(buf.shape)
            return dx, None
        return y, vjp

    def __repr__(self):
        return "prelu"


class PReLU(Layer):
    """Parametric ReLU: `x` for x > 0, `alpha * x` otherwise, with a learned slope
    per unit.

    Args:
        alpha_initializer: initializer of the slopes (default "zeros": a ReLU).
        alpha_regularizer: optional penalty on the slopes.
        alpha_constraint: optional projection of the slopes.
        shared_axes: axes (1 = the first after the batch) along which the slopes are
            shared, e.g. `[1, 2]` for one slope per channel of (batch, h, w, c) images.

    Example:
    >>> layer = cydl.layers.PReLU(alpha_initializer=cydl.initializers.Constant(0.25))
    >>> layer(np.array([[-2.0, 3.0]], "float32"))
    array([[-0.5,  3. ]], dtype=float32)
    """

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None,
                 alpha_constraint=None, shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, int):
            self.shared_axes = [shared_axes]
        else:
            self.shared_axes = [int(a) for a in shared_axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis <= len(shape):
                raise ValueError(f"shared_axes must lie in [1, {len(shape)}] for inputs of "
                                 f"rank {len(input_shape)}. Received: {self.shared_axes}")
            shape[axis - 1] = 1
        if any(s is None for s in shape):
            raise ValueError(f"The non-shared axes of the input of {self.name!r} must be "
                             f"known. Received input_shape={tuple(input_shape)}")
        self.alpha = self.add_weight("alpha", tuple(shape), self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        # The kernel takes one slope per column of x seen as (-1, units): possible when
        # the shared axes lead, as with none shared or images sharing (h, w).
        shared = set(self.shared_axes or ())
        k = 0
        while k + 1 in shared:
            k += 1
        self._kernel_shape = tuple(shape[k:]) if shared <= set(range(1, k + 1)) else None
        self.built = True

    def call(self, inputs, training=None):
        shape = self.alpha.shape
        if inputs.ndim != len(shape) + 1 or any(
                a != 1 and a != n for a, n in zip(shape, inputs.shape[1:])):
            raise ValueError(f"Input of layer {self.name!r} is incompatible with the layer: "
                             f"slopes of shape {shape}, input shape={inputs.shape}")
        if self._kernel_shape is not None:
            return apply(_PReLU(self.alpha, self._kernel_shape), (inputs, self.alpha))
        return ops.relu(inputs) - self.alpha * ops.relu(-inputs)

    def get_config(self):
        def ser(obj):
            return None if obj is None else serialize(obj)
        return {**super().get_config(), "alpha_initializer": ser(self.alpha_initializer),
                "alpha_regularizer": ser(self.alpha_regularizer),
                "alpha_constraint": ser(self.alpha_constraint),
                "shared_axes": self.shared_axes}

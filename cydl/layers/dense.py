"""Dense: y = activation(x W + b), forward and backward side by side."""
from cydl import _ops as ops
from cydl import activations, constraints, initializers, regularizers
from cydl._registry import positive_int, serialize
from cydl.layers.base import Layer


class Dense(Layer):
    """A fully connected layer: `activation(inputs @ kernel + bias)`.

    The bias add and activation run in the same pass over the GEMM output, and the
    backward pass folds the activation derivative into the upstream gradient.

    Args:
        units: positive int, the output size.
        activation: name or function from cydl.activations; None means linear.
        use_bias: whether to add a bias.
        kernel_initializer: default "glorot_uniform".
        bias_initializer: default "zeros".
        kernel_regularizer, bias_regularizer: optional penalties.
        kernel_constraint, bias_constraint: optional projections after each step.

    Example:
    >>> layer = cydl.layers.Dense(300, activation="relu")
    >>> layer(np.ones((2, 784), np.float32)).shape
    (2, 300)
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "units")
        self.activation = activations.get(activation)
        self.act_name, self.act_alpha = activations.spec(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        if activity_regularizer is not None:
            raise NotImplementedError("activity_regularizer is not supported yet")
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.bias = None
        self._cache = None

    def build(self, input_shape):
        n_in = input_shape[-1]
        if n_in is None:
            raise ValueError(f"The last axis of the input of {self.name!r} must be known")
        self.kernel = self.add_weight("kernel", (n_in, self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _check(self, x):
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Input of layer {self.name!r} is incompatible with the layer: "
                             f"expected last axis {self.kernel.shape[0]}, "
                             f"found shape={x.shape}")
        return x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x

    def call(self, inputs, training=None):
        x = self._check(inputs)
        b = self.bias.value if self.use_bias else None
        y = ops.dense_forward(x, self.kernel.value, b, self.act_name, self.act_alpha)
        return y if inputs.ndim == 2 else y.reshape(inputs.shape[:-1] + (self.units,))

    def forward(self, inputs, training=True, keep_logits=False):
        x = self._check(inputs)
        B = x.shape[0]
        dt = self.kernel.dtype
        A = self._buffer("A", (B, self.units), dt)
        keep_z = keep_logits or ops.activation_needs_z(self.act_name, self.act_alpha)
        Z = self._buffer("Z", (B, self.units), dt) if keep_z else None
        b = self.bias.value if self.use_bias else None
        ops.dense_forward(x, self.kernel.value, b, self.act_name, self.act_alpha, out=A, z_out=Z)
        self._cache = (inputs.shape, x, A, Z)
        self.logits = Z
        return A if inputs.ndim == 2 else A.reshape(inputs.shape[:-1] + (self.units,))

    def backward(self, dy, wrt_logits=False, need_dx=True):
        in_shape, x, A, Z = self._cache
        dy = dy.reshape(-1, self.units) if dy.ndim != 2 else dy
        dX = self._buffer("dX", x.shape, x.dtype) if need_dx else None
        act = "linear" if wrt_logits else self.act_name
        trainable = self.trainable
        _, _, dX = ops.dense_backward(
            dy, x, self.kernel.value, A, Z, act, self.act_alpha,
            dW_out=self.kernel.grad if trainable else None,
            db_out=self.bias.grad if (self.use_bias and trainable) else None,
            dX_out=dX, need_dX=need_dx, need_dW=trainable, use_bias=self.use_bias)
        if dX is None:
            return None
        return dX if len(in_shape) == 2 else dX.reshape(in_shape)

    def get_config(self):
        def ser(obj):
            return None if obj is None else serialize(obj)
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation) if self.act_alpha is None
                else [self.act_name, self.act_alpha],
                "use_bias": self.use_bias,
                "kernel_initializer": ser(self.kernel_initializer),
                "bias_initializer": ser(self.bias_initializer),
                "kernel_regularizer": ser(self.kernel_regularizer),
                "bias_regularizer": ser(self.bias_regularizer),
                "kernel_constraint": ser(self.kernel_constraint),
                "bias_constraint": ser(self.bias_constraint)}

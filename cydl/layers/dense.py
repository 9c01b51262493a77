"""Dense: y = activation(x W + b)."""
from cydl import activations, constraints, initializers, ops, regularizers
from cydl._registry import positive_int, serialize
from cydl.layers.base import Layer


class Dense(Layer):
    """A fully connected layer: `activation(inputs @ kernel + bias)`.

    The bias add and activation run in the same pass over the GEMM output; in a
    compiled training step the activation derivative is folded into the gradient.

    Args:
        units: positive int, the output size.
        activation: name or function from cydl.activations; None means linear.
        use_bias: whether to add a bias.
        kernel_initializer: default "glorot_uniform".
        bias_initializer: default "zeros".
        kernel_regularizer, bias_regularizer: optional penalties.
        activity_regularizer: optional penalty on the output (after the
            activation), divided by the batch size, as in Keras 3.
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
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = positive_int(units, "units")
        self.activation = activations.get(activation)
        self.act_name, self.act_alpha = activations.spec(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.bias = None

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

    def call(self, inputs, training=None):
        n_in = self.kernel.shape[0]
        if inputs.shape[-1] != n_in:
            raise ValueError(f"Input of layer {self.name!r} is incompatible with the layer: "
                             f"expected last axis {n_in}, found shape={inputs.shape}")
        lead = tuple(inputs.shape[:-1])
        x = inputs if len(lead) == 1 else ops.reshape(inputs, (-1, n_in))
        if self.act_name is None:       # a user activation, differentiated through cydl.ops
            y = self.activation(ops.dense(x, self.kernel, self.bias))
        else:
            y = ops.dense(x, self.kernel, self.bias, self.act_name, self.act_alpha)
        return y if len(lead) == 1 else ops.reshape(y, lead + (self.units,))

    def get_config(self):
        def ser(obj):
            return None if obj is None else serialize(obj)
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": ser(self.kernel_initializer),
                "bias_initializer": ser(self.bias_initializer),
                "kernel_regularizer": ser(self.kernel_regularizer),
                "bias_regularizer": ser(self.bias_regularizer),
                "kernel_constraint": ser(self.kernel_constraint),
                "bias_constraint": ser(self.bias_constraint)}

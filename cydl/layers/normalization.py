"""BatchNormalization on the compiled per-feature kernels."""
import numpy as np

from cydl import _ops, constraints, initializers, regularizers
from cydl._registry import serialize
from cydl.autodiff import apply, grad_buffer
from cydl.distribution import _state as _dist
from cydl.layers.base import Layer
from cydl.layers._sync_batchnorm import sync_batch_norm


def _ser(obj):
    return None if obj is None else serialize(obj)


class _BatchNorm:
    """The primitive of one call: values (x, [gamma], [beta]).

    The vjp returns dx and adds dgamma / dbeta straight into the weights' gradient
    buffers, as the dense layer's affine map does. With batch statistics the
    forward leaves them in batch_mean / batch_variance for the moving averages.
    """

    def __init__(self, gamma, beta, axis, epsilon, training, mean=None, variance=None):
        self.gamma, self.beta = gamma, beta
        self.axis, self.epsilon, self.training = axis, epsilon, training
        self.mean, self.variance = mean, variance
        self.batch_mean = self.batch_variance = None

    def __call__(self, values, need):
        x = values[0]
        i = 1
        gamma = beta = None
        if self.gamma is not None:
            gamma, i = values[i], i + 1
        if self.beta is not None:
            beta = values[i]
        last = self.axis in (-1, x.ndim - 1)
        xt = x if last else np.moveaxis(x, self.axis, -1)
        step = _dist.step() if self.training else None
        if step is not None:      # a data-parallel step: the global batch's statistics
            return sync_batch_norm(self, step, x, xt, gamma, beta, last, need, len(values))
        yt, mean, variance = _ops.batchnorm_forward(
            xt, gamma, beta, self.mean, self.variance, self.epsilon, training=self.training)
        if self.training:
            self.batch_mean, self.batch_variance = mean, variance
        y = yt if last else np.moveaxis(yt, -1, self.axis)
        if need is None:
            return y, None
        need_gamma = gamma is not None and need[1]
        need_beta = beta is not None and need[-1]
        gvar, bvar, axis = self.gamma, self.beta, self.axis

        def vjp(g):
            gt = g if last else np.moveaxis(g, axis, -1)
            dx, _, _ = _ops.batchnorm_backward(
                gt, xt, mean, variance, gamma, self.epsilon, training=self.training,
                dgamma_out=grad_buffer(gvar) if need_gamma else None,
                dbeta_out=grad_buffer(bvar) if need_beta else None,
                need_dX=need[0], need_dgamma=need_gamma, need_dbeta=need_beta)
            if dx is not None and not last:
                dx = np.moveaxis(dx, -1, axis)
            return (dx,) + (None,) * (len(values) - 1)
        return y, vjp

    def __repr__(self):
        return "batch_normalization"


class BatchNormalization(Layer):
    """Normalizes each feature with the batch's statistics while training and with
    their moving averages at inference, then scales by gamma and shifts by beta.

    Training (`training=True` and a trainable layer) uses the batch mean and biased
    variance and updates `moving = moving * momentum + batch * (1 - momentum)` in
    place; otherwise the moving statistics are used. Statistics and the gradient are
    compiled per-feature reductions (column-major activations are read in place).

    Args:
        axis: the feature axis (default -1); the other axes are reduced.
        momentum: of the moving averages (default 0.99).
        epsilon: added to the variance (default 1e-3).
        center: whether to learn the offset beta.
        scale: whether to learn the factor gamma.
        beta_initializer, gamma_initializer: defaults "zeros", "ones".
        moving_mean_initializer, moving_variance_initializer: "zeros", "ones".
        beta_regularizer, gamma_regularizer: optional penalties.
        beta_constraint, gamma_constraint: optional projections.

    Example:
    >>> bn = cydl.layers.BatchNormalization()
    >>> y = bn(np.random.rand(32, 10).astype("float32"), training=True)
    >>> [w.name for w in bn.weights]
    ['gamma', 'beta', 'moving_mean', 'moving_variance']
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"BatchNormalization normalizes one axis. Received: axis={axis}")
            axis = axis[0]
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an int. Received: axis={axis!r}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        if not self.epsilon > 0:
            raise ValueError(f"epsilon must be positive. Received: epsilon={epsilon}")
        self.center = bool(center)
        self.scale = bool(scale)
        # Keras' flag; under a cydl.distribution.DataParallel every BatchNormalization
        # uses the global batch's statistics, whatever it says
        self.synchronized = bool(synchronized)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"axis {self.axis} is out of range for inputs of rank {ndim}")
        n = input_shape[self.axis]
        if n is None:
            raise ValueError(f"The feature axis of the input of {self.name!r} must be known. "
                             f"Received input_shape={tuple(input_shape)}")
        shape = (n,)
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", shape, self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight("moving_mean", shape,
                                           self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape,
                                               self.moving_variance_initializer,
                                               trainable=False)
        self.built = True

    def call(self, inputs, training=None):
        n = self.moving_mean.shape[0]
        if inputs.ndim < 1 or inputs.shape[self.axis] != n:
            raise ValueError(f"Input of layer {self.name!r} is incompatible with the layer: "
                             f"expected {n} features on axis {self.axis}, found "
                             f"shape={inputs.shape}")
        batch = bool(training) and self.trainable
        if batch:
            prim = _BatchNorm(self.gamma, self.beta, self.axis, self.epsilon, True)
        else:
            # copies: the closure must keep the statistics this call used
            prim = _BatchNorm(self.gamma, self.beta, self.axis, self.epsilon, False,
                              self.moving_mean.numpy(), self.moving_variance.numpy())
        args = (inputs,) + tuple(w for w in (self.gamma, self.beta) if w is not None)
        out = apply(prim, args)
        if batch:
            m = self.momentum
            for var, stat in ((self.moving_mean, prim.batch_mean),
                              (self.moving_variance, prim.batch_variance)):
                value = var.value
                value *= m
                value += (1.0 - m) * stat.astype(value.dtype, copy=False)
        return out

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": _ser(self.beta_initializer),
                "gamma_initializer": _ser(self.gamma_initializer),
                "moving_mean_initializer": _ser(self.moving_mean_initializer),
                "moving_variance_initializer": _ser(self.moving_variance_initializer),
                "beta_regularizer": _ser(self.beta_regularizer),
                "gamma_regularizer": _ser(self.gamma_regularizer),
                "beta_constraint": _ser(self.beta_constraint),
                "gamma_constraint": _ser(self.gamma_constraint),
                "synchronized": self.synchronized}

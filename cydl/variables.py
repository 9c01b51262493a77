"""Variable: a named view into a model's flat parameter buffer."""
import numpy as np

from cydl.autodiff import add_arithmetic, value_of as _value


@add_arithmetic
class Variable:
    """A layer weight. Its value is a view into the owning model's flat buffer, so
    assigning to it changes what the model trains, and the optimizer updates it in
    place.

    Args:
        value: initial value (an array).
        name: the weight's name, e.g. "kernel".
        trainable: whether the optimizer updates it.

    Example:
    >>> w = layer.kernel
    >>> w.assign(np.zeros(w.shape))
    >>> w.numpy().sum()
    0.0
    """

    _is_variable = True
    __array_priority__ = 100     # array * variable goes through cydl.ops (differentiable)

    def __init__(self, value, name, trainable=True, regularizer=None, constraint=None):
        value = np.asarray(value)
        # 2-D weights are column-major, the layout the GEMMs want (see cydl._ops).
        self._value = np.array(value, order="F" if value.ndim == 2 else "C")
        self._grad = None
        self.name = name
        self.trainable = bool(trainable)
        self.regularizer = regularizer
        self.constraint = constraint
        self._store = None
        self.path = name

    def __getstate__(self):
        # a copy owns its value; the flat buffers it was a view of stay behind
        state = dict(self.__dict__)
        state["_value"] = np.array(self._value, order="F" if self._value.ndim == 2 else "C")
        state["_grad"] = None
        state["_store"] = None
        return state

    def __deepcopy__(self, memo):
        import copy
        new = Variable.__new__(Variable)
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__getstate__(), memo))
        return new

    # views handed out by the parameter store
    def _bind(self, value_view, grad_view, store):
        if self._store is not None and self._store is not store:
            self._store.stale = True      # the old model no longer holds this weight
        value_view[...] = self._value
        self._value = value_view
        self._grad = grad_view
        self._store = store

    @property
    def value(self):
        return self._value

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def size(self):
        return self._value.size

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def grad(self):
        """The gradient of the last training step (a view), or None before training.

        One exception: the fused training step with plain SGD (no momentum, decay
        or clipping) folds the update of the lowest trained layer into its gradient
        GEMM and never stores that layer's gradient.
        """
        return self._grad

    def numpy(self):
        return np.array(self._value)

    def assign(self, value):
        value = np.asarray(value)
        if value.shape != self.shape:
            raise ValueError(f"Cannot assign a value of shape {value.shape} to variable "
                             f"{self.name!r} of shape {self.shape}")
        self._value[...] = value
        return self

    def assign_add(self, value):
        self._value += np.asarray(value, self.dtype)
        return self

    def assign_sub(self, value):
        self._value -= np.asarray(value, self.dtype)
        return self

    def __array__(self, dtype=None, copy=None):
        return np.array(self._value, dtype=dtype)

    # ordering compares values, as a Keras Variable does (== stays identity: Variables
    # are dictionary keys and members of lists)
    def __lt__(self, other):
        return np.less(self._value, _value(other))

    def __le__(self, other):
        return np.less_equal(self._value, _value(other))

    def __gt__(self, other):
        return np.greater(self._value, _value(other))

    def __ge__(self, other):
        return np.greater_equal(self._value, _value(other))

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __len__(self):
        return len(self._value)

    def __repr__(self):
        return (f"<Variable path={self.path!r} shape={self.shape} dtype={self.dtype.name} "
                f"trainable={self.trainable}>")

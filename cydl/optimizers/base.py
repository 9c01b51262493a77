"""Optimizer base: the step count, the learning rate (or schedule), the slots.

Slots (momentum, velocity, ...) are flat buffers laid out like the model's
trainable parameters, so a step is one fused kernel call over the whole model
(cydl._ops.optimizer_step). The Python side only computes the per-step scalars,
e.g. Adam's bias-corrected rate, once per step.
"""
import math
import warnings

import numpy as np

from cydl import _ops as ops
from cydl._checks import is_number, number
from cydl.optimizers import schedules
from cydl.optimizers.schedules import LearningRateSchedule
from cydl.constraints import fused_spec
from cydl.regularizers import penalty_factors
from cydl.variables import Variable


def _positive(value, name, allow_none=True):
    return number(value, name, low=0.0, low_open=True, allow_none=allow_none)


def _unit_interval(value, name):
    return number(value, name, low=0.0, high=1.0, high_open=True)


def _learning_rate(value):
    # Keras assigns anything that holds one number: a NumPy scalar, a 0-d array (what
    # K.get_value returns), another Variable (its value is copied, not shared)
    if not is_number(value) and hasattr(value, "__array__"):
        array = np.asarray(value)
        if array.ndim == 0 and array.dtype.kind in "fiu":
            value = array[()]
    # 0 is allowed: decays end at 0 (CosineDecay's default alpha) and Keras allows it
    return number(value, "learning_rate", low=0.0)


_INERT = {"decay": (None, 0), "use_ema": (False,), "ema_momentum": (0.99,),
          "ema_overwrite_frequency": (None,), "jit_compile": (True, False, "auto"),
          "loss_scale_factor": (None,), "gradient_accumulation_steps": (None,)}


class Optimizer:
    """Base class of the optimizers.

    Args:
        learning_rate: a positive float, a LearningRateSchedule, or a callable
            taking the step number.
        weight_decay: decoupled weight decay (p -= lr * weight_decay * p).
        clipnorm: clip each variable's gradient to this norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global norm.
        name: the optimizer's name.
    """

    kind = None       # kernel formula, see cydl._ops.OPTIMIZER_KINDS
    slot_names = ()

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        if "lr" in kwargs:
            warnings.warn("`lr` is deprecated, use `learning_rate`", DeprecationWarning, 2)
            learning_rate = kwargs.pop("lr")
        for legacy, inert in _INERT.items():
            # Keras arguments accepted at the values that change nothing; any other
            # value would be silently ignored, so it is refused
            if legacy in kwargs and not any(kwargs[legacy] is v or (
                    type(kwargs[legacy]) is not bool and kwargs[legacy] == v)
                    for v in inert):
                raise NotImplementedError(
                    f"`{legacy}={kwargs[legacy]!r}` is not supported by cydl optimizers "
                    f"(accepted: {', '.join(map(repr, inert))})")
            kwargs.pop(legacy, None)
        if kwargs:
            raise TypeError(f"Unrecognized arguments for {type(self).__name__}: {kwargs}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` "
                             "can be set")
        self.name = name or type(self).__name__.lower()
        self.clipnorm = _positive(clipnorm, "clipnorm")
        self.clipvalue = _positive(clipvalue, "clipvalue")
        self.global_clipnorm = _positive(global_clipnorm, "global_clipnorm")
        self.weight_decay = number(weight_decay, "weight_decay", low=0.0, allow_none=True)
        self.iterations = Variable(np.int64(0), "iteration", trainable=False)
        self.learning_rate = learning_rate
        self._rule = ops.UpdateRule()
        self._slots = []
        self._layout = None    # [(variable, offset)] the slots are laid out for
        self._dtype = None
        self._penalties = True      # whether the update adds the L1/L2 penalties' gradient
        self._variable_store = None     # apply_gradients' buffers (cydl.optimizers._variables)

    def __getstate__(self):
        # the compiled update rule is rebuilt from the config; slots and step carry over
        state = dict(self.__dict__)
        del state["_rule"]
        state["_dtype"] = None          # forces build() to configure the new rule
        state["_variable_store"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._rule = ops.UpdateRule()

    # ------------------------------------------------------------ learning rate
    @property
    def learning_rate(self):
        """The learning rate, as in Keras 3: a scalar Variable for a constant rate
        (read it with `float(...)` or `cydl.backend.get_value`, change it by assigning
        to this property or with `cydl.backend.set_value`; the next step uses the new
        value); with a schedule, the rate of the next step as a float.

        Example:

        >>> opt = cydl.optimizers.SGD(learning_rate=0.01)
        >>> opt.learning_rate = opt.learning_rate * 0.5
        >>> float(opt.learning_rate)
        0.005
        """
        lr = self._learning_rate
        return lr if isinstance(lr, Variable) else np.float64(self.current_learning_rate())

    @learning_rate.setter
    def learning_rate(self, value):
        """A number (Python, NumPy scalar or 0-d array), a LearningRateSchedule, or a
        callable of the step."""
        if isinstance(value, dict):    # a schedule's config, as get_config writes it
            value = schedules.deserialize(value)
        if isinstance(value, type):
            raise TypeError(f"`learning_rate` must be a number, a LearningRateSchedule "
                            f"instance or a callable of the step. Received the class "
                            f"{value.__name__}: instantiate it first")
        if isinstance(value, LearningRateSchedule) or (callable(value) and
                                                       not isinstance(value, Variable)):
            self._learning_rate = value
        elif isinstance(getattr(self, "_learning_rate", None), Variable):
            self._learning_rate.assign(_learning_rate(value))
        else:
            self._learning_rate = Variable(np.float64(_learning_rate(value)), "learning_rate",
                                           False)

    def current_learning_rate(self):
        """The rate the next step will use."""
        lr = self._learning_rate
        if isinstance(lr, Variable):
            return float(lr.value)
        step = int(self.iterations.value)
        value = lr(step)
        if not is_number(value) and not (isinstance(value, np.ndarray) and value.size == 1
                                         and value.dtype.kind in "fiu"):
            raise TypeError(f"The learning rate schedule {lr!r} returned {value!r} of type "
                            f"{type(value).__name__} at step {step}; it must return a number")
        return float(value)

    # ------------------------------------------------------------ building
    def build(self, store, penalties=True):
        """(Re)allocate the slots for the store's trainable layout, keeping the
        state of variables that were already there.

        Args:
            store: a model's parameter store, or a list of Variables (as Keras'
                `optimizer.build(model.trainable_variables)`).
            penalties: whether the update adds the L1/L2 regularizers' gradient
                (fit does; apply_gradients leaves them to the loss).
        """
        if isinstance(store, (list, tuple)):
            from cydl.optimizers._variables import VariableStore
            store, penalties = VariableStore(store), False
            self._variable_store = store
        layout = store.trainable_layout()
        # (`is not None` first: numpy takes dtype(None) for float64, so None == float64)
        if layout == self._layout and self._dtype is not None and \
                self._dtype == store.dtype and penalties == getattr(self, "_penalties", True):
            return
        self._dtype = store.dtype
        self._penalties = penalties
        old = {id(v): off for v, off in (self._layout or [])}
        new_slots = [np.full(store.n_trainable, self.slot_initial_value(i), store.dtype)
                     if name else None for i, name in enumerate(self.slot_names)]
        for var, off in layout:
            if id(var) in old:
                src = old[id(var)]
                for dst, prev in zip(new_slots, self._slots):
                    if dst is not None and prev is not None:
                        dst[off:off + var.size] = prev[src:src + var.size]
        self._slots, self._layout = new_slots, layout
        self._rule.configure(ops.OPTIMIZER_KINDS[self.kind], **self._rule_config(),
                             weight_decay=float(self.weight_decay or 0.0),
                             clipvalue=self.clipvalue or 0.0, clipnorm=self.clipnorm or 0.0,
                             global_clipnorm=self.global_clipnorm or 0.0)
        self._rule.set_segments(store.segments())
        # L1/L2 penalties go into the fused update: their gradient joins g there (before
        # clipping, as in Keras) and the update sums the penalty of the weights it reads
        variables = getattr(store, "trainable_variables", ())
        factors = [(penalties and penalty_factors(v.regularizer)) or (0.0, 0.0)
                   for v in variables]
        if factors:
            self._rule.set_penalties([f[0] for f in factors], [f[1] for f in factors])
            # and Keras' constraints, right after each variable's update
            self._rule.set_constraints([None if v.constraint is None else
                                        fused_spec(v.constraint, v.shape) for v in variables])

    def slot_initial_value(self, i):
        return 0.0

    def _rule_config(self):
        return {}

    # ------------------------------------------------------------ stepping
    def step_scalars(self, t, lr):
        """Per-step constants (c1, c2, c3) of the formula at step t (1-based)."""
        return 0.0, 0.0, 0.0

    def prepare_step(self):
        """Compute this step's scalars into the kernel's update rule."""
        lr = self.current_learning_rate()
        # a schedule is only known by its values: a negative rate would silently
        # ascend the loss and NaN would spread to every weight, so stop at this step
        if not 0.0 <= lr < math.inf:
            self._bad_rate(lr)
        c = self.step_scalars(int(self.iterations.value) + 1, lr)
        self._rule.set_step(lr, *c)

    def _bad_rate(self, lr):
        if isinstance(self._learning_rate, Variable):    # e.g. K.set_value(lr, nan)
            raise ValueError(f"The learning_rate variable of {type(self).__name__} holds "
                             f"learning_rate={lr!r} at step {int(self.iterations.value)}; it "
                             f"must be a finite number >= 0")
        raise ValueError(f"The learning rate schedule of {type(self).__name__} returned "
                         f"learning_rate={lr!r} at step {int(self.iterations.value)}; it must "
                         f"be a finite number >= 0 (schedule: {self._learning_rate!r})")

    def finish_step(self):
        it = self.iterations._value
        it[()] = int(it) + 1      # setitem: no ufunc machinery, no allocation

    def apply(self, grads, trainable_variables=None):
        """One update: of a model's store from its gradients (what fit does), or, as
        in Keras, of `trainable_variables` from `grads` (None: the variables of the
        previous apply)."""
        if not hasattr(grads, "trainable_params"):
            if trainable_variables is None:
                if getattr(self, "_variable_store", None) is None:
                    raise ValueError("apply(grads) needs `trainable_variables` the first "
                                     "time")
                trainable_variables = self._variable_store.trainable_variables
            from cydl.optimizers._variables import apply_to_variables
            apply_to_variables(self, grads, trainable_variables)
            return
        store = grads
        self.prepare_step()
        ops.optimizer_step(self._rule, store.trainable_params, store.trainable_grads,
                           self._slots)
        self.finish_step()

    def apply_gradients(self, grads_and_vars):
        """One update from (gradient, variable) pairs, as in Keras: the custom training
        loop's step. The variables may come from any models, compiled or not.

        Example:
        >>> grads = tape.gradient(loss, model.trainable_variables)
        >>> optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """
        grads_and_vars = list(grads_and_vars)
        if not grads_and_vars:
            return self.iterations
        grads, variables = zip(*grads_and_vars)
        self.apply(list(grads), list(variables))
        return self.iterations

    @property
    def variables(self):
        """[iterations, *slots]: the optimizer's state."""
        return [self.iterations] + [Variable(s, n, False) for n, s in
                                    zip(self.slot_names, self._slots) if s is not None]

    def _state_arrays(self):
        """Every array of the state, in a fixed order: what a saved model keeps and
        restores in place (a subclass with more state adds it)."""
        return [self.iterations._value] + [s for s in self._slots if s is not None]

    # ------------------------------------------------------------ config
    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, Variable):
            lr = float(lr.value)
        elif isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self.current_learning_rate():g}>"

"""GradientTape: tf.GradientTape's interface over cydl's per-call gradient closures.

The tape itself is the graph of Tensors that the ops build while it records (see
cydl.autodiff); `gradient` walks it back from the target. Gradients are NumPy
arrays: they are not recorded again, so there are no higher-order gradients.
"""
import contextlib

import numpy as np

from cydl import autodiff
from cydl.autodiff import Tensor, _Tape, active_tape, backward, value_of

_UNCONNECTED = ("none", "zero")


def _flatten(x):
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flatten(item)]
    if isinstance(x, dict):
        return [v for k in x for v in _flatten(x[k])]
    return [x]


def _map(fn, x):
    if isinstance(x, (list, tuple)):
        return type(x)(_map(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: _map(fn, v) for k, v in x.items()}
    return fn(x)


def _is_float_array(x):
    return isinstance(x, (np.ndarray, np.floating)) and x.dtype.kind == "f"


def _check_source(x, what):
    if type(x) is Tensor or getattr(x, "_is_variable", False) or _is_float_array(x):
        return
    if getattr(x, "_is_symbolic", False):
        raise TypeError(f"GradientTape.{what}() received a symbolic KerasTensor {x!r}: "
                        f"a tape differentiates concrete values; call the model on arrays")
    kind = f"an array of dtype {x.dtype}" if isinstance(x, np.ndarray) else \
        f"{x!r} of type {type(x).__name__}"
    raise TypeError(f"GradientTape.{what}() takes Variables, Tensors or floating-point NumPy "
                    f"arrays. Received {kind}; for a constant, watch np.asarray(x, "
                    f"'float32') and compute with that very array")


class GradientTape:
    """Records the ops run inside it, then gives gradients (like tf.GradientTape).

    Args:
        persistent: allow several `gradient` calls (a second call on a
            non-persistent tape raises a RuntimeError, as in TensorFlow).
        watch_accessed_variables: make every trainable Variable used inside a
            source; with False only what `watch` names is.

    Example:
    >>> with cydl.GradientTape() as tape:
    ...     loss = cydl.ops.mean(cydl.ops.square(model(x, training=True) - y))
    >>> grads = tape.gradient(loss, model.trainable_variables)
    >>> optimizer.apply_gradients(zip(grads, model.trainable_variables))
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = bool(persistent)
        self._tape = _Tape(None if watch_accessed_variables else ())
        self._used = False
        self._prev = []

    def __enter__(self):
        self._prev.append(active_tape())
        self._tape.outer = self._prev[-1]
        autodiff._local.tape = self._tape
        return self

    def __exit__(self, *exc):
        autodiff._local.tape = self._prev.pop()
        self._tape.outer = None

    def watch(self, tensor):
        """Make `tensor` (a Variable, a float NumPy array, or a list/dict of them) a
        source: ops on that very object are recorded from now on. A Tensor needs
        no watching: gradients with respect to it are always available."""
        for x in _flatten(tensor):
            _check_source(x, "watch")
            if type(x) is not Tensor:
                self._tape.watched[id(x)] = x

    @contextlib.contextmanager
    def stop_recording(self):
        """Context: the ops run inside are not recorded (no gradient flows through)."""
        prev = active_tape()
        autodiff._local.tape = None
        try:
            yield
        finally:
            autodiff._local.tape = prev

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d target / d source for each source, in the structure of `sources`.

        Args:
            target: a Tensor, or a list of them: a non-scalar target (or several)
                is summed first, as in TensorFlow.
            sources: a Variable, Tensor or watched array, or a list, tuple or dict
                of them.
            output_gradients: the gradient to start from for each target (the
                vector of a vector-Jacobian product); ones by default.
            unconnected_gradients: "none" (default: None for a source the target
                does not depend on) or "zero".

        Returns:
            NumPy arrays shaped like the sources (None where unconnected).
        """
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute "
                               "one set of gradients; use GradientTape(persistent=True) to "
                               "call gradient() several times")
        mode = str(getattr(unconnected_gradients, "value", unconnected_gradients)).lower()
        if mode not in _UNCONNECTED:
            raise ValueError(f"unconnected_gradients must be 'none' or 'zero'. Received: "
                             f"unconnected_gradients={unconnected_gradients!r}")
        flat = _flatten(sources)
        for s in flat:
            _check_source(s, "gradient")
        self._used = True
        sink = {}
        backward(self._seeds(target, output_gradients, flat, sink), sink,
                 {id(s) for s in flat if type(s) is Tensor})

        def result(s):
            g = sink.get(id(s))
            if g is None and mode == "zero":
                return np.zeros(np.shape(value_of(s)), np.asarray(value_of(s)).dtype)
            return g
        return _map(result, sources)

    @staticmethod
    def _seeds(target, output_gradients, sources, sink):
        targets = _flatten(target)
        given = [None] * len(targets) if output_gradients is None else \
            _flatten(output_gradients)
        if len(given) != len(targets):
            raise ValueError(f"output_gradients must give one gradient per target: "
                             f"{len(targets)} target(s), {len(given)} gradient(s)")
        ids = {id(s) for s in sources}
        pairs = []
        for t, g in zip(targets, given):
            value = np.asarray(value_of(t))
            seed = np.ones_like(value) if g is None else np.asarray(value_of(g), value.dtype)
            if seed.shape != value.shape:
                raise ValueError(f"output_gradients: shape {seed.shape} does not match its "
                                 f"target's shape {value.shape}")
            if type(t) is Tensor:
                pairs.append((t, seed))
            elif id(t) in ids:      # a source asked about itself: d x / d x
                sink[id(t)] = sink.get(id(t), 0) + seed
        return pairs

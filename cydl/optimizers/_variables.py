"""apply_gradients on any variables: flat buffers gathered for one fused update.

`fit` updates a model's own flat parameter buffer in place. A custom training loop
hands the optimizer (gradient, variable) pairs instead: the variables may belong to
a model never compiled, or to several models. They are copied into flat buffers
laid out as a model's would be (2-D weights column-major), updated by the same
fused kernel, and copied back. The slots follow each variable, so one optimizer
can go on between `fit` and a custom loop.
"""
import warnings

import numpy as np

from cydl.constraints import fused_spec


class VariableStore:
    """The store interface Optimizer.build and Optimizer.apply read, over a list of
    Variables that live anywhere."""

    def __init__(self, variables):
        dtypes = {v.dtype for v in variables}
        if len(dtypes) > 1:
            raise TypeError(f"apply_gradients: all variables must share one dtype; found "
                            f"{sorted(d.name for d in dtypes)}")
        self.dtype = dtypes.pop()
        self.trainable_variables = list(variables)
        self.offsets, off = [], 0
        for v in variables:
            self.offsets.append(off)
            off += v.size
        self.n_trainable = off
        self.trainable_params = np.empty(off, self.dtype)
        self.trainable_grads = np.empty(off, self.dtype)

    def trainable_layout(self):
        return list(zip(self.trainable_variables, self.offsets))

    def segments(self):
        return self.offsets + [self.n_trainable]

    def _view(self, buf, v, off):
        return buf[off:off + v.size].reshape(v.shape, order="F" if v.ndim == 2 else "C")

    def gather(self, grads):
        for v, off, g in zip(self.trainable_variables, self.offsets, grads):
            self._view(self.trainable_params, v, off)[...] = v.value
            self._view(self.trainable_grads, v, off)[...] = g

    def scatter(self):
        for v, off in zip(self.trainable_variables, self.offsets):
            v.assign(self._view(self.trainable_params, v, off))


def pairs(grads, variables):
    """The (gradients, variables) to update: checked, None gradients left out with a
    warning as Keras does."""
    grads, variables = list(grads), list(variables)
    if len(grads) != len(variables):
        raise ValueError(f"apply_gradients: {len(grads)} gradients for {len(variables)} "
                         f"variables")
    kept, missing = [], []
    for i, (g, v) in enumerate(zip(grads, variables)):
        if not getattr(v, "_is_variable", False):
            raise TypeError(f"apply_gradients: item {i} pairs a gradient with {v!r} of type "
                            f"{type(v).__name__}, not a Variable (e.g. model."
                            f"trainable_variables)")
        if g is None:
            missing.append(v.path)
            continue
        g = np.asarray(getattr(g, "value", g))
        if g.shape != v.shape:
            raise ValueError(f"apply_gradients: the gradient for {v.path!r} has shape "
                             f"{g.shape}, the variable {v.shape}")
        kept.append((g, v))
    if len({id(v) for _, v in kept}) != len(kept):
        raise ValueError("apply_gradients: a variable appears twice; sum its gradients first")
    if not kept:
        raise ValueError("No gradients provided for any variable.")
    if missing:
        warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the "
                      f"loss.", stacklevel=3)
    return [g for g, _ in kept], [v for _, v in kept]


def apply_to_variables(optimizer, grads, variables):
    """One optimizer step on `variables` from `grads` (arrays of their shapes)."""
    grads, variables = pairs(grads, variables)
    store = getattr(optimizer, "_variable_store", None)
    if store is None or len(store.trainable_variables) != len(variables) or \
            any(a is not b for a, b in zip(store.trainable_variables, variables)):
        store = optimizer._variable_store = VariableStore(variables)
    # a custom loop adds model.losses to its loss itself: the update must not add the
    # L1/L2 penalties' gradient a second time
    optimizer.build(store, penalties=False)
    store.gather(grads)
    optimizer.apply(store)
    store.scatter()
    for v in variables:
        if v.constraint is not None and fused_spec(v.constraint, v.shape) is None:
            v.assign(v.constraint(v.value))

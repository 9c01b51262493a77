"""One flat buffer for all of a model's weights, one for their gradients.

Trainable weights come first, so the optimizer updates one contiguous range in one
kernel call. Variables become views into the buffers. A layer shared by two models
lives in the buffer of whichever model adopted it last; `is_current` notices when
that happened, and the model then rebuilds its store (the values carry over).
"""
import numpy as np


def _entries(layers):
    seen, train, frozen = set(), [], []
    for layer in layers:
        for v in layer.trainable_weights:
            if id(v) not in seen:
                seen.add(id(v))
                train.append(v)
        for v in layer.non_trainable_weights:
            if id(v) not in seen:
                seen.add(id(v))
                frozen.append(v)
    return train, frozen


class ParamStore:
    """The flat parameter and gradient buffers of a list of built layers."""

    def __init__(self, layers):
        train, frozen = _entries(layers)
        dtypes = {v.dtype for v in train + frozen}
        if len(dtypes) > 1:
            raise TypeError(f"All layers of a model must share one dtype; found "
                            f"{sorted(d.name for d in dtypes)}")
        if dtypes:
            self.dtype = dtypes.pop()
        else:       # a model without weights still computes in its layers' dtype
            dtype = getattr(layers[0], "dtype", None) if layers else None
            self.dtype = np.dtype(dtype or np.float32)
        self.stale = False
        self.variables = train + frozen
        self.trainable_variables = train
        self.n_trainable = sum(v.size for v in train)
        total = sum(v.size for v in self.variables)
        self.params = np.empty(total, self.dtype)
        self.grads = np.zeros(total, self.dtype)
        self.offsets = {}
        off = 0
        for v in self.variables:
            order = "F" if v.ndim == 2 else "C"
            n = v.size
            v._bind(self.params[off:off + n].reshape(v.shape, order=order),
                    self.grads[off:off + n].reshape(v.shape, order=order), self)
            self.offsets[id(v)] = off
            off += n
        self._signature = self.signature(layers)

    @staticmethod
    def signature(layers):
        train, frozen = _entries(layers)
        return tuple(id(v) for v in train), tuple(id(v) for v in frozen)

    def is_current(self, layers):
        return (not self.stale and self._signature == self.signature(layers)
                and all(v._store is self for v in self.variables))

    @property
    def trainable_params(self):
        return self.params[:self.n_trainable]

    @property
    def trainable_grads(self):
        return self.grads[:self.n_trainable]

    def trainable_layout(self):
        return [(v, self.offsets[id(v)]) for v in self.trainable_variables]

    def segments(self):
        """Boundaries of the trainable variables: [0, end_1, ..., n_trainable]."""
        bounds = [0]
        for v in self.trainable_variables:
            bounds.append(bounds[-1] + v.size)
        return bounds

    def offset(self, var):
        return self.offsets[id(var)]

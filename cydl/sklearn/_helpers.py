"""Float64 activations for prediction, the not-fitted error, and random_state."""
import numpy as np

from cydl import _config


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z):
    e = np.exp(-np.abs(z))       # no overflow either side
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


_ACT64 = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
          "sigmoid": _sigmoid, "softmax": _softmax}


def _not_fitted(est):
    try:
        from sklearn.exceptions import NotFittedError
    except ImportError:
        NotFittedError = AttributeError     # noqa: N806
    return NotFittedError(f"This {type(est).__name__} instance is not fitted yet. Call "
                          f"'fit' with appropriate arguments before using this estimator.")


class _seeded:
    """Run with cydl's global generator seeded from random_state, then put the old
    generator back: fitting an estimator must not move the caller's random state."""

    def __init__(self, random_state):
        self.random_state = random_state

    def __enter__(self):
        self.old = _config._RNG
        rs = self.random_state
        if rs is None:
            return self
        if isinstance(rs, np.random.RandomState):
            rs = int(rs.randint(0, 2 ** 31 - 1))
        _config._RNG = np.random.default_rng(rs)
        return self

    def __exit__(self, *exc):
        if self.random_state is not None:
            _config._RNG = self.old
        return False

"""Float64 activations for prediction, the not-fitted error, and BLAS threads."""
import contextlib

import numpy as np


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



def one_blas_thread():
    """A context in which BLAS runs single-threaded (through threadpoolctl, which
    comes with scikit-learn; a no-op without it). For loops of small BLAS calls
    (L-BFGS-B's vector updates, the perceptron's blocks of margins): BLAS threads
    only fight over the cores there, several times slower on a busy machine, and
    cydl's kernels keep BLAS single-threaded inside their own threads anyway."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")

"""cydl: Keras-shaped deep learning for multicore CPUs.

Replace `tf.keras` with `cydl`: Sequential, Model, Input, layers, optimizers, losses,
metrics, callbacks, initializers, activations, regularizers, constraints.
"""
try:
    from cydl._kernels import _parallel as _check_kernels  # noqa: F401
except ImportError as e:   # running from a source tree that was never built
    raise ImportError(
        "cydl's compiled kernels are missing. Install with `pip install .` (or build in "
        "place with `python setup.py build_ext --inplace`), and do not run Python from "
        f"inside an unbuilt source checkout. ({e})") from None

from cydl import _ops  # noqa: E402  (binds the BLAS thread controls)
from cydl import (activations, backend, callbacks, config, constraints, datasets,  # noqa: E402
                  initializers, layers, losses, metrics, models, ops, optimizers,
                  regularizers, saving, utils)
from cydl.autodiff import GradientTape  # noqa: E402
from cydl._config import get_num_threads, num_threads, set_num_threads  # noqa: E402
from cydl._info import show_config  # noqa: E402
from cydl._version import __version__  # noqa: E402
from cydl.layers import Input  # noqa: E402
from cydl.models import Model, Sequential  # noqa: E402

# Submodules with optional dependencies (optuna, scikit-learn, mpi4py) load on first use,
# so that `import cydl` stays numpy+scipy only and fast.
_LAZY = ("tuner", "wrappers", "distribution", "sklearn", "export")


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return importlib.import_module(f"cydl.{name}")
    raise AttributeError(f"module 'cydl' has no attribute {name!r}")


__all__ = ["Sequential", "Model", "Input", "layers", "optimizers", "losses", "metrics",
           "callbacks", "initializers", "activations", "regularizers", "constraints",
           "models", "saving", "utils", "datasets", "config", "backend", "ops", "GradientTape", "show_config",
           "set_num_threads", "get_num_threads", "num_threads", "__version__"]

"""show_config(): what this build of cydl runs on."""
import platform
import sys

import numpy as np
import scipy


def config_dict():
    from cydl import _config
    from cydl import _kernels
    from cydl._kernels import _adapt, _parallel
    from cydl._ops import _blas_threads
    from cydl._version import __version__
    blas = _blas_threads.bind()
    return {
        "cydl": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
        "openmp": _parallel.openmp_enabled(),
        "threads": _config.get_num_threads(),
        "adaptive_threads": _adapt.get_adaptive(),
        "openmp_max_threads": _parallel.openmp_max_threads(),
        "openmp_spin_count": _kernels.SPIN[0],
        "openmp_spin_count_from": _kernels.SPIN[1],
        "cpus_available": _config._available_cpus(),
        "blas": blas["config"],
        "blas_thread_control": blas["bound"],
        "floatx": _config.floatx(),
    }


def show_config():
    """Print the version, whether OpenMP is on, the threads and the BLAS in use.

    Example:
    >>> cydl.show_config()
    """
    c = config_dict()
    print(f"cydl {c['cydl']} (Python {c['python']}, NumPy {c['numpy']}, SciPy {c['scipy']})")
    print(f"  platform:  {c['platform']}")
    print(f"  OpenMP:    {'on' if c['openmp'] else 'off (single-threaded build)'}")
    print(f"  threads:   {c['threads']} (available CPUs: {c['cpus_available']}, "
          f"OpenMP default: {c['openmp_max_threads']}"
          f"{'; adaptive: 1 thread while that is faster' if c['adaptive_threads'] else ''})")
    if c["openmp"]:
        spin = c["openmp_spin_count"]
        src = c["openmp_spin_count_from"]
        print(f"  spinning:  idle OpenMP threads spin "
              f"{'the runtime default' if spin is None else f'{spin} times'}, then sleep "
              f"({'cydl default' if src == 'cydl' else src})")
    print(f"  BLAS:      {c['blas']} (via scipy.linalg.cython_blas; "
          f"{'pinned to 1 thread inside kernels' if c['blas_thread_control'] else 'threads not controlled'})")
    print(f"  floatx:    {c['floatx']}")

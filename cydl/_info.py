"""show_config(): what this build of cydl runs on."""
import platform
import sys

import numpy as np
import scipy


def config_dict():
    from cydl import _config
    from cydl import _kernels
    from cydl._kernels import _adapt, _optim, _parallel
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
        "blas_small_tiles": blas["small_tiles"],
        "floatx": _config.floatx(),
        "simd": _optim.simd_variant(),
        "simd_available": _optim.simd_available(),
        "distribution": _distribution(),
    }


def _distribution():
    """The processes of an MPI run, as far as known without importing mpi4py."""
    from cydl.distribution import _init, _state, _world
    w = _init._WORLD
    launched = _world.launched()
    if w is None:
        return {"launched": launched is not None,
                "rank": launched[0] if launched else 0,
                "size": (launched[1] or None) if launched else 1, "initialized": False}
    threads = _init._THREADS
    return {"launched": launched is not None, "initialized": True, "rank": w.rank,
            "size": w.size, "local_rank": w.local_rank, "local_size": w.local_size,
            "threads_from": threads[1] if threads else None,
            "data_parallel": _state.current() is not None}


def show_config():
    """Print the version, whether OpenMP is on, the threads, the BLAS and the SIMD
    variant of the elementwise kernels in use.

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
        print(f"  spinning:  idle OpenMP threads and threads waiting between phases spin "
              f"{'the runtime default' if spin is None else f'{spin} times'}, then sleep "
              f"({'cydl default' if src == 'cydl' else src})")
    print(f"  BLAS:      {c['blas']} (via scipy.linalg.cython_blas; "
          f"{'pinned to 1 thread inside kernels' if c['blas_thread_control'] else 'threads not controlled'}"
          f"{'; float GEMMs in pieces for its small-matrix kernels' if c['blas_small_tiles'] else ''})")
    print(f"  floatx:    {c['floatx']}")
    print(f"  SIMD:      {c['simd']} (runtime dispatch among "
          f"{', '.join(c['simd_available'])}; CYDL_SIMD to force)")
    d = c["distribution"]
    if not d["launched"]:
        print("  processes: 1 (not launched by mpiexec)")
    elif not d["initialized"]:
        print(f"  processes: rank {d['rank']} of {d['size'] or '?'} under an MPI launcher "
              f"(cydl.distribution not initialized)")
    else:
        share = {"share": "its share of this machine's CPUs", "user": "set by the user"}.get(
            d["threads_from"], "the default")
        threads = f"{c['threads']} thread" + ("s" if c["threads"] != 1 else "")
        print(f"  processes: rank {d['rank']} of {d['size']}, {d['local_size']} on this "
              f"machine (local rank {d['local_rank']}); {threads} each ({share}); "
              f"DataParallel {'on' if d['data_parallel'] else 'off'}")

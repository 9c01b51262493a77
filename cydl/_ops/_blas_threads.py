"""Find the thread controls of the BLAS behind scipy.linalg.cython_blas.

cydl's kernels call BLAS from their own OpenMP threads, so that BLAS must run
single-threaded meanwhile (two thread pools on the same cores slow each other down
many times over). dlsym on cython_blas's own handle searches its dependencies too,
which finds the OpenBLAS scipy links whatever its symbol prefix.
"""
import ctypes

_SET_NAMES = ("scipy_openblas_set_num_threads", "openblas_set_num_threads",
              "scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_")
_GET_NAMES = ("scipy_openblas_get_num_threads", "openblas_get_num_threads",
              "scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_")
_CONFIG_NAMES = ("scipy_openblas_get_config", "openblas_get_config",
                 "scipy_openblas_get_config64_", "openblas_get_config64_")
_CORE_NAMES = ("scipy_openblas_get_corename", "openblas_get_corename",
               "scipy_openblas_get_corename64_", "openblas_get_corename64_")
# the OpenBLAS cores with small-matrix SGEMM kernels (KERNEL.SKYLAKEX and the
# cores that reuse it), which the kernels' GEMM then feeds in pieces (_blas.pyx)
SMALL_KERNEL_CORES = ("skylakex", "cooperlake", "sapphirerapids")

_info = {"bound": False, "config": "unknown BLAS (thread count not controlled)",
         "core": None, "small_tiles": False}


def rows_exact():
    """Whether a GEMM row's result has the same bits whatever other rows share its
    call. True for the OpenBLAS cores with small-matrix kernels (SkylakeX and those
    that reuse its kernels: cydl feeds those in pieces that keep it, and their packed
    kernels have it too). Not for its Haswell and Zen kernels (an AMD EPYC Zen 3
    here): a row's result moves by rounding with its place in the call and the
    call's size, so there inference row blocks and the threads' row parts agree
    with a whole batch to rounding, not bit for bit (tests/test_blocks.py)."""
    return bind()["small_tiles"]


def _lookup(lib, names):
    for name in names:
        try:
            return getattr(lib, name)
        except AttributeError:
            continue
    return None


def bind():
    """Hand the kernels the set/get-threads functions; return a description."""
    from cydl._kernels import _blas
    if _info["bound"]:
        return _info
    try:
        import scipy.linalg.cython_blas as cb
        lib = ctypes.CDLL(cb.__file__)
    except OSError:
        return _info
    set_fn, get_fn = _lookup(lib, _SET_NAMES), _lookup(lib, _GET_NAMES)
    config = _lookup(lib, _CONFIG_NAMES)
    if config is not None:
        config.restype = ctypes.c_char_p
        _info["config"] = config().decode(errors="replace")
    core = _lookup(lib, _CORE_NAMES)
    if core is not None:
        core.restype = ctypes.c_char_p
        _info["core"] = core().decode(errors="replace")
        _info["small_tiles"] = _info["core"].strip().lower() in SMALL_KERNEL_CORES
        _blas.set_small_tiles(_info["small_tiles"])
    if set_fn is not None and get_fn is not None:
        get_fn.restype = ctypes.c_int
        _blas.bind_thread_control(ctypes.cast(set_fn, ctypes.c_void_p).value,
                                  ctypes.cast(get_fn, ctypes.c_void_p).value)
        _info["bound"] = True
    return _info


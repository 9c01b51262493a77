"""OpenMP facts for the Python side: whether the build has it and how many threads."""


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(CYDL_OPENMP)


def openmp_max_threads():
    """omp_get_max_threads(): the runtime's default team size (1 without OpenMP)."""
    return omp_get_max_threads()


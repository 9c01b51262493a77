cdef extern from "_omp.h" nogil:
    int CYDL_OPENMP
    int omp_get_thread_num()
    int omp_get_max_threads()
    int omp_get_num_procs()
    double omp_get_wtime()


cdef struct Span:
    Py_ssize_t lo
    Py_ssize_t hi


cdef extern from "_cpu.h" nogil:
    unsigned int cydl_ftz_begin()
    void cydl_ftz_end(unsigned int old)
    void cydl_prefetch(const void* addr)


cdef inline Span split_range(Py_ssize_t n, int parts, int i, Py_ssize_t align) noexcept nogil:
    """[lo, hi) of part i when n items are cut into `parts` near-equal pieces
    whose boundaries fall on multiples of `align` (the last piece takes the rest)."""
    cdef Span s
    cdef Py_ssize_t blocks = (n + align - 1) // align
    s.lo = ((blocks * i) // parts) * align
    s.hi = ((blocks * (i + 1)) // parts) * align
    if s.lo > n:
        s.lo = n
    if s.hi > n:
        s.hi = n
    return s


cdef inline int parts_for(double work, double min_work, int n_threads, Py_ssize_t n) noexcept nogil:
    """How many threads a loop of `work` units over `n` splittable items deserves:
    one per `min_work`, capped by n_threads and n, at least one."""
    cdef int p = <int>(work / min_work)
    if p > n_threads:
        p = n_threads
    if p > n:
        p = <int>n
    if p < 1:
        p = 1
    return p


cdef int run_threads(int parts) noexcept nogil

/* OpenMP when the build found it, else serial stand-ins with the same names,
   so the kernels compile and run correctly either way. */
#ifndef CYDL_OMP_H
#define CYDL_OMP_H
#ifdef _OPENMP
#include <omp.h>
#define CYDL_OPENMP 1
#else
#define CYDL_OPENMP 0
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_num_procs(void) { return 1; }
#include <time.h>
static inline double omp_get_wtime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
#endif
#endif

/* What a barrier between two phases costs on this machine: libgomp's, against the
   spinning barrier of cydl/_kernels/_barrier.h, and the system call that makes the
   difference.

       gcc -O2 -fopenmp -Icydl/_kernels -o /tmp/barrier benchmarks/lab/barrier.c && /tmp/barrier

   libgomp's barrier ends with futex_wake from the last thread to arrive whether or
   not anyone sleeps. On the development VM (2 vCPUs, Zen 4): futex_wake with no
   waiter 245-290 ns, `#pragma omp barrier` on 2 threads 290-320 ns (the same with
   OMP_WAIT_POLICY=active), _barrier.h's 40-80 ns; a parallel region of 2 threads
   610-690 ns, of 1 thread 330-375 ns. */
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <omp.h>
#include "_barrier.h"

static cydl_barrier_t bar __attribute__((aligned(64)));

int main(void) {
    int x = 0, n = 1000000, m = 200000;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++)
        syscall(SYS_futex, &x, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("futex_wake, no waiter:         %6.1f ns\n",
           ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    double t0 = omp_get_wtime();
    #pragma omp parallel num_threads(2)
    for (int i = 0; i < m; i++) {
        #pragma omp barrier
    }
    printf("omp barrier, 2 threads:        %6.1f ns\n", (omp_get_wtime() - t0) / m * 1e9);
    cydl_barrier_init(&bar);
    t0 = omp_get_wtime();
    #pragma omp parallel num_threads(2)
    for (int i = 0; i < m; i++)
        cydl_barrier_wait(&bar, 2);
    printf("_barrier.h, 2 threads:         %6.1f ns\n", (omp_get_wtime() - t0) / m * 1e9);
    for (int k = 2; k >= 1; k--) {
        t0 = omp_get_wtime();
        for (int i = 0; i < m; i++) {
            #pragma omp parallel num_threads(k)
            { x += 0; }
        }
        printf("parallel region, %d thread(s): %6.1f ns\n", k, (omp_get_wtime() - t0) / m * 1e9);
    }
    return 0;
}

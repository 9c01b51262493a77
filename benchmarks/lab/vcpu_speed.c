/* Whether the CPUs run at the same speed from moment to moment: one thread pinned to
   CPU 0 then CPU 1, 50 ms of register-only FMA work on each, repeated; prints each
   CPU's GFLOP/s and their ratio. On a shared VM a vCPU can run at half speed for tens
   of milliseconds at a time (its host core busy with something else), and a 2-thread
   step whose phases are cut in halves then waits for the slow one at every barrier,
   while a 1-thread program on the other CPU does not notice.

       gcc -O2 -mavx2 -mfma -o /tmp/vcpu_speed benchmarks/lab/vcpu_speed.c && /tmp/vcpu_speed 80

   Recorded numbers: RESULTS.md's history (stop 21). */
#define _GNU_SOURCE
#include <immintrin.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
    int samples = argc > 1 ? atoi(argv[1]) : 40, slow = 0;
    __m256 a = _mm256_set1_ps(1.0001f), b = _mm256_set1_ps(0.9999f), c[10];
    float sink = 0, lanes[8];
    for (int i = 0; i < 10; i++) c[i] = _mm256_set1_ps((float)i);
    printf("GFLOP/s of one thread, CPU 0 then CPU 1, 50 ms each\n");
    for (int s = 0; s < samples; s++) {
        double rate[2];
        for (int cpu = 0; cpu < 2; cpu++) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            if (sched_setaffinity(0, sizeof set, &set) != 0) {
                perror("sched_setaffinity");
                return 1;
            }
            double t = now(), flop = 0;
            while (now() - t < 0.05) {
                for (int k = 0; k < 10000; k++)   /* 10 independent FMA chains */
                    for (int i = 0; i < 10; i++) c[i] = _mm256_fmadd_ps(c[i], a, b);
                flop += 10000.0 * 10 * 16;
            }
            rate[cpu] = flop / (now() - t) / 1e9;
        }
        double r = rate[1] / rate[0];
        slow += r < 0.8 || r > 1.25;
        printf("%6.1f %6.1f   CPU 1 / CPU 0 %.2f\n", rate[0], rate[1], r);
    }
    printf("%d of %d samples had one CPU more than 20 %% slower\n", slow, samples);
    for (int i = 0; i < 10; i++) {
        _mm256_storeu_ps(lanes, c[i]);
        sink += lanes[0];
    }
    return sink == 12345.f;
}

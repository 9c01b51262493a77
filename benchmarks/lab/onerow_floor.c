/* The floor under one-row `model(x)` of the MLP 784-300-100-10: its three GEMVs as
   plain C calls to scipy's OpenBLAS on 2 OpenMP threads, split by units as the
   kernels split them (the output layer on one thread), a barrier after each layer.
   No bias, activation, NaN scan, lock or Python. Each thread's share of the first
   layer is 470 KB; on a CPU with 512 KB of L2 per core (Zen 3) the shares and the
   rest of the weights do not all stay in L2. Compare with the `table` suite's
   latency row, or a loop of `model(x)`, run beside it.

       L=$(python -c "import os,scipy; print(os.path.realpath(os.path.join(os.path.dirname(scipy.__file__), '..', 'scipy.libs')))")
       gcc -O2 -fopenmp -o /tmp/onerow_floor benchmarks/lab/onerow_floor.c $L/libscipy_openblas*.so -Wl,-rpath,$L && /tmp/onerow_floor

   Recorded numbers: RESULTS.md's history (stop 21). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

void scipy_sgemv_(const char*, const int*, const int*, const float*, const float*, const int*,
                  const float*, const int*, const float*, float*, const int*);
void scipy_openblas_set_num_threads(int);

/* y[0:n] = W[:, 0:n]^T x, W column-major (k x n): each unit's k weights contiguous */
static void gemv(int k, int n, const float* w, const float* x, float* y) {
    char t = 'T';
    int one = 1;
    float alpha = 1, beta = 0;
    scipy_sgemv_(&t, &k, &n, &alpha, w, &k, x, &one, &beta, y, &one);
}

int main(void) {
    enum { CALLS = 4000, WINDOWS = 9 };
    int sizes[] = {200, 240, 300};
    scipy_openblas_set_num_threads(1);
    printf("784-h-100-10, one row, 2 threads: best of %d windows of %d calls\n", WINDOWS, CALLS);
    for (int q = 0; q < 3; q++) {
        int h = sizes[q];
        float *w0 = aligned_alloc(64, 4 * 784 * h), *w1 = aligned_alloc(64, 4 * h * 100);
        float *w2 = aligned_alloc(64, 4 * 100 * 10), *x = aligned_alloc(64, 4 * 784);
        float *h0 = aligned_alloc(64, 4 * h), *h1 = aligned_alloc(64, 4 * 100);
        float *out = aligned_alloc(64, 64);
        double best = 1e9;
        for (int i = 0; i < 784 * h; i++) w0[i] = ((i % 17) - 8) * 0.01f;
        for (int i = 0; i < h * 100; i++) w1[i] = ((i % 11) - 5) * 0.01f;
        for (int i = 0; i < 1000; i++) w2[i] = 0.01f * (i % 3);
        for (int i = 0; i < 784; i++) x[i] = (i % 5) * 0.1f;
        for (int w = 0; w < WINDOWS; w++) {
            double total = 0;
#pragma omp parallel num_threads(2)
            {
                int t = omp_get_thread_num(), c0 = t ? h / 2 : 0, c1 = t ? h : h / 2;
                for (int it = 0; it < CALLS; it++) {
                    double a = omp_get_wtime();
                    gemv(784, c1 - c0, w0 + (size_t)c0 * 784, x, h0 + c0);
#pragma omp barrier
                    gemv(h, 50, w1 + (size_t)t * 50 * h, h0, h1 + t * 50);
#pragma omp barrier
                    if (!t) gemv(100, 10, w2, h1, out);
#pragma omp barrier
                    if (!t) total += omp_get_wtime() - a;
                }
            }
            if (total / CALLS < best) best = total / CALLS;
        }
        printf("  h = %d (weights %4.0f KB): %6.2f us\n", h, (784.0 * h + 100.0 * h + 1000) * 4 / 1024,
               best * 1e6);
        free(w0); free(w1); free(w2); free(x); free(h0); free(h1); free(out);
    }
    return 0;
}

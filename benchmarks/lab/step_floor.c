/* The floor under the fused step at batch 512: the MLP 784-300-100-10's gather and
   big GEMMs, written as plain C calls to scipy's OpenBLAS on 2 OpenMP threads with
   the splits the kernels use at this batch (rows of the batch for the forward GEMMs,
   rows of W for plain SGD's folded update and the input gradient), a barrier after
   each phase. No output layer, loss, Python or profiler. Compare with
   `python benchmarks/lab/phases.py --batches 512 --opts sgd` run beside it: where
   cydl's phases take what these calls take, what is left is the GEMMs' own rate.

       L=$(python -c "import os,scipy; print(os.path.realpath(os.path.join(os.path.dirname(scipy.__file__), '..', 'scipy.libs')))")
       gcc -O2 -fopenmp -o /tmp/step_floor benchmarks/lab/step_floor.c $L/libscipy_openblas*.so -Wl,-rpath,$L && /tmp/step_floor

   Recorded numbers: RESULTS.md's history (stop 21). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void scipy_sgemm_(const char*, const char*, const int*, const int*, const int*, const float*,
                  const float*, const int*, const float*, const int*, const float*, float*,
                  const int*);
void scipy_openblas_set_num_threads(int);

static void gemm(char ta, char tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
    scipy_sgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

/* One thread, the same operands again and again (warm): GFLOP/s, best of 7 windows */
static double alone(char ta, char tb, int m, int n, int k, float beta, const float* a, int lda,
                    const float* b, int ldb, float* c, int ldc) {
    double best = 1e9;
    for (int w = 0; w < 7; w++) {
        double t = omp_get_wtime();
        for (int r = 0; r < 10; r++) gemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc);
        t = (omp_get_wtime() - t) / 10;
        if (t < best) best = t;
    }
    return 2.0 * m * n * k / best / 1e9;
}

enum { B = 512, N0 = 784, N1 = 300, N2 = 100, ROWS = 32768, STEPS = 300 };

int main(void) {
    /* column-major as in the kernels: W0 (784 x 300), W1 (300 x 100); activations
       (B x units) with the batch leading; the gathered input row-major (B x 784) */
    float* data = aligned_alloc(64, 4L * ROWS * N0);
    float *X = aligned_alloc(64, 4 * B * N0), *W0 = aligned_alloc(64, 4 * N0 * N1);
    float *b0 = calloc(N1, 4), *A0 = aligned_alloc(64, 4 * B * N1);
    float *W1 = aligned_alloc(64, 4 * N1 * N2), *A1 = aligned_alloc(64, 4 * B * N2);
    float *dZ1 = aligned_alloc(64, 4 * B * N2), *dZ0 = aligned_alloc(64, 4 * B * N1);
    int* idx = malloc(4 * ROWS);
    double T[5] = {0};
    const char* name[5] = {"gather", "forward 0", "forward 1", "backward 1", "backward 0"};
    double flop[5] = {0, 2.0 * B * N0 * N1, 2.0 * B * N1 * N2, 4.0 * B * N1 * N2,
                      2.0 * B * N0 * N1};
    scipy_openblas_set_num_threads(1);
    for (long i = 0; i < (long)ROWS * N0; i++) data[i] = (i % 13) * 0.01f;
    for (int i = 0; i < N0 * N1; i++) W0[i] = ((i % 17) - 8) * 1e-3f;
    for (int i = 0; i < N1 * N2; i++) W1[i] = ((i % 11) - 5) * 1e-3f;
    for (int i = 0; i < B * N2; i++) dZ1[i] = ((i % 7) - 3) * 1e-3f;
    for (int i = 0; i < ROWS; i++) idx[i] = (int)((i * 2654435761u) % ROWS);
#pragma omp parallel num_threads(2)
    {
        int t = omp_get_thread_num();
        int r0 = t * (B / 2);                    /* batch rows of the forward GEMMs */
        int w0 = t ? 392 : 0, n_w0 = 392;        /* rows of W0 for its fold */
        int w1 = t ? 144 : 0, n_w1 = t ? 156 : 144;   /* rows of W1: multiples of 16 */
        for (int s = 0; s < STEPS; s++) {
            double a = omp_get_wtime(), c;
            for (int r = r0; r < r0 + B / 2; r++)
                memcpy(X + (size_t)r * N0, data + (size_t)idx[(s * B + r) % ROWS] * N0, 4 * N0);
#pragma omp barrier
            c = omp_get_wtime(); if (!t) T[0] += c - a; a = c;
            /* A0[rows] = relu(X[rows] W0 + b0) */
            gemm('T', 'N', B / 2, N1, N0, 1, X + (size_t)r0 * N0, N0, W0, N0, 0, A0 + r0, B);
            for (int j = 0; j < N1; j++)
                for (int r = r0; r < r0 + B / 2; r++) {
                    float z = A0[r + (size_t)j * B] + b0[j];
                    A0[r + (size_t)j * B] = z > 0 ? z : 0;
                }
#pragma omp barrier
            c = omp_get_wtime(); if (!t) T[1] += c - a; a = c;
            gemm('N', 'N', B / 2, N2, N1, 1, A0 + r0, B, W1, N1, 0, A1 + r0, B);
            for (int j = 0; j < N2; j++)
                for (int r = r0; r < r0 + B / 2; r++) {
                    float z = A1[r + (size_t)j * B];
                    A1[r + (size_t)j * B] = z > 0 ? z : 0;
                }
#pragma omp barrier
            c = omp_get_wtime(); if (!t) T[2] += c - a; a = c;
            /* dZ0[:, rows] = (dZ1 W1[rows]^T) * relu'(A0), then W1[rows] -= lr A0[:, rows]^T dZ1 */
            gemm('N', 'T', B, n_w1, N2, 1, dZ1, B, W1 + w1, N1, 0, dZ0 + (size_t)w1 * B, B);
            for (int j = w1; j < w1 + n_w1; j++)
                for (int r = 0; r < B; r++)
                    if (A0[r + (size_t)j * B] <= 0) dZ0[r + (size_t)j * B] = 0;
            gemm('T', 'N', n_w1, N2, B, -0.01f, A0 + (size_t)w1 * B, B, dZ1, B, 1, W1 + w1, N1);
#pragma omp barrier
            c = omp_get_wtime(); if (!t) T[3] += c - a; a = c;
            /* W0[rows] -= lr X[:, rows]^T dZ0 */
            gemm('N', 'N', n_w0, N1, B, -0.01f, X + w0, N0, dZ0, B, 1, W0 + w0, N0);
#pragma omp barrier
            c = omp_get_wtime(); if (!t) T[4] += c - a;
        }
    }
    double total = 0, gf = 0;
    printf("batch %d, 2 threads, %d steps: us per step (thread 0, barrier to barrier)\n", B, STEPS);
    for (int i = 0; i < 5; i++) {
        total += T[i];
        gf += flop[i];
        if (flop[i] > 0)
            printf("  %-11s %8.1f  %6.1f GFLOP/s\n", name[i], T[i] / STEPS * 1e6,
                   flop[i] * STEPS / T[i] / 1e9);
        else
            printf("  %-11s %8.1f\n", name[i], T[i] / STEPS * 1e6);
    }
    printf("  total       %8.1f  %6.1f GFLOP/s over these phases\n", total / STEPS * 1e6,
           gf * STEPS / total / 1e9);
    /* what OpenBLAS gives thread 0's calls on their own, against its 1024^3 rate */
    {
        float *a = aligned_alloc(64, 4 << 22), *b = aligned_alloc(64, 4 << 22);
        float *c = aligned_alloc(64, 4 << 22);
        for (int i = 0; i < 1 << 22; i++) { a[i] = (i % 7) * 0.1f; b[i] = (i % 5) * 0.1f; c[i] = 0; }
        printf("thread 0's calls alone, one thread, warm (GFLOP/s; 1024^3: %.1f):\n",
               alone('N', 'N', 1024, 1024, 1024, 0, a, 1024, b, 1024, c, 1024));
        printf("  forward 0      TN %4d x %4d x %4d  %6.1f\n", B / 2, N1, N0,
               alone('T', 'N', B / 2, N1, N0, 0, a, N0, b, N0, c, B));
        printf("  forward 1      NN %4d x %4d x %4d  %6.1f\n", B / 2, N2, N1,
               alone('N', 'N', B / 2, N2, N1, 0, a, B, b, N1, c, B));
        printf("  input grad 1   NT %4d x %4d x %4d  %6.1f\n", B, 144, N2,
               alone('N', 'T', B, 144, N2, 0, a, B, b, N1, c, B));
        printf("  fold 1         TN %4d x %4d x %4d  %6.1f\n", 144, N2, B,
               alone('T', 'N', 144, N2, B, 1, a, B, b, B, c, N1));
        printf("  fold 0         NN %4d x %4d x %4d  %6.1f\n", 392, N1, B,
               alone('N', 'N', 392, N1, B, 1, a, N0, b, B, c, N0));
    }
    return 0;
}

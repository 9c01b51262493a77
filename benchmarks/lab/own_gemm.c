/* What the rule "GEMM only through scipy.linalg.cython_blas" costs on an AVX2 core:
   the fused step's small GEMMs through scipy's OpenBLAS (Haswell kernels: both
   operands packed on every call, no small-matrix kernels on this core) against a
   30-line AVX2 micro-kernel that reads them in place. One thread, warm operands,
   the shapes one thread runs in the step (activations column-major with the batch
   leading, as cydl keeps them). A prototype for the team's decision, not product
   code: it assumes m % 16 == 0 and does not take A transposed.

       L=$(python -c "import os,scipy; print(os.path.realpath(os.path.join(os.path.dirname(scipy.__file__), '..', 'scipy.libs')))")
       gcc -O2 -mavx2 -mfma -o /tmp/own_gemm benchmarks/lab/own_gemm.c $L/libscipy_openblas*.so -Wl,-rpath,$L -lm && /tmp/own_gemm

   Recorded numbers: RESULTS.md's history (stop 21). */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void scipy_sgemm_(const char*, const char*, const int*, const int*, const int*, const float*,
                  const float*, const int*, const float*, const int*, const float*, float*,
                  const int*);
void scipy_openblas_set_num_threads(int);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* C (m x n, ldc) = A (m x k, lda) op(B), column-major, B k x n (tb 'N') or n x k
   (tb 'T'): op(B)[p, j] at B + p * sp + j * sj. 16 rows x 6 columns of C in 12 ymm
   accumulators, written out so that they stay in registers; one column at a time for
   the last n % 6. */
#define FMA2(q)                                                           \
    b = _mm256_broadcast_ss(bp + (size_t)(q) * sj);                       \
    c0##q = _mm256_fmadd_ps(a0, b, c0##q);                                \
    c1##q = _mm256_fmadd_ps(a1, b, c1##q);
#define STORE2(q)                                                         \
    _mm256_storeu_ps(C + i + (size_t)(j + q) * ldc, c0##q);               \
    _mm256_storeu_ps(C + i + 8 + (size_t)(j + q) * ldc, c1##q);

static void own_gemm(char tb, int m, int n, int k, const float* A, int lda, const float* B,
                     int ldb, float* C, int ldc) {
    size_t sp = tb == 'N' ? 1 : (size_t)ldb, sj = tb == 'N' ? (size_t)ldb : 1;
    for (int i = 0; i < m; i += 16) {
        const float* a = A + i;
        int j = 0;
        for (; j + 6 <= n; j += 6) {
            __m256 z = _mm256_setzero_ps(), b;
            __m256 c00 = z, c01 = z, c02 = z, c03 = z, c04 = z, c05 = z;
            __m256 c10 = z, c11 = z, c12 = z, c13 = z, c14 = z, c15 = z;
            for (int p = 0; p < k; p++) {
                const float* bp = B + p * sp + (size_t)j * sj;
                __m256 a0 = _mm256_loadu_ps(a + (size_t)p * lda);
                __m256 a1 = _mm256_loadu_ps(a + (size_t)p * lda + 8);
                FMA2(0) FMA2(1) FMA2(2) FMA2(3) FMA2(4) FMA2(5)
            }
            STORE2(0) STORE2(1) STORE2(2) STORE2(3) STORE2(4) STORE2(5)
        }
        for (; j < n; j++) {
            __m256 c0 = _mm256_setzero_ps(), c1 = c0;
            for (int p = 0; p < k; p++) {
                __m256 b = _mm256_broadcast_ss(B + p * sp + (size_t)j * sj);
                c0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + (size_t)p * lda), b, c0);
                c1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + (size_t)p * lda + 8), b, c1);
            }
            _mm256_storeu_ps(C + i + (size_t)j * ldc, c0);
            _mm256_storeu_ps(C + i + 8 + (size_t)j * ldc, c1);
        }
    }
}

int main(void) {
    struct { char tb; int m, n, k; const char* what; } S[] = {
        {'N', 32, 52, 100, "deep 20x100 b32, hidden forward"},
        {'T', 32, 52, 100, "deep 20x100 b32, hidden input gradient"},
        {'N', 32, 150, 784, "MLP b32, layer 0 forward"},
        {'N', 32, 50, 300, "MLP b32, layer 1 forward"},
        {'T', 32, 150, 100, "MLP b32, layer 1 input gradient"},
        {'N', 128, 150, 784, "MLP b128, layer 0 forward"},
    };
    size_t big = 1 << 20;
    float *A = aligned_alloc(64, 4 * big), *B = aligned_alloc(64, 4 * big);
    float *C1 = aligned_alloc(64, 4 * big), *C2 = aligned_alloc(64, 4 * big);
    scipy_openblas_set_num_threads(1);
    for (size_t i = 0; i < big; i++) { A[i] = sinf(i) * 0.5f; B[i] = cosf(0.7f * i) * 0.5f; }
    printf("one thread, best of 9 windows (the two alternate)\n");
    for (int s = 0; s < (int)(sizeof S / sizeof S[0]); s++) {
        int m = S[s].m, n = S[s].n, k = S[s].k, ldb = S[s].tb == 'N' ? k : n, reps;
        char ta = 'N', tb = S[s].tb;
        float one = 1, zero = 0;
        double t_blas = 1e9, t_own = 1e9, err = 0, scale = 0;
        reps = (int)(2e8 / (2.0 * m * n * k)) + 1;
        for (int w = 0; w < 9; w++) {
            double t = now();
            for (int r = 0; r < reps; r++)
                scipy_sgemm_(&ta, &tb, &m, &n, &k, &one, A, &m, B, &ldb, &zero, C1, &m);
            t = (now() - t) / reps;
            if (t < t_blas) t_blas = t;
            t = now();
            for (int r = 0; r < reps; r++) own_gemm(tb, m, n, k, A, m, B, ldb, C2, m);
            t = (now() - t) / reps;
            if (t < t_own) t_own = t;
        }
        for (int i = 0; i < m * n; i++) {
            err = fmax(err, fabs(C1[i] - C2[i]));
            scale = fmax(scale, fabs(C1[i]));
        }
        printf("%-40s N%c %4dx%4dx%4d  OpenBLAS %7.2f us (%5.1f GFLOP/s)  in place %7.2f us "
               "(%5.1f)  %.2fx  max|diff|/max|C| %.0e\n", S[s].what, tb, m, n, k, t_blas * 1e6,
               2.0 * m * n * k / t_blas / 1e9, t_own * 1e6, 2.0 * m * n * k / t_own / 1e9,
               t_blas / t_own, err / scale);
    }
    return 0;
}

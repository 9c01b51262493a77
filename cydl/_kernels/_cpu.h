/* Flush denormals to zero (FTZ + DAZ) while a kernel runs, as TensorFlow does on
   CPU. Optimizer state such as Adam's first moment decays geometrically for
   parameters whose gradient is zero and reaches the denormal range within about a
   thousand steps; x86 arithmetic on denormals is many times slower. The caller's
   MXCSR is restored afterwards, so user code is not affected. */
#ifndef CYDL_CPU_H
#define CYDL_CPU_H
#if defined(__SSE__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 1)
#include <xmmintrin.h>
static inline unsigned int cydl_ftz_begin(void) {
    unsigned int old = _mm_getcsr();
    _mm_setcsr(old | 0x8040);   /* FTZ (bit 15) | DAZ (bit 6) */
    return old;
}
static inline void cydl_ftz_end(unsigned int old) { _mm_setcsr(old); }
#else
static inline unsigned int cydl_ftz_begin(void) { return 0; }
static inline void cydl_ftz_end(unsigned int old) { (void)old; }
#endif

/* Ask for a cache line ahead of use (no-op where unsupported). */
#if defined(__GNUC__) || defined(__clang__)
#define cydl_prefetch(addr) __builtin_prefetch((addr), 0, 2)
#else
#define cydl_prefetch(addr) ((void)(addr))
#endif
#endif

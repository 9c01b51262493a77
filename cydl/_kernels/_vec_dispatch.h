/* Runtime choice of an instruction set for the vectorized elementwise loops.

   The portable build targets baseline x86-64 (SSE2), so the loops of _vec_*.h are
   compiled three times -- default, AVX2 and AVX-512F -- through
   __attribute__((target(...))), and a table of function pointers picks one variant
   once at import. A table is used rather than target_clones (an ifunc) because
   target_clones offers no way to force a variant: the tests run every variant this
   CPU has and compare them, and CYDL_SIMD lets a user pin one. The indirect call
   is made once per span of thousands of elements, so it costs nothing measurable.

   Every variant gives bit-identical results: the loops are elementwise (no
   reductions, so the vector width never changes an order of operations), the
   extensions that include these headers are compiled with -ffp-contract=off (no
   a*b+c fused into an FMA on the targets that have one), there is no -ffast-math,
   and sqrt / division are correctly rounded in every instruction set. */
#ifndef CYDL_VEC_DISPATCH_H
#define CYDL_VEC_DISPATCH_H
#include <stddef.h>

enum { CYDL_SIMD_DEFAULT = 0, CYDL_SIMD_AVX2 = 1, CYDL_SIMD_AVX512F = 2, CYDL_SIMD_N = 3 };

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define CYDL_SIMD_X86 1
#define CYDL_TARGET_DEFAULT
#define CYDL_TARGET_AVX2 __attribute__((target("avx2")))
#if defined(__clang__)   /* clang has no prefer-vector-width in target() */
#define CYDL_TARGET_AVX512F __attribute__((target("avx512f")))
#else   /* GCC's generic tuning may keep 256-bit vectors on an AVX-512 target: ask for zmm */
#define CYDL_TARGET_AVX512F __attribute__((target("avx512f,prefer-vector-width=512")))
#endif
#endif

/* Whether this CPU (and OS: libgcc checks the saved register state) runs `level`. */
static inline int cydl_simd_supported(int level) {
    if (level == CYDL_SIMD_DEFAULT)
        return 1;
#ifdef CYDL_SIMD_X86
    __builtin_cpu_init();
    if (level == CYDL_SIMD_AVX2)
        return __builtin_cpu_supports("avx2") != 0;
    if (level == CYDL_SIMD_AVX512F)
        return __builtin_cpu_supports("avx512f") != 0;
#endif
    return 0;
}

/* The widest variant this CPU runs. */
static inline int cydl_simd_best(void) {
    int level = CYDL_SIMD_N - 1;
    while (level > 0 && !cydl_simd_supported(level))
        level--;
    return level;
}
#endif

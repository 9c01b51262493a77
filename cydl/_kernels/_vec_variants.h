/* Compiles one body of vectorizable loops once per instruction-set variant, for one
   element type: the includer defines CYDL_VEC_BODY (the body's file name), T, CYDL_VEC_T
   (f or d: the names' type letter) and whatever else its body reads, includes this
   file, then undefines them. The body names its functions with SFX (f_default,
   f_avx2, f_avx512f, or the d_ ones) and marks them with ATTR (_vec_dispatch.h's target
   attributes). No include guard: included once per (body, type). */
#define CYDL_VEC_SFX2(t, v) t##v
#define CYDL_VEC_SFX(t, v) CYDL_VEC_SFX2(t, v)

#define SFX CYDL_VEC_SFX(CYDL_VEC_T, _default)
#define ATTR
#include CYDL_VEC_BODY
#undef SFX
#undef ATTR
#ifdef CYDL_SIMD_X86
#define SFX CYDL_VEC_SFX(CYDL_VEC_T, _avx2)
#define ATTR CYDL_TARGET_AVX2
#include CYDL_VEC_BODY
#undef SFX
#undef ATTR
#define SFX CYDL_VEC_SFX(CYDL_VEC_T, _avx512f)
#define ATTR CYDL_TARGET_AVX512F
#include CYDL_VEC_BODY
#undef SFX
#undef ATTR
#endif
#undef CYDL_VEC_SFX
#undef CYDL_VEC_SFX2

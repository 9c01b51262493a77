/* exp and log of one lane, written so that a loop calling them vectorizes; included by
   _vec_loss_body.h once per (type, instruction set) with T, CYDL_VL_U (the unsigned
   integer of T's width), CYDL_VL_DBL, SFX and ATTR defined.

   Why not libm: expf/logf are calls, and GCC does not vectorize a loop with a call in
   it without -ffast-math (which would also let it reorder the sums). Why these: the
   Cephes reductions and polynomials (exp: x = n ln2 + r, |r| <= ln2/2, with ln2 split in
   two so that n * C1 is exact; log: x = 2^e m, m in [sqrt(1/2), sqrt(2))). Only +, -, *,
   /, sqrt (all correctly rounded), fabs, copysign, compares, and integer bit moves: no
   operation whose result depends on the vector width, so every variant rounds every
   lane the same way.
   Integer <-> float conversions are done with bit patterns (AVX2 has no 64-bit ones):
   adding 1.5 * 2^mant rounds to an integer and leaves it in the low bits.

   Accuracy, in ulps of the exact result (float: every float, against double; double:
   millions of random arguments, against long double), and the bounds
   tests/test_simd_loss.py holds them to:
     float exp 0.991 (< 1), float log 0.830 (< 1), double exp 1.70 (< 2), double log
     0.88 (< 1); libm's are about 0.5 to 0.6, so a result may differ from expf / logf
     in the last bit (double exp: the Pade quotient, rounded without FMA).
   Denormal results are rounded once (2^n is applied in two normal halves); the kernels
   run with denormals flushed (_cpu.h), the same in every variant. Specials as libm:
   exp(-inf) = 0, exp(+inf) = +inf, overflow to +inf, underflow to 0, log(+-0) = -inf,
   log(x < 0) = NaN, log(+inf) = +inf, NaN in -> NaN out. */
#define CYDL_VLM_CAT2(a, b) a##b
#define CYDL_VLM_CAT(a, b) CYDL_VLM_CAT2(a, b)
#define CYDL_VLM(name) CYDL_VLM_CAT(name, SFX)

#if CYDL_VL_DBL
#define CYDL_VLM_MAGIC 6755399441055744.0         /* 1.5 * 2^52 */
#define CYDL_VLM_MAGIC_BITS 0x4338000000000000ULL
#define CYDL_VLM_SHIFT 52
#define CYDL_VLM_BIAS 1023
#define CYDL_VLM_HALF_OFF 2048      /* n + this >= 0 for every n the clamp allows */
#define CYDL_VLM_EXP_MAX 746.0      /* past log(2^-1075) and log(DBL_MAX): 0 or inf */
#define CYDL_VLM_FABS fabs
#define CYDL_VLM_COPYSIGN copysign
#define CYDL_VLM_SQRT sqrt
#else
#define CYDL_VLM_MAGIC 12582912.0f                /* 1.5 * 2^23 */
#define CYDL_VLM_MAGIC_BITS 0x4B400000U
#define CYDL_VLM_SHIFT 23
#define CYDL_VLM_BIAS 127
#define CYDL_VLM_HALF_OFF 256
#define CYDL_VLM_EXP_MAX 104.0f     /* past log(2^-150) and log(FLT_MAX): 0 or inf */
#define CYDL_VLM_FABS fabsf
#define CYDL_VLM_COPYSIGN copysignf
#define CYDL_VLM_SQRT sqrtf
#endif

/* c ? a : b on the bit patterns. A plain ?: becomes a branch, computations are moved
   into it (sinking, PRE), and GCC will not if-convert (speculate) a branch holding
   floating-point operations that may trap: the loop would not vectorize. */
ATTR static inline T CYDL_VLM(cydl_vl_sel_)(int c, T a, T b) {
    CYDL_VL_U ua, ub, mk = c ? ~(CYDL_VL_U)0 : (CYDL_VL_U)0;   /* the compare's own mask */
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    ua = (ua & mk) | (ub & ~mk);
    memcpy(&a, &ua, sizeof a);
    return a;
}

ATTR static inline T CYDL_VLM(cydl_vl_exp1_)(T x) {
    CYDL_VL_U tb, n, n1, n2, b1, b2;
    T xc, t, nf, r, r2, p, s1, s2;
    /* clamping keeps n small and makes +-inf finite (a NaN passes) */
    xc = CYDL_VLM(cydl_vl_sel_)(CYDL_VLM_FABS(x) > CYDL_VLM_EXP_MAX,
                                CYDL_VLM_COPYSIGN(CYDL_VLM_EXP_MAX, x), x);
    t = xc * (T)1.44269504088896340736 + CYDL_VLM_MAGIC;   /* n = round(x / ln2) */
    nf = t - CYDL_VLM_MAGIC;
#if CYDL_VL_DBL
    r = xc - nf * 6.93145751953125E-1;         /* exact: C1 has 18 significant bits */
    r = r - nf * 1.42860682030941723212E-6;
    r2 = r * r;
    /* Cephes exp: e^r = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)) */
    p = r * ((1.26177193074810590878E-4 * r2 + 3.02994407707441961300E-2) * r2 +
             9.99999999999999999910E-1);
    s1 = ((3.00198505138664455042E-6 * r2 + 2.52448340349684104192E-3) * r2 +
          2.27265548208155028766E-1) * r2 + 2.00000000000000000009E0;
    p = p / (s1 - p);
    p = 1.0 + 2.0 * p;
#else
    r = xc - nf * 0.693359375f;                /* exact: C1 has 9 significant bits */
    r = r - nf * -2.12194440e-4f;
    r2 = r * r;
    p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r2 + r + 1.0f;
#endif
    /* 2^n as 2^n1 * 2^n2, both normal: p * 2^n1 is exact and the last product rounds
       once, into the denormals if it must (and to inf past the top) */
    memcpy(&tb, &t, sizeof tb);
    n = tb - CYDL_VLM_MAGIC_BITS;              /* n, two's complement (garbage for NaN) */
    n1 = ((n + CYDL_VLM_HALF_OFF) >> 1) - (CYDL_VLM_HALF_OFF >> 1);    /* floor(n / 2) */
    n2 = n - n1;
    b1 = (n1 + CYDL_VLM_BIAS) << CYDL_VLM_SHIFT;
    b2 = (n2 + CYDL_VLM_BIAS) << CYDL_VLM_SHIFT;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return p * s1 * s2;    /* NaN in: p is NaN */
}

ATTR static inline T CYDL_VLM(cydl_vl_log1_)(T x) {
    CYDL_VL_U b, ex, mb;
    T xs, m, e, z, y, sh, sm;
#if CYDL_VL_DBL
    const T tiny = 2.2250738585072014e-308, up = 4503599627370496.0;   /* 2^52 */
    const CYDL_VL_U MANT = 0x000fffffffffffffULL, HALF = 0x3fe0000000000000ULL;
#else
    const T tiny = 1.17549435e-38f, up = 8388608.0f;                    /* 2^23 */
    const CYDL_VL_U MANT = 0x007fffffU, HALF = 0x3f000000U;
#endif
    /* denormals scaled into the normal range */
    xs = CYDL_VLM(cydl_vl_sel_)(x < tiny, x * up, x);
    sh = CYDL_VLM(cydl_vl_sel_)(x < tiny, (T)CYDL_VLM_SHIFT, (T)0);
    memcpy(&b, &xs, sizeof b);
    ex = (b >> CYDL_VLM_SHIFT) & (2 * CYDL_VLM_BIAS + 1);
    mb = (b & MANT) | HALF;
    memcpy(&m, &mb, sizeof m);         /* x = 2^e m, m in [1/2, 1) */
    b = ex | ((CYDL_VL_U)(CYDL_VLM_SHIFT + CYDL_VLM_BIAS) << CYDL_VLM_SHIFT);
    memcpy(&e, &b, sizeof e);          /* 2^mant + ex, exactly */
    e = e - (up + (T)(CYDL_VLM_BIAS - 1)) - sh;
    /* m < sqrt(1/2): use 2m - 1 and e - 1, so that m - 1 stays in [-0.29, 0.41] */
    sm = CYDL_VLM(cydl_vl_sel_)(m < (T)0.70710678118654752440, (T)1, (T)0);
    e = e - sm;
    m = (m + m * sm) - (T)1;                /* m * 0 = +0 and m + 0 = m: m > 0 */
    z = m * m;
#if CYDL_VL_DBL
    /* Cephes log: log(1 + m) = m - m^2/2 + m^3 P(m) / Q(m) */
    y = ((((1.01875663804580931796E-4 * m + 4.97494994976747001425E-1) * m +
           4.70579119878881725854E0) * m + 1.44989225341610930846E1) * m +
         1.79368678507819816313E1) * m + 7.70838733755885391666E0;
    y = y / (((((m + 1.12873587189167450590E1) * m + 4.52279145837532221105E1) * m +
               8.29875266912776603211E1) * m + 7.11544750618563894466E1) * m +
             2.31251620126765340583E1);
    y = m * (z * y);
    y = y - e * 2.121944400546905827679e-4;
    y = y - 0.5 * z;
    z = m + y;
    z = z + e * 0.693359375;
#else
    y = 7.0376836292E-2f;
    y = y * m - 1.1514610310E-1f;
    y = y * m + 1.1676998740E-1f;
    y = y * m - 1.2420140846E-1f;
    y = y * m + 1.4249322787E-1f;
    y = y * m - 1.6668057665E-1f;
    y = y * m + 2.0000714765E-1f;
    y = y * m - 2.4999993993E-1f;
    y = y * m + 3.3333331174E-1f;
    y = y * m * z;
    y = y + -2.12194440e-4f * e;
    y = y + -0.5f * z;
    z = m + y;
    z = z + 0.693359375f * e;
#endif
    /* x > 0 finite: z; else sqrt(x) - 1/|x|, without selects: -inf at +-0, NaN below
       0 and at NaN, +inf at +inf */
    y = CYDL_VLM_SQRT(x) - (T)1 / CYDL_VLM_FABS(x);
    return CYDL_VLM(cydl_vl_sel_)((x > (T)0) & (x < (T)INFINITY), z, y);
}

#undef CYDL_VLM_MAGIC
#undef CYDL_VLM_MAGIC_BITS
#undef CYDL_VLM_SHIFT
#undef CYDL_VLM_BIAS
#undef CYDL_VLM_HALF_OFF
#undef CYDL_VLM_EXP_MAX
#undef CYDL_VLM_FABS
#undef CYDL_VLM_COPYSIGN
#undef CYDL_VLM_SQRT
#undef CYDL_VLM
#undef CYDL_VLM_CAT
#undef CYDL_VLM_CAT2

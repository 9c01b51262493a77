/* The fast optimizer loops of _optim.pyx, once per (type, instruction set): included
   by _vec_update.h with T (float or double), SQRT, SFX (name suffix) and ATTR (the
   target attribute) defined. No include guard on purpose. Each line keeps the
   operations and their order of the Cython loops they replace, so every variant
   (and the scalar general loop) rounds the same way. */
#define CYDL_VU_CAT2(a, b) a##b
#define CYDL_VU_CAT(a, b) CYDL_VU_CAT2(a, b)
#define CYDL_VU(name) CYDL_VU_CAT(name, SFX)

ATTR static void CYDL_VU(cydl_vu_sgd_)(T* p, const T* g, ptrdiff_t n, T lr) {
    ptrdiff_t i;
    for (i = 0; i < n; i++)
        p[i] -= lr * g[i];
}

/* l2x2 = 2 * l2; the l1 term uses sign(w), 0 at w == 0 */
ATTR static void CYDL_VU(cydl_vu_sgd_pen_)(T* p, const T* g, ptrdiff_t n, T lr, T l1,
                                           T l2x2) {
    ptrdiff_t i;
    T w;
    if (l1 == 0) {
        for (i = 0; i < n; i++)
            p[i] -= lr * (g[i] + l2x2 * p[i]);
    } else {
        for (i = 0; i < n; i++) {
            w = p[i];
            p[i] = w - lr * (g[i] + l2x2 * w + l1 * (T)((w > 0) - (w < 0)));
        }
    }
}

ATTR static void CYDL_VU(cydl_vu_sgd_mom_)(T* p, const T* g, T* s1, ptrdiff_t n, T lr,
                                           T mom, int nesterov) {
    ptrdiff_t i;
    T m;
    if (nesterov) {
        for (i = 0; i < n; i++) {
            m = mom * s1[i] - lr * g[i];
            s1[i] = m;
            p[i] += mom * m - lr * g[i];
        }
    } else {
        for (i = 0; i < n; i++) {
            m = mom * s1[i] - lr * g[i];
            s1[i] = m;
            p[i] += m;
        }
    }
}

/* omb1 = 1 - beta1, omb2 = 1 - beta2 in the parameters' type: the moments are updated
   in float for a float model, as Keras 3 and PyTorch do (Keras computes 1 - beta_1 in
   Python, then multiplies in the variable's dtype: the same numbers as here). */
ATTR static void CYDL_VU(cydl_vu_adam_)(T* p, const T* g, T* s1, T* s2, ptrdiff_t n,
                                        T omb1, T omb2, T c1, T eps) {
    ptrdiff_t i;
    T gi, m, v;
    for (i = 0; i < n; i++) {
        gi = g[i];
        m = s1[i] + (gi - s1[i]) * omb1;
        v = s2[i] + (gi * gi - s2[i]) * omb2;
        s1[i] = m;
        s2[i] = v;
        p[i] -= c1 * m / (SQRT(v) + eps);
    }
}

ATTR static void CYDL_VU(cydl_vu_adam_pen_)(T* p, const T* g, T* s1, T* s2, ptrdiff_t n,
                                            T omb1, T omb2, T c1, T eps, T l1,
                                            T l2x2) {
    ptrdiff_t i;
    T gi, m, v, w;
    for (i = 0; i < n; i++) {
        w = p[i];
        gi = g[i] + l2x2 * w + l1 * (T)((w > 0) - (w < 0));
        m = s1[i] + (gi - s1[i]) * omb1;
        v = s2[i] + (gi * gi - s2[i]) * omb2;
        s1[i] = m;
        s2[i] = v;
        p[i] = w - c1 * m / (SQRT(v) + eps);
    }
}

#undef CYDL_VU
#undef CYDL_VU_CAT
#undef CYDL_VU_CAT2

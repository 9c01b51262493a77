/* The softmax cross-entropy of n rows (logits P, integer labels or dense targets Y),
   its gradient and statistics: part of _vec_loss_body.h (same macros, same scheme).
   Per row, as loss_rows in _losses.pyx writes it:
     m = max_c p_c (the first maximal class is the argmax), s = sum_c exp(p_c - m),
     lse = m + log s;
     hard labels:  loss = lse - p_lab, g_c = gs exp(p_c - lse) - [c == lab] gs;
     soft targets: t_c = y_c on + u (or [c == lab] on + u), ysum = sum_c t_c,
                   loss = sum_c t_c (lse - p_c) (in double), g_c = gs (exp(p_c - lse) ysum - t_c);
   gs = gscale * w_row. stats += (w loss, hits, 0, 0) row after row. G may be NULL. */

ATTR static void CYDL_VL(cydl_vl_softmax_ce_)(
        int sparse, int hard, int acc_mode, double thresh, ptrdiff_t n, ptrdiff_t C,
        const T* P, ptrdiff_t prs, ptrdiff_t pcs, const int* labels,
        const T* Y, ptrdiff_t yrs, ptrdiff_t ycs, const T* sw,
        T* G, ptrdiff_t grs, ptrdiff_t gcs, T gscale, T on, T u, double* stats) {
    T x[CYDL_VL_NB], y[CYDL_VL_NB], m[CYDL_VL_NB], s[CYDL_VL_NB], zl[CYDL_VL_NB];
    T ysum[CYDL_VL_NB], ym[CYDL_VL_NB], w[CYDL_VL_NB], gs[CYDL_VL_NB];
    CYDL_VL_I lab[CYDL_VL_NB], am[CYDL_VL_NB], ya[CYDL_VL_NB];
    double loss[CYDL_VL_NB], hits[CYDL_VL_NB];
    ptrdiff_t b, i, c, nb;
    const int dense = !hard && !sparse;     /* soft targets from Y, else from labels */
    for (b = 0; b < n; b += nb) {
        const T* p = P + b * prs;
        const T* yb = Y != NULL ? Y + b * yrs : NULL;
        nb = n - b < CYDL_VL_NB ? n - b : CYDL_VL_NB;
        for (i = 0; i < nb; i++) {
            lab[i] = labels != NULL ? labels[b + i] : 0;
            w[i] = sw != NULL ? sw[b + i] : (T)1;
            gs[i] = gscale * w[i];
            zl[i] = 0;
            ysum[i] = 0;
            hits[i] = 0;
        }
        /* pass 1: max and argmax, p_lab, the targets' sum (and argmax), binary hits */
        CYDL_VL(cydl_vl_load_)(m, p, prs, nb);
        for (i = 0; i < nb; i++) am[i] = 0;
        if (acc_mode == CYDL_VL_ACC_CATEGORICAL) {
            CYDL_VL(cydl_vl_load_)(ym, yb, yrs, nb);
            for (i = 0; i < nb; i++) ya[i] = 0;
        }
        for (c = 0; c < C; c++) {
            const CYDL_VL_I ci = (CYDL_VL_I)c;
            CYDL_VL(cydl_vl_load_)(x, p + c * pcs, prs, nb);
            for (i = 0; i < nb; i++) {        /* selects as bit masks: see cydl_vl_sel_ */
                const CYDL_VL_I gt = x[i] > m[i] ? -1 : 0;
                m[i] = CYDL_VL(cydl_vl_sel_)(x[i] > m[i], x[i], m[i]);
                am[i] = (ci & gt) | (am[i] & ~gt);
                zl[i] = CYDL_VL(cydl_vl_sel_)(lab[i] == ci, x[i], zl[i]);
            }
            if (yb != NULL && (dense || acc_mode == CYDL_VL_ACC_CATEGORICAL ||
                               acc_mode == CYDL_VL_ACC_BINARY))
                CYDL_VL(cydl_vl_load_)(y, yb + c * ycs, yrs, nb);
            if (dense)
                for (i = 0; i < nb; i++) ysum[i] = ysum[i] + (y[i] * on + u);
            else if (!hard)
                for (i = 0; i < nb; i++) ysum[i] = ysum[i] + ((lab[i] == ci ? on : (T)0) + u);
            if (acc_mode == CYDL_VL_ACC_CATEGORICAL) {
                for (i = 0; i < nb; i++) {
                    const CYDL_VL_I gt = y[i] > ym[i] ? -1 : 0;
                    ym[i] = CYDL_VL(cydl_vl_sel_)(y[i] > ym[i], y[i], ym[i]);
                    ya[i] = (ci & gt) | (ya[i] & ~gt);
                }
            } else if (acc_mode == CYDL_VL_ACC_BINARY) {
                for (i = 0; i < nb; i++)
                    hits[i] += (T)((double)x[i] > thresh ? 1 : 0) == y[i] ? 1.0 : 0.0;
            }
        }
        /* pass 2: the log-sum-exp */
        for (i = 0; i < nb; i++) s[i] = 0;
        for (c = 0; c < C; c++) {
            CYDL_VL(cydl_vl_load_)(x, p + c * pcs, prs, nb);
            for (i = 0; i < nb; i++) s[i] = s[i] + CYDL_VL(cydl_vl_exp1_)(x[i] - m[i]);
        }
        for (i = 0; i < nb; i++) s[i] = m[i] + CYDL_VL(cydl_vl_log1_)(s[i]);  /* s: lse */
        if (hard)
            for (i = 0; i < nb; i++) loss[i] = (double)(s[i] - zl[i]);
        else
            for (i = 0; i < nb; i++) loss[i] = 0.0;
        /* pass 3: the soft loss, the gradient */
        for (c = 0; c < C && (G != NULL || !hard); c++) {
            const CYDL_VL_I ci = (CYDL_VL_I)c;
            CYDL_VL(cydl_vl_load_)(x, p + c * pcs, prs, nb);
            if (hard) {
                for (i = 0; i < nb; i++) {
                    const T g = gs[i] * CYDL_VL(cydl_vl_exp1_)(x[i] - s[i]);
                    x[i] = CYDL_VL(cydl_vl_sel_)(lab[i] == ci, g - gs[i], g);
                }
            } else {
                if (dense) {
                    CYDL_VL(cydl_vl_load_)(y, yb + c * ycs, yrs, nb);
                    for (i = 0; i < nb; i++) y[i] = y[i] * on + u;
                } else {
                    for (i = 0; i < nb; i++) y[i] = (lab[i] == ci ? on : (T)0) + u;
                }
                for (i = 0; i < nb; i++) loss[i] = loss[i] + (double)(y[i] * (s[i] - x[i]));
                if (G == NULL)
                    continue;
                for (i = 0; i < nb; i++)
                    x[i] = gs[i] * (CYDL_VL(cydl_vl_exp1_)(x[i] - s[i]) * ysum[i] - y[i]);
            }
            CYDL_VL(cydl_vl_store_)(G + b * grs + c * gcs, grs, x, nb);
        }
        if (acc_mode == CYDL_VL_ACC_SPARSE)
            for (i = 0; i < nb; i++) hits[i] = am[i] == lab[i] ? 1.0 : 0.0;
        else if (acc_mode == CYDL_VL_ACC_CATEGORICAL)
            for (i = 0; i < nb; i++) hits[i] = am[i] == ya[i] ? 1.0 : 0.0;
        else if (acc_mode == CYDL_VL_ACC_BINARY)
            for (i = 0; i < nb; i++) hits[i] /= (double)C;
        for (i = 0; i < nb; i++) {      /* in row order: the sums do not see the width */
            stats[0] += (double)w[i] * loss[i];
            stats[1] += hits[i];
            stats[2] += 0.0;
            stats[3] += 0.0;
        }
    }
}

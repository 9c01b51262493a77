"""The MLPs' "lbfgs" solver: scipy's L-BFGS-B on cydl's compiled loss and gradient.

The parameters are the model's flat trainable buffer (float64); each evaluation is
one compiled full-batch step whose optimizer changes nothing (see
_network.zero_step_optimizer), so the gradient is read from the flat gradient
buffer. The L2 term is scikit-learn's, alpha / 2 ||W||^2 / n, added here (with
sample weights: the weighted mean loss, and the L2 term over their sum). The
objective is the one whose gradient is handed over: for several regression
outputs that is half the squared error summed over the outputs (sklearn hands
scipy its mean over the outputs as the loss while its gradient is of the sum).
`loss_` is then reported as sklearn reports it, the mean over the outputs.
"""
import warnings

import numpy as np

from cydl.sklearn._compat import ConvergenceWarning
from cydl.sklearn._helpers import one_blas_thread
from cydl.sklearn._network import Steps, zero_step_optimizer


class Objective:
    """f(x) and its gradient for scipy.optimize.minimize(jac=True).

    Args:
        est: the estimator, whose float64 model_ is compiled here.
        X, y: the (encoded) training data.
        sample_weight: None, or the rows' (checked) weights.
    """

    def __init__(self, est, X, y, sample_weight=None):
        model = est.model_
        for layer in model.layers:
            layer.kernel.regularizer = None
        model.compile(optimizer=zero_step_optimizer(), loss=est._loss,
                      loss_weights=est._train_weight)
        self.n = len(X)
        self.steps = Steps(model, X, y, len(X), sample_weight)
        # with weights, the compiled loss is their weighted mean (one batch: see
        # Steps.weigh) and sklearn's L2 term is over their sum
        self.denominator = self.n if sample_weight is None else \
            float(self.steps.weigh(np.arange(self.n))[0])
        self.weight = est._train_weight or 1.0
        self.report_weight = est._report_weight
        self.alpha = float(est.alpha)
        self.kernels = self.steps.kernel_mask()
        self.calls = 0

    def x0(self):
        st = self.steps.store
        return st.params[:st.n_trainable].astype(np.float64)

    def __call__(self, x):
        self.calls += 1
        total, grad = self.steps.loss_and_grad(x)
        w = x[self.kernels]
        loss = total * self.weight / self.n + self._l2(w)
        grad[self.kernels] += (self.alpha / self.denominator) * w
        return loss, grad

    def _l2(self, w):
        return 0.5 * self.alpha * float(w @ w) / self.denominator

    def reported(self, x):
        """sklearn's loss_ at x: the data loss averaged over the outputs."""
        total, _ = self.steps.loss_and_grad(x)
        return total * self.report_weight / self.n + self._l2(x[self.kernels])

    def set(self, x):
        st = self.steps.store
        st.params[:st.n_trainable] = x


def fit_lbfgs(est, X, y, sample_weight=None):
    """Minimize from the current weights; sets loss_ and n_iter_ as sklearn does."""
    from scipy.optimize import minimize
    f = Objective(est, X, y, sample_weight)
    # L-BFGS-B's own work per iteration is a few vector operations
    with one_blas_thread():
        res = minimize(f, f.x0(), method="L-BFGS-B", jac=True,
                       options={"maxfun": est.max_fun, "maxiter": est.max_iter,
                                "gtol": est.tol})
    f.set(res.x)
    if res.status != 0:
        msg = res.message.decode() if isinstance(res.message, bytes) else res.message
        warnings.warn(f"lbfgs failed to converge after {res.nit} iteration(s) (status="
                      f"{res.status}):\n{msg}.\n\nIncrease the number of iterations to "
                      f"improve the convergence (max_iter={est.max_iter}).",
                      ConvergenceWarning)
    est.n_iter_ = min(int(res.nit), est.max_iter)
    est.loss_ = float(res.fun) if f.weight == f.report_weight else float(f.reported(res.x))
    f.set(res.x)
    if est.verbose:
        print(f"L-BFGS-B: {res.nit} iterations, {f.calls} evaluations, loss {res.fun:.8f}")

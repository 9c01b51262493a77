"""The MLPs' "adam" and "sgd" solvers: scikit-learn's _fit_stochastic, epoch for
epoch, on cydl's compiled training step.

The same batches in the same order (sklearn's shuffle of the row indices, from the
same generator), the same loss (sklearn's squared loss is half the MSE; its L2 term
is alpha / 2 ||W||^2 over each batch's size), the same stopping rule (more than
n_iter_no_change epochs without an improvement by tol) and learning-rate rules.
"""
import warnings

import numpy as np

from cydl.sklearn import _random
from cydl.sklearn._compat import ConvergenceWarning
from cydl.sklearn._network import Steps
from cydl.sklearn._schedules import LearningRate, make_optimizer


def _batch_size(est, n):
    if est.batch_size == "auto":
        return min(200, n)
    if est.batch_size > n:
        warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                      "going to be clipped")
    return int(np.clip(est.batch_size, 1, n))


def _l2_setter(model):
    """A function setting every kernel's L2 factor in the optimizer's fused update
    (sklearn divides the penalty by each batch's own size, so a short last batch
    gets a larger one)."""
    rule = model.optimizer._rule
    kernels = {id(layer.kernel) for layer in model.layers}
    flags = [id(v) in kernels for v, _ in model.optimizer._layout]
    zeros = [0.0] * len(flags)
    return lambda factor: rule.set_penalties(zeros, [factor if k else 0.0 for k in flags])


def fit_stochastic(est, X, y, incremental, sample_weight=None):
    """Train est.model_ on (X, y) (checked and encoded by the estimator), with
    sklearn's weighted means when `sample_weight` (checked) is given."""
    import cydl
    model = est.model_
    if est.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    if not hasattr(est, "loss_curve_"):       # a warm start after lbfgs
        est._start_curves()
    Xv = yv = swv = None
    sw = sample_weight
    if est.early_stopping:
        strat = y if est._is_classifier and est.n_outputs_ == 1 else None
        tr, va = _random.train_val_split(len(X), est.validation_fraction, est._random_state,
                                         strat)
        if len(va) < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        X, y, Xv, yv = X[tr], y[tr], X[va], y[va]
        if sw is not None:
            sw, swv = sw[tr], sw[va]
            if not swv.any():       # sklearn's weighted score would divide by 0
                raise ValueError("The sample weights for validation set are all zero, "
                                 "consider using a different random state.")
    n = len(X)
    batch = _batch_size(est, n)
    alpha = float(est.alpha)
    if not incremental or not hasattr(est, "_rate"):
        reg = cydl.regularizers.l2(alpha / (2.0 * batch)) if alpha > 0 else None
        for layer in model.layers:
            layer.kernel.regularizer = reg
        model.compile(optimizer=make_optimizer(est), loss=est._loss,
                      loss_weights=est._train_weight)
        est._rate = LearningRate(est.learning_rate if est.solver == "sgd" else "constant",
                                 est.learning_rate_init, est.power_t)
    steps = Steps(model, X, y, batch, sw)
    last = n - (n - 1) // batch * batch        # rows in the last batch
    set_l2 = _l2_setter(model) if alpha > 0 else None
    if set_l2 is not None:
        set_l2(alpha / (2.0 * batch))
    order = np.arange(n, dtype=np.int64)
    report = est._report_weight / n
    est.n_iter_ = 0
    try:
        for _ in range(est.max_iter):
            if est.shuffle:
                order = _random.shuffled(order, est._random_state)
            model.optimizer.learning_rate = est._rate.value
            if sw is not None or (set_l2 is not None and last != batch):
                data, reg = _epoch_by_batch(steps, order, set_l2, alpha)
            else:
                data, reg = steps.epoch(order)
            est.n_iter_ += 1
            est.loss_ = data * report + reg / n
            est.t_ += n
            est.loss_curve_.append(est.loss_)
            if est.verbose:
                print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
            _update_no_improvement(est, Xv, yv, swv)
            est._rate.iteration_ends(est.t_)
            if est._no_improvement_count > est.n_iter_no_change:
                what = "Validation score" if est.early_stopping else "Training loss"
                msg = (f"{what} did not improve more than tol={est.tol:f} for "
                       f"{est.n_iter_no_change} consecutive epochs.")
                if est._rate.trigger_stopping(msg, est.verbose):
                    break
                est._no_improvement_count = 0
            if incremental:
                break
            if est.n_iter_ == est.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) "
                              f"reached and the optimization hasn't converged yet.",
                              ConvergenceWarning)
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
    if est.early_stopping:
        model.set_weights(est._best_weights)


def _epoch_by_batch(steps, order, set_l2, alpha):
    """An epoch whose batches differ in size (a short last one) or in their sum of
    sample weights: sklearn divides each batch's L2 term alpha / 2 ||W||^2 by that
    size, or sum (a batch of zero weights gets none: see Steps.weigh)."""
    runner, n, batch = steps.runner, steps.n, steps.batch
    runner.set_order(order)
    sizes = steps.weigh(order) if steps.sw is not None else \
        np.diff(np.append(np.arange(0, n, batch), n)).astype(np.float64)
    data = reg = 0.0
    for k, start in enumerate(range(0, n, batch)):
        stop = min(start + batch, n)
        if set_l2 is not None:
            set_l2(alpha / (2.0 * sizes[k]) if sizes[k] > 0 else 0.0)
        data += runner.train(start, stop).item(0, 0)
        reg += runner.reg_loss * (stop - start)
    if set_l2 is not None:
        set_l2(alpha / (2.0 * batch))
    return data, reg


def _update_no_improvement(est, Xv, yv, swv=None):
    """sklearn's _update_no_improvement_count (and the best weights for early
    stopping)."""
    if Xv is not None:
        score = est._score_on(Xv, yv, swv)
        est.validation_scores_.append(score)
        if est.verbose:
            print(f"Validation score: {score:f}")
        if score < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if score > est.best_validation_score_:
            est.best_validation_score_ = score
            est._best_weights = est.model_.get_weights()
        return
    if est.loss_curve_[-1] > est.best_loss_ - est.tol:
        est._no_improvement_count += 1
    else:
        est._no_improvement_count = 0
    if est.loss_curve_[-1] < est.best_loss_:
        est.best_loss_ = est.loss_curve_[-1]

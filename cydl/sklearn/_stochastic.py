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


def fit_stochastic(est, X, y, incremental):
    """Train est.model_ on (X, y) (checked and encoded by the estimator)."""
    import cydl
    model = est.model_
    if est.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    if not hasattr(est, "loss_curve_"):       # a warm start after lbfgs
        est._start_curves()
    Xv = yv = None
    if est.early_stopping:
        strat = y if est._is_classifier and est.n_outputs_ == 1 else None
        tr, va = _random.train_val_split(len(X), est.validation_fraction, est._random_state,
                                         strat)
        if len(va) < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        X, y, Xv, yv = X[tr], y[tr], X[va], y[va]
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
    steps = Steps(model, X, y, batch)
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
            if set_l2 is not None and last != batch:
                data, reg = _epoch_short_last(steps, order, set_l2, alpha, batch)
            else:
                data, reg = steps.epoch(order)
            est.n_iter_ += 1
            est.loss_ = data * report + reg / n
            est.t_ += n
            est.loss_curve_.append(est.loss_)
            if est.verbose:
                print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
            _update_no_improvement(est, Xv, yv)
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


def _epoch_short_last(steps, order, set_l2, alpha, batch):
    """An epoch whose last batch is short: its L2 factor is alpha / (2 last)."""
    runner, n = steps.runner, steps.n
    runner.set_order(order)
    data = reg = 0.0
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        if stop - start != batch:
            set_l2(alpha / (2.0 * (stop - start)))
        data += runner.train(start, stop).item(0, 0)
        reg += runner.reg_loss * (stop - start)
    set_l2(alpha / (2.0 * batch))
    return data, reg


def _update_no_improvement(est, Xv, yv):
    """sklearn's _update_no_improvement_count (and the best weights for early
    stopping)."""
    if Xv is not None:
        score = est._score_on(Xv, yv)
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

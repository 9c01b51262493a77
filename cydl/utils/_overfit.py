"""sanity_check's overfitting test: can a copy of the model memorize a few samples?"""
import math

import numpy as np

from cydl.utils import _sanity_rules as rules
from cydl.utils._probe import split_targets

_CHECKS = 25       # how many times over the budget the copy is measured


def _measure(clone, x, y, heads):
    """(accuracy or None, data loss): inference mode, on the samples it trains on."""
    preds = clone.predict(x, verbose=0)
    preds = preds if isinstance(preds, list) else [preds]
    targets = split_targets(clone, y)
    loss = float(sum(h.weight * h.loss(t, p) for h, t, p in zip(heads, targets, preds)))
    accs = []
    for head, t, p in zip(heads, targets, preds):
        kind, logits = rules.loss_kind(head.loss)
        if kind is None:
            return None, loss          # a regression output: judged by the loss
        p, t = np.asarray(p), np.asarray(t)
        if kind == "sparse":
            accs.append(np.mean(p.argmax(-1) == t.reshape(len(p)).astype(np.int64)))
        elif kind == "categorical":
            accs.append(np.mean(p.argmax(-1) == t.argmax(-1)))
        else:
            accs.append(np.mean((p > (0.0 if logits else 0.5)) == (t.reshape(p.shape) > 0.5)))
    return float(min(accs)), loss


def overfit_copy(clone, x, y, steps, batch_size, report):
    """Train `clone` on (x, y) for at most `steps` steps of its own optimizer, stopping
    once it has memorized them; add what happened to `report`."""
    heads = clone._compile_config.bind(clone.output_names)
    from cydl.models._batches import first_array
    n = len(first_array(x))
    batch = min(batch_size, n)
    per_epoch = math.ceil(n / batch)
    epochs = max(1, steps // per_epoch)
    every = max(1, epochs // _CHECKS)
    acc0, start = _measure(clone, x, y, heads)
    acc, loss, done, reached = acc0, start, 0, None
    while done < epochs:
        k = min(every, epochs - done)
        clone.fit(x, y, batch_size=batch, epochs=k, verbose=0)
        done += k
        acc, loss = _measure(clone, x, y, heads)
        if not np.isfinite(loss):
            break
        if (acc is not None and acc >= rules.OVERFIT_ACCURACY) or \
                (acc is None and loss <= 0.01 * start):
            reached = done * per_epoch
            break
    lr = clone.optimizer.current_learning_rate()
    report.values.update(overfit_loss_start=start, overfit_loss_end=loss,
                         overfit_steps=done * per_epoch)
    if acc is not None:
        report.values["overfit_accuracy"] = acc
    # the goal is the threshold actually tested (it read "100%" while 98% passed)
    goal = (f"to {rules.OVERFIT_ACCURACY:.0%} training accuracy" if acc is not None
            else "to a 100x lower loss")
    if reached is not None:
        got = f"accuracy {acc:.0%}, " if acc is not None else ""
        report.notes.append(f"A copy of the model overfits {n} samples {goal} in "
                            f"{reached} steps ({got}loss {start:.4g} -> {loss:.4g}).")
        return
    what = f"accuracy {acc:.0%}, " if acc is not None else ""
    tried = f"in {done * per_epoch} steps ({what}loss {start:.4g} -> {loss:.4g})"
    if not np.isfinite(loss) or loss > start:
        report.problems.append(
            f"A copy of the model cannot overfit {n} samples: the loss rose {tried}. The "
            f"learning rate ({lr:g}) is probably too large, or the gradients explode.")
    elif loss > rules.BARELY_MOVED * start:
        report.problems.append(
            f"A copy of the model cannot overfit {n} samples: the loss barely moved "
            f"{tried}. The learning rate ({lr:g}) is probably far too small (or the "
            f"gradients vanish).")
    else:
        report.problems.append(
            f"A copy of the model does not overfit {n} samples {goal} {tried}. A model "
            f"that cannot memorize a handful of samples is too small, has a learning "
            f"rate far off ({lr:g}), or the labels do not match the inputs.")

"""sanity_check: the checks to run before a long training run, in plain words."""
import copy

import numpy as np

from cydl._checks import integer
from cydl.utils import _sanity_checks as checks, _sanity_rules as rules
from cydl.utils._clone import KeepGlobalRNG, as_model, check_compiled
from cydl.utils._probe import split_targets
from cydl.utils._sanity_report import SanityReport


def sanity_check(model, x, y, overfit_samples=64, overfit_steps=2000, batch_size=16):
    """Look for the usual mistakes in a compiled model before training it.

    Checks, on the model as it is (normally freshly initialized):

    * the initial loss of a softmax (or sigmoid) classifier against ln(C), the
      loss of a uniform guess over C classes;
    * the regularization: the loss `fit` reports (penalties included) against the
      data loss alone;
    * that a copy of the model overfits `overfit_samples` samples (to 98%
      training accuracy, or a 100x lower loss for a regression) within
      `overfit_steps` steps of its own optimizer: a model that cannot memorize 64
      samples has a bug, or a learning rate far off;
    * dead ReLU units and saturated sigmoid/tanh units, layer by layer, on up to
      256 samples;
    * the output: softmax (or sigmoid) applied twice, probabilities given to a loss
      with `from_logits=True`, logits to a loss that expects probabilities.

    The thresholds and their reasons are in cydl/utils/_sanity_rules.py. The model
    is not changed: the overfitting runs on a copy, and cydl's global random
    generator is left as it was.

    Args:
        model: a compiled cydl model.
        x, y: training data (a few hundred samples are enough).
        overfit_samples: how many samples the copy must memorize.
        overfit_steps: the budget of training steps for it (the default is about
            one epoch of the book's Fashion-MNIST run, 55,000 samples in batches of
            32: a model that cannot memorize 64 samples in that many steps will not
            learn much in a real epoch either; the copy stops as soon as it succeeds).
        batch_size: the batch size of those steps.

    Returns:
        A SanityReport: `.problems` (a list of sentences), `.notes` (what was
        measured), `.values` ({name: number}), `.ok`; `print(report)` shows it all.

    Example:
    >>> report = cydl.utils.sanity_check(model, X_train[:512], y_train[:512])
    >>> print(report)
    """
    model = as_model(model, "sanity_check")
    check_compiled(model, "sanity_check")
    overfit_samples = integer(overfit_samples, "overfit_samples", low=1, owner="sanity_check")
    overfit_steps = integer(overfit_steps, "overfit_steps", low=1, owner="sanity_check")
    batch_size = integer(batch_size, "batch_size", low=1, owner="sanity_check")
    report = SanityReport()
    # (outside the context: building an unbuilt model draws its weights for good)
    total = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]   # builds, checks
    with KeepGlobalRNG():
        heads = model._compile_config.bind(model.output_names)
        report.problems += rules.structure_problems(model, heads)
        data_loss = checks.initial_loss(model, x, y, heads, report)
        checks.regularization(model, total, data_loss, report)
        checks.units(model, _take(x, 256), report)
        _overfit(model, x, y, overfit_samples, overfit_steps, batch_size, report)
    return report


def _take(x, k):
    if isinstance(x, dict):
        return {n: np.asarray(v)[:k] for n, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(np.asarray(v)[:k] for v in x)
    return np.asarray(x)[:k]


def _overfit(model, x, y, n, steps, batch_size, report):
    from cydl.utils._overfit import overfit_copy
    # a deep copy trains with a copy of the optimizer: the model is not touched
    overfit_copy(copy.deepcopy(model), _take(x, n), _take_y(model, y, n), steps,
                 batch_size, report)


def _take_y(model, y, n):
    ys = [np.asarray(t)[:n] for t in split_targets(model, y)]
    if isinstance(y, dict):
        return dict(zip(model.output_names, ys))
    return ys[0] if len(ys) == 1 else ys

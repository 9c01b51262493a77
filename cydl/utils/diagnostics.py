"""Tools for the training process (*Hands-On Machine Learning*, ch. 10-11).

* `check_gradients(model, x, y)`: the gradient `fit` computes, against float64
  central differences, layer by layer.
* `sanity_check(model, x, y)`: the usual mistakes before a long run (initial loss,
  regularization, overfitting a few samples, dead or saturated units, a doubled
  softmax), in plain words.
* `find_learning_rate(model, X, y)`: the exponential learning-rate sweep.

During `fit`, `cydl.callbacks.GradientStats` records per-layer gradient norms and
activation statistics, and `History.plot()` draws the learning curves.
"""
from cydl.utils._gradcheck import check_gradients
from cydl.utils._gradcheck_result import GradientCheckResult, LayerCheck
from cydl.utils._sanity import sanity_check
from cydl.utils._sanity_report import SanityReport
from cydl.utils.lr_finder import ExponentialLearningRate, LRFinderResult, find_learning_rate

__all__ = ["check_gradients", "GradientCheckResult", "LayerCheck", "sanity_check",
           "SanityReport", "find_learning_rate", "LRFinderResult", "ExponentialLearningRate"]

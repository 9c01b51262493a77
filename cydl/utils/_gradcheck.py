"""check_gradients: the gradient `fit` applies, against float64 central differences.

The analytic gradient is read from the very step `fit` runs: the model's float64
copy is compiled with plain SGD at learning rate 1 (no momentum, clipping, weight
decay or constraints) and takes one `train_on_batch`, so `p_before - p_after` is
the gradient the compiled step (the fused plan, or the graph runner) applied,
L1/L2 penalties included (the fused update adds their gradient itself, outside
the model's gradient buffer). In float64 that difference is exact to
~1e-16 * |p|, far below the noise of a central difference (~1e-16 * loss / h).
The loss of each perturbed point comes from the same step at learning rate 0,
which leaves the weights as they are: training mode, regularization included.
"""
import numpy as np

from cydl._checks import integer, number
from cydl.utils._clone import (KeepGlobalRNG, Snapshot, as_model, check_compiled,
                               float64_copy, noise_layers)
from cydl.utils._gradcheck_result import GradientCheckResult, LayerCheck


def _layer_name(var):
    path = getattr(var, "path", None) or var.name
    return path.rsplit("/", 1)[0] if "/" in path else path


def _compiled_copy(model):
    from cydl.optimizers import SGD
    clone = float64_copy(model)
    cfg = clone._compile_config
    for v in clone.trainable_weights:
        v.constraint = None       # a projection after the step is not the gradient
    opt = SGD(learning_rate=0.0)
    # run_eagerly=True in the user's compile sends fit to the graph runner: so here too
    clone.compile(optimizer=opt, loss=cfg.loss_spec, loss_weights=cfg.weights_spec,
                  run_eagerly=model._force_general)
    return clone, opt


def check_gradients(model, x, y, sample_weight=None, epsilon=1e-6, rtol=1e-3, atol=1e-5,
                    max_elements=None, seed=0):
    """Check every weight gradient of `model` against central differences in float64.

    The gradient is the one `fit` computes (the same compiled training step, on a
    float64 copy of the model: `model` itself is left untouched), in training
    mode, with the regularization penalties in the loss. Layers that draw noise in
    training (Dropout, AlphaDropout, GaussianNoise, GaussianDropout) draw the same
    mask at every evaluation: their call counter is set back before each one, so
    the checked function is the loss of one fixed mask. BatchNormalization uses
    the batch statistics, as in training. (A float32 model is checked through the
    float64 build of the same kernels.)

    An element passes when `|analytic - numeric| <= rtol * max(|analytic|,
    |numeric|, atol / rtol)`: a relative test, and an absolute one (`atol`) for
    gradients below `atol / rtol`. The defaults are PyTorch's `gradcheck`
    tolerances. A ReLU-like kink within `epsilon` of a pre-activation makes a
    central difference wrong; with continuous data this is rare.

    Each checked element costs two training steps: on a large model, pass
    `max_elements` to check a random sample of each weight's elements.

    Args:
        model: a compiled cydl model (its loss and loss weights are used).
        x, y: one batch of inputs and targets, as `fit` takes them.
        sample_weight: optional per-sample weights, as in `fit`.
        epsilon: the central difference's step.
        rtol, atol: the tolerances (see above).
        max_elements: None to check every element, or the most elements checked per
            weight (drawn at random with `seed`).
        seed: the seed of that draw.

    Returns:
        A GradientCheckResult: `.layers` (per layer: max relative and absolute
        error, passed), `.passed`, `.analytic` and `.numeric` (per weight path),
        and `.summary()`.

    Example:
    >>> result = cydl.utils.check_gradients(model, X[:32], y[:32])
    >>> print(result.summary())
    >>> assert result.passed, result.failed_layers
    """
    model = as_model(model, "check_gradients")
    check_compiled(model, "check_gradients")
    epsilon = number(epsilon, "epsilon", low=0.0, low_open=True, owner="check_gradients")
    rtol = number(rtol, "rtol", low=0.0, low_open=True, owner="check_gradients")
    atol = number(atol, "atol", low=0.0, owner="check_gradients")
    max_elements = integer(max_elements, "max_elements", low=1, allow_none=True,
                           owner="check_gradients")
    seed = integer(seed, "seed", low=0, owner="check_gradients")
    with KeepGlobalRNG():       # building an unbuilt copy draws initial weights
        return _check(model, x, y, sample_weight, epsilon, rtol, atol, max_elements, seed)


def _check(model, x, y, sample_weight, epsilon, rtol, atol, max_elements, seed):
    clone, opt = _compiled_copy(model)
    clone.train_on_batch(x, y, sample_weight)        # builds it; checks the data once
    variables = clone.trainable_weights
    if not variables:
        raise ValueError(f"Model {model.name!r} has no trainable weights to check")
    start = Snapshot(clone)
    counters = [(l, l.steps) for l in noise_layers(clone)]

    def step(lr):
        for layer, steps in counters:     # the same masks and noise at every evaluation
            layer.steps = steps
        opt.learning_rate = lr
        return clone.train_on_batch(x, y, sample_weight, return_dict=True)["loss"]

    before = [v.numpy() for v in variables]
    loss = step(1.0)
    analytic = {v.path: b - v.numpy() for v, b in zip(variables, before)}
    start.restore()
    if not np.isfinite(loss):
        raise ValueError(f"check_gradients: the loss on this batch is {loss}; the "
                         f"gradient cannot be checked")
    rng = np.random.default_rng(seed)
    numeric = {}
    for v in variables:
        flat_idx = np.arange(v.size) if max_elements is None or v.size <= max_elements \
            else np.sort(rng.choice(v.size, max_elements, replace=False))
        num = np.full(v.shape, np.nan)
        view = v.value          # the copy's parameter buffer, read by its compiled step
        for i in flat_idx:
            idx = np.unravel_index(i, v.shape)
            orig = view[idx]
            view[idx] = orig + epsilon
            up, hi = step(0.0), view[idx]
            view[idx] = orig - epsilon
            down, lo = step(0.0), view[idx]
            view[idx] = orig
            num[idx] = (up - down) / (hi - lo)     # the step as actually represented
        numeric[v.path] = num
    start.restore()
    return GradientCheckResult(_per_layer(variables, analytic, numeric, rtol, atol),
                               analytic, numeric, rtol, atol, epsilon, loss)


def _per_layer(variables, analytic, numeric, rtol, atol):
    groups = {}
    for v in variables:
        a, n = analytic[v.path], numeric[v.path]
        checked = ~np.isnan(n)
        err = np.abs(a - n)[checked]
        rel = err / np.maximum(np.maximum(np.abs(a[checked]), np.abs(n[checked])),
                               atol / rtol)
        entry = groups.setdefault(_layer_name(v), {"rel": 0.0, "abs": 0.0, "n": 0,
                                                   "worst": None, "paths": []})
        entry["paths"].append(v.path)
        entry["n"] += int(checked.sum())
        if rel.size and rel.max() >= entry["rel"]:
            k = int(np.argmax(rel))
            where = tuple(int(i) for i in np.argwhere(checked)[k])
            entry["rel"], entry["worst"] = float(rel[k]), (v.path, where)
        entry["abs"] = max(entry["abs"], float(err.max()) if err.size else 0.0)
    return [LayerCheck(name, e["rel"], e["abs"], e["rel"] <= rtol, e["n"], e["worst"],
                       tuple(e["paths"])) for name, e in groups.items()]

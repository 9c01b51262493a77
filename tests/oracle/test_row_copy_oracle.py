"""float32 training steps of Dense stacks against PyTorch's autograd in float64.

Below 128 rows a fused step keeps a row-major copy of each hidden Dense output that
another Dense layer reads, and that layer's weight gradient multiplies the copy
(cydl/_kernels/_parts.pxd, row_copies). The rest of the oracle suite trains in
float64, where there is no copy; this file draws float32 stacks with wide and narrow
layers (each way of splitting a phase over threads), batches on both sides of 128
and a short last batch, 1-3 threads, and a frozen first layer (then SGD's folded
update reads a copy), with the copy on and off."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import cydl
from cydl import layers
from cydl._kernels import _blas, _parts

from .conftest import budget, seeds, torch_or_skip

torch = torch_or_skip()
# activations whose derivative is exact in float32: tanh's 1 - a^2, for one, loses
# most digits where a saturates, which would hide a small error in the copy
ACTS = {"relu": torch.relu, "linear": lambda t: t}

stacks = st.lists(st.tuples(st.sampled_from([1, 3, 8, 31, 32, 33, 70, 100]),
                            st.sampled_from(sorted(ACTS))), min_size=1, max_size=4)


def _torch_steps(model, acts, X, y, batch, lr, frozen, momentum=0.0):
    """The weights after SGD steps (Keras' momentum, v = m v - lr g and w += v, is
    torch's buf = m buf + g and w -= lr buf) on the mean sparse cross-entropy of each
    batch of X in order, float64; the first kernel and bias stay put when frozen."""
    ws = [torch.tensor(w.astype(np.float64), requires_grad=True) for w in _weights(model)]
    opt = torch.optim.SGD(ws[2:] if frozen else ws, lr=lr, momentum=momentum)
    for start in range(0, len(X), batch):
        t = torch.tensor(X[start:start + batch].astype(np.float64))
        for k, act in enumerate(acts):
            t = ACTS[act](t @ ws[2 * k] + ws[2 * k + 1])
        loss = torch.nn.functional.cross_entropy(
            t, torch.tensor(y[start:start + batch], dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [w.detach().numpy() for w in ws]


def _weights(model):
    """Kernel and bias of each Dense layer in order (get_weights lists the trainable
    ones first when a layer is frozen)."""
    return [w for layer in model.layers for w in layer.get_weights()]


@pytest.mark.parametrize("copy", [True, False], ids=["row_copy", "no_copy"])
@budget(30)
@given(stack=stacks, batch=st.one_of(st.integers(1, 127), st.integers(128, 140)),
       last=st.sampled_from([0, 0, 1, 17]), n_in=st.sampled_from([5, 40, 784]),
       threads=st.integers(1, 3), frozen=st.booleans(), seed=seeds)
def test_float32_sgd_steps_match_torch(copy, stack, batch, last, n_in, threads, frozen,
                                       seed):
    rng = np.random.default_rng(seed)
    # the copy needs the small-kernel pieces, which cydl turns on only on some cores:
    # on here, so that the copy runs on every machine
    old = (_parts.set_row_copy(copy), _blas.set_small_tiles(True), cydl.get_num_threads())
    cydl.set_num_threads(threads)
    try:
        cydl.utils.set_random_seed(seed % 1000)
        hidden = [layers.Dense(u, activation=a) for u, a in stack]
        hidden[0].trainable = not frozen
        model = cydl.Sequential([layers.Input(shape=(n_in,))] + hidden + [layers.Dense(4)])
        model.compile(optimizer=cydl.optimizers.SGD(0.5),
                      loss=cydl.losses.SparseCategoricalCrossentropy(from_logits=True))
        n = batch + min(last, batch - 1)       # a second, shorter batch when last > 0
        X = rng.standard_normal((n, n_in)).astype(np.float32)
        y = rng.integers(0, 4, n)
        before = [w.copy() for w in _weights(model)]
        want = _torch_steps(model, [a for _, a in stack] + ["linear"], X, y, batch, 0.5,
                            frozen)
        model.fit(X, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        assert model._runner(train=True).fused
    finally:
        _parts.set_row_copy(old[0])
        _blas.set_small_tiles(old[1])
        cydl.set_num_threads(old[2])
    for k, (w0, w1, wt) in enumerate(zip(before, _weights(model), want)):
        step, step_t = w1.astype(np.float64) - w0, wt - w0
        # float32 sums of up to 784 terms through a few layers: ~1e-5 of the largest
        # update; a wrong or misplaced gradient entry is off by a whole update
        tol = 1e-4 * np.abs(step_t).max() + 1e-6
        np.testing.assert_allclose(step, step_t, rtol=0, atol=tol,
                                   err_msg=f"weight {k}: {w0.shape}, batch {batch}, {n} rows")

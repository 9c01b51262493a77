"""float32 training steps of Dense stacks against PyTorch's autograd in float64.

Below 128 rows a fused step keeps a row-major copy of each hidden Dense output that
another Dense layer reads, and that layer's weight gradient multiplies the copy
(cydl/_kernels/_parts.pxd, row_copy). The rest of the oracle suite trains in
float64, where there is no copy; this file draws float32 stacks with wide and narrow
layers (each way of splitting a phase over threads), batches on both sides of 128,
and 1-3 threads, with the copy on and off."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import cydl
from cydl import layers
from cydl._kernels import _parts

from .conftest import budget, seeds, torch_or_skip

torch = torch_or_skip()
# activations whose derivative is exact in float32: tanh's 1 - a^2, for one, loses
# most digits where a saturates, which would hide a small error in the copy
ACTS = {"relu": torch.relu, "linear": lambda t: t}

stacks = st.lists(st.tuples(st.sampled_from([1, 3, 8, 31, 32, 33, 70, 100]),
                            st.sampled_from(sorted(ACTS))), min_size=1, max_size=4)


def _torch_step(model, acts, X, y, lr):
    """The weights after one SGD step on the mean sparse cross-entropy, float64."""
    ws = [torch.tensor(w.astype(np.float64), requires_grad=True) for w in model.get_weights()]
    t = torch.tensor(X.astype(np.float64))
    for k, act in enumerate(acts):
        t = ACTS[act](t @ ws[2 * k] + ws[2 * k + 1])
    loss = torch.nn.functional.cross_entropy(t, torch.tensor(y, dtype=torch.long))
    loss.backward()
    return [(w - lr * w.grad).detach().numpy() for w in ws]


@pytest.mark.parametrize("copy", [True, False], ids=["row_copy", "no_copy"])
@budget(30)
@given(stack=stacks, batch=st.one_of(st.integers(1, 127), st.integers(128, 140)),
       n_in=st.sampled_from([5, 40, 784]), threads=st.integers(1, 3), seed=seeds)
def test_float32_sgd_step_matches_torch(copy, stack, batch, n_in, threads, seed):
    rng = np.random.default_rng(seed)
    old_copy, old_threads = _parts.set_row_copy(copy), cydl.get_num_threads()
    cydl.set_num_threads(threads)
    try:
        cydl.utils.set_random_seed(seed % 1000)
        model = cydl.Sequential([layers.Input(shape=(n_in,))] +
                                [layers.Dense(u, activation=a) for u, a in stack] +
                                [layers.Dense(4)])
        model.compile(optimizer=cydl.optimizers.SGD(0.5),
                      loss=cydl.losses.SparseCategoricalCrossentropy(from_logits=True))
        X = rng.standard_normal((batch, n_in)).astype(np.float32)
        y = rng.integers(0, 4, batch)
        before = [w.copy() for w in model.get_weights()]
        want = _torch_step(model, [a for _, a in stack] + ["linear"], X, y, 0.5)
        model.fit(X, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        assert model._runner(train=True).fused
    finally:
        _parts.set_row_copy(old_copy)
        cydl.set_num_threads(old_threads)
    for k, (w0, w1, wt) in enumerate(zip(before, model.get_weights(), want)):
        step, step_t = w1.astype(np.float64) - w0, wt - w0
        # float32 sums of up to 784 terms through a few layers: ~1e-5 of the largest
        # update; a wrong or misplaced gradient entry is off by a whole update
        tol = 1e-4 * np.abs(step_t).max() + 1e-6
        np.testing.assert_allclose(step, step_t, rtol=0, atol=tol,
                                   err_msg=f"weight {k}: {w0.shape}, batch {batch}")

"""float32 training steps of Dense stacks against PyTorch's autograd in float64, with
the threads' row splits of packed GEMMs on and off.

Where OpenBLAS packs a GEMM whole, a fused step of 64 or more rows splits a Dense
layer's forward between the threads by rows when its W is smaller than its input,
and a weight gradient by rows of W when its dZ is smaller than its X: plain SGD's
folded update of the lowest trained layer from 64 rows, any other optimizer from
256, which then updates in column blocks after a barrier (cydl/_kernels/_parts.pxd,
fwd_rows, dw_rows and update_deferred; here SGD with momentum). This file
draws stacks with layers on both sides of those rules (wider and narrower than the
batch, than their input), batches of 64-400 rows with a shorter last batch, inputs
40 or 784 wide, 1-3 threads and a frozen first layer (then the fold reads a hidden
output). The small-kernel pieces are off, so that every GEMM packs on every CPU.
Mostly float64, where relu's kink cannot flip between cydl and torch (in float32 a
pre-activation within rounding of 0 flips one row's share of a unit's gradient:
seen with 784 inputs); float32 with linear layers for that instantiation."""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import cydl
from cydl import layers
from cydl._kernels import _blas, _parts

from .conftest import budget, seeds, torch_or_skip
from .test_row_copy_oracle import ACTS, _torch_steps, _weights

torch = torch_or_skip()

stacks = st.lists(st.tuples(st.sampled_from([8, 33, 70, 100, 300]),
                            st.sampled_from(sorted(ACTS))), min_size=1, max_size=3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rows", [True, False], ids=["row_splits", "unit_splits"])
@budget(30)
@given(stack=stacks, batch=st.one_of(st.integers(64, 300), st.integers(256, 400)),
       last=st.sampled_from([0, 0, 1, 45]), momentum=st.sampled_from([0.0, 0.9]),
       n_in=st.sampled_from([40, 784]), threads=st.integers(1, 3), frozen=st.booleans(),
       seed=seeds)
# the deferred update: of the first layer, and of a frozen first layer's reader
@example(stack=[(300, "relu"), (100, "relu")], batch=300, last=45, momentum=0.9, n_in=784,
         threads=2, frozen=False, seed=1)
@example(stack=[(300, "relu"), (100, "relu")], batch=320, last=0, momentum=0.9, n_in=40,
         threads=3, frozen=True, seed=2)
def test_sgd_steps_match_torch(dtype, rows, stack, batch, last, momentum, n_in, threads,
                               frozen, seed):
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        stack = [(u, "linear") for u, _ in stack]
    old = (_parts.set_row_splits(rows), _blas.set_small_tiles(False), cydl.get_num_threads(),
           cydl.config.floatx())
    cydl.set_num_threads(threads)
    cydl.config.set_floatx(dtype)
    try:
        cydl.utils.set_random_seed(seed % 1000)
        hidden = [layers.Dense(u, activation=a) for u, a in stack]
        hidden[0].trainable = not frozen
        model = cydl.Sequential([layers.Input(shape=(n_in,))] + hidden + [layers.Dense(4)])
        model.compile(optimizer=cydl.optimizers.SGD(0.1, momentum=momentum),
                      loss=cydl.losses.SparseCategoricalCrossentropy(from_logits=True))
        n = batch + min(last, batch - 1)       # a second, shorter batch when last > 0
        X = rng.standard_normal((n, n_in)).astype(dtype)
        y = rng.integers(0, 4, n)
        before = [w.copy() for w in _weights(model)]
        want = _torch_steps(model, [a for _, a in stack] + ["linear"], X, y, batch, 0.1,
                            frozen, momentum)
        model.fit(X, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        assert model._runner(train=True).fused
    finally:
        _parts.set_row_splits(old[0])
        _blas.set_small_tiles(old[1])
        cydl.set_num_threads(old[2])
        cydl.config.set_floatx(old[3])
    for k, (w0, w1, wt) in enumerate(zip(before, _weights(model), want)):
        step, step_t = w1.astype(np.float64) - w0, wt - w0
        # float32 sums of up to 784 terms through a few layers: ~1e-5 of the largest
        # update (float64: ~1e-14); a wrong or misplaced gradient entry is off by a
        # whole update
        tol = (1e-4 if dtype == "float32" else 1e-9) * np.abs(step_t).max() + 1e-12
        assert w1.dtype == dtype
        np.testing.assert_allclose(step, step_t, rtol=0, atol=tol,
                                   err_msg=f"weight {k}: {w0.shape}, batch {batch}, {n} rows")


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_a_fully_frozen_stack_trains_nothing(momentum):
    """No layer needs a backward pass: the step must not look for a lowest trained
    layer's deferred update past the last layer."""
    old = (_parts.set_row_splits(True), _blas.set_small_tiles(False))
    try:
        cydl.utils.set_random_seed(0)
        model = cydl.Sequential([layers.Input(shape=(784,)), layers.Dense(300, activation="relu"),
                                 layers.Dense(100, activation="relu"), layers.Dense(4)])
        for layer in model.layers:
            layer.trainable = False
        model.compile(optimizer=cydl.optimizers.SGD(0.1, momentum=momentum),
                      loss=cydl.losses.SparseCategoricalCrossentropy(from_logits=True))
        rng = np.random.default_rng(0)
        X = rng.standard_normal((600, 784)).astype(np.float32)
        y = rng.integers(0, 4, 600)
        before = [w.copy() for w in _weights(model)]
        history = model.fit(X, y, batch_size=300, epochs=2, verbose=0)
        assert model._runner(train=True).fused
    finally:
        _parts.set_row_splits(old[0])
        _blas.set_small_tiles(old[1])
    assert all(np.array_equal(a, b) for a, b in zip(before, _weights(model)))
    assert np.all(np.isfinite(history.history["loss"]))

"""A large dense layer's training forward in row blocks that any thread may claim
(cydl/_kernels/_parts.pyx, _forward_blocks) must train to the same bits as the fixed
split: whichever thread takes a block, and wherever the block sits in the batch.

Drawn here: float32 Dense stacks with wide and narrow layers, batches from two blocks
(96 rows) to several with a short last batch, 1-3 threads, SGD and Adam, a frozen
first layer (the first trained layer then reads a hidden output), with the blocks
forced onto every layer (min_work 0) and OpenBLAS's small-kernel pieces forced on
(the blocks need them; cydl turns them on only on some cores)."""
import numpy as np
from hypothesis import given, settings, strategies as st

import cydl
from cydl import layers
from cydl._kernels import _blas, _parts


def _train(stack, X, y, batch, threads, opt, frozen, steal, seed):
    old = (_parts.set_steal(steal, 0.0), _blas.set_small_tiles(True),
           cydl.get_num_threads())
    cydl.set_num_threads(threads)
    try:
        cydl.utils.set_random_seed(seed)
        hidden = [layers.Dense(u, activation=a) for u, a in stack]
        hidden[0].trainable = not frozen
        model = cydl.Sequential([layers.Input(shape=(X.shape[1],))] + hidden +
                                [layers.Dense(5, activation="softmax")])
        optimizer = cydl.optimizers.Adam(1e-3) if opt == "adam" else \
            cydl.optimizers.SGD(0.05)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        hist = model.fit(X, y, batch_size=batch, epochs=2, verbose=0)
        assert model._runner(train=True).fused
    finally:
        _parts.set_steal(*old[0])
        _blas.set_small_tiles(old[1])
        cydl.set_num_threads(old[2])
    return [w.numpy() for w in model.weights], hist.history["loss"]


@settings(max_examples=25, deadline=None)
@given(stack=st.lists(st.tuples(st.sampled_from([3, 8, 33, 64, 100, 200]),
                                st.sampled_from(["relu", "tanh", "linear"])),
                      min_size=1, max_size=3),
       batch=st.integers(96, 300), last=st.sampled_from([0, 1, 40]),
       n_in=st.sampled_from([40, 160, 784]), threads=st.integers(1, 3),
       opt=st.sampled_from(["sgd", "adam"]), frozen=st.booleans(),
       seed=st.integers(0, 1000))
def test_shared_blocks_same_bits_as_fixed_split(stack, batch, last, n_in, threads, opt,
                                                frozen, seed):
    rng = np.random.default_rng(seed)
    n = 2 * batch + last
    X = rng.standard_normal((n, n_in)).astype(np.float32)
    y = rng.integers(0, 5, n)
    w_on, loss_on = _train(stack, X, y, batch, threads, opt, frozen, True, seed)
    w_off, loss_off = _train(stack, X, y, batch, threads, opt, frozen, False, seed)
    assert loss_on == loss_off
    for k, (a, b) in enumerate(zip(w_on, w_off)):
        np.testing.assert_array_equal(a, b, err_msg=f"weight {k}")


def test_set_steal_rejects_bad_min_work():
    import pytest
    with pytest.raises(ValueError, match="min_work"):
        _parts.set_steal(True, -1.0)
    with pytest.raises(ValueError, match="min_work"):
        _parts.set_steal(True, float("nan"))

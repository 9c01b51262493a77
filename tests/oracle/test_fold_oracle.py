"""Plain SGD steps with the update folded into every Dense layer's weight gradient,
against PyTorch's autograd and torch.optim.SGD in float64.

With plain SGD a fused step updates W inside the GEMM that computes its gradient
(W += -lr X^T dZ), for hidden layers too: each thread takes the same rows of W for
the layer's input gradient and its folded update, and reads them for dX first
(cydl/_kernels/_parts.pxd, folds_hidden). A thread that folded rows another thread
still reads, or a dX computed from the updated W, is off by a whole update. This file
draws stacks whose layers fold and do not (a frozen layer anywhere, inputs narrower
than 32 whose dX splits by rows), 1-3 threads, batches of 1-160 with a shorter last
batch, small-kernel GEMM pieces on and off, the fold on and off; and a graph whose
hidden output two Dense layers read (their input gradients add up)."""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import cydl
from cydl import layers
from cydl._kernels import _blas, _parts

from .conftest import budget, seeds, torch_or_skip

torch = torch_or_skip()
ACTS = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda t: t}

stacks = st.lists(st.tuples(st.sampled_from([3, 8, 20, 31, 33, 100]),
                            st.sampled_from(sorted(ACTS))), min_size=1, max_size=4)


def _torch_sgd(weights, forward, batches, lr, frozen=()):
    """The weights after one plain SGD step per batch, float64; the listed weight
    indices stay put."""
    ws = [torch.tensor(w.astype(np.float64), requires_grad=True) for w in weights]
    opt = torch.optim.SGD([w for k, w in enumerate(ws) if k not in frozen], lr=lr)
    for xb, yb in batches:
        loss = torch.nn.functional.cross_entropy(
            forward(ws, torch.tensor(xb.astype(np.float64))), torch.tensor(yb, dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [w.detach().numpy() for w in ws]


def _fit(model, X, y, batch, threads, fold, tiles):
    old = (_parts.set_fold_hidden(fold), _blas.set_small_tiles(tiles), cydl.get_num_threads())
    cydl.set_num_threads(threads)
    try:
        model.fit(X, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        assert model._runner(train=True).fused
    finally:
        _parts.set_fold_hidden(old[0])
        _blas.set_small_tiles(old[1])
        cydl.set_num_threads(old[2])


def _assert_steps(before, after, want, what):
    for k, (w0, w1, wt) in enumerate(zip(before, after, want)):
        step, step_t = w1 - w0, wt - w0
        # float64 sums of a few hundred terms: ~1e-15 of the update; a gradient from
        # the updated W, or rows folded twice or not at all, are off by a whole one
        tol = 1e-9 * np.abs(step_t).max() + 1e-13
        np.testing.assert_allclose(step, step_t, rtol=0, atol=tol,
                                   err_msg=f"weight {k} {w0.shape}: {what}")


@pytest.fixture(autouse=True)
def _float64():
    old = cydl.config.floatx()
    cydl.config.set_floatx("float64")
    yield
    cydl.config.set_floatx(old)


@pytest.mark.parametrize("fold", [True, False], ids=["fold_hidden", "fold_lowest"])
@budget(30)
@given(stack=stacks, n_in=st.sampled_from([5, 40, 100]), batch=st.integers(1, 160),
       last=st.sampled_from([0, 0, 1, 17]), threads=st.integers(1, 3),
       frozen=st.integers(-1, 4), tiles=st.booleans(), seed=seeds)
# a frozen layer between two that fold; a hidden input narrower than 32 at 32+ rows
@example(stack=[(100, "relu"), (100, "tanh"), (100, "relu")], n_in=40, batch=64, last=17,
         threads=2, frozen=1, tiles=False, seed=1)
@example(stack=[(20, "relu"), (100, "relu")], n_in=100, batch=96, last=0, threads=3,
         frozen=-1, tiles=True, seed=2)
def test_sgd_steps_of_dense_stacks_match_torch(fold, stack, n_in, batch, last, threads,
                                              frozen, tiles, seed):
    rng = np.random.default_rng(seed)
    cydl.utils.set_random_seed(seed % 1000)
    dense = [layers.Dense(u, activation=a) for u, a in stack] + [layers.Dense(4)]
    acts = [a for _, a in stack] + ["linear"]
    frozen = frozen if frozen < len(dense) else -1
    if frozen >= 0:
        dense[frozen].trainable = False
    model = cydl.Sequential([layers.Input(shape=(n_in,))] + dense)
    model.compile(optimizer=cydl.optimizers.SGD(0.2),
                  loss=cydl.losses.SparseCategoricalCrossentropy(from_logits=True))
    n = batch + min(last, batch - 1)       # a second, shorter batch when last > 0
    X = rng.standard_normal((n, n_in))
    y = rng.integers(0, 4, n)
    before = [w for layer in dense for w in (layer.kernel.numpy(), layer.bias.numpy())]

    def forward(ws, t):
        for k, act in enumerate(acts):
            t = ACTS[act](t @ ws[2 * k] + ws[2 * k + 1])
        return t

    want = _torch_sgd(before, forward, [(X[s:s + batch], y[s:s + batch]) for s in range(0, n, batch)],
                      0.2, frozen=(2 * frozen, 2 * frozen + 1) if frozen >= 0 else ())
    _fit(model, X, y, batch, threads, fold, tiles)
    after = [w for layer in dense for w in (layer.kernel.numpy(), layer.bias.numpy())]
    _assert_steps(before, after, want, f"stack {stack}, batch {batch}, {n} rows, "
                                       f"{threads} threads, frozen {frozen}")


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("batch", [7, 64, 130])
def test_two_readers_of_a_hidden_output_fold_and_add_their_input_gradients(threads, batch):
    """h = relu(x W0); two Dense layers read h, each folds its own update, and their
    input gradients add up in h's gradient before relu's derivative."""
    rng = np.random.default_rng(batch + threads)
    cydl.utils.set_random_seed(5)
    x = layers.Input(shape=(40,))
    d0, da, db, out = (layers.Dense(100, activation="relu"), layers.Dense(64, activation="tanh"),
                       layers.Dense(48, activation="relu"), layers.Dense(4))
    h = d0(x)
    model = cydl.Model(x, out(layers.Concatenate()([da(h), db(h)])))
    model.compile(optimizer=cydl.optimizers.SGD(0.2),
                  loss=cydl.losses.SparseCategoricalCrossentropy(from_logits=True))
    n = 2 * batch + 3
    X = rng.standard_normal((n, 40))
    y = rng.integers(0, 4, n)
    dense = [d0, da, db, out]
    before = [w for layer in dense for w in (layer.kernel.numpy(), layer.bias.numpy())]

    def forward(ws, t):
        h = torch.relu(t @ ws[0] + ws[1])
        cat = torch.cat([torch.tanh(h @ ws[2] + ws[3]), torch.relu(h @ ws[4] + ws[5])], dim=1)
        return cat @ ws[6] + ws[7]

    want = _torch_sgd(before, forward, [(X[s:s + batch], y[s:s + batch]) for s in range(0, n, batch)],
                      0.2)
    _fit(model, X, y, batch, threads, True, False)
    after = [w for layer in dense for w in (layer.kernel.numpy(), layer.bias.numpy())]
    _assert_steps(before, after, want, f"batch {batch}, {threads} threads")

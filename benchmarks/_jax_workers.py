"""JAX/XLA training of the benchmark networks, the whole epoch as one XLA program.

`jax.lax.scan` runs over the batches of an epoch whose order is drawn beforehand
(the permutation is an argument, so each epoch gets a new order without a
recompile): each batch's gather, forward pass, softmax cross-entropy, backward
pass and optax update run inside one jitted call, with no Python per step. That
is XLA's best case, the fairest opponent for cydl's fused step. float32,
Glorot-uniform kernels and zero biases, as Keras initializes them.
"""
import os

import numpy as np

from _workload import N_SAMPLES, NETS, data, per_step
from _workload import windows as _windows


def _pin(threads):
    """Give the process `threads` cores. XLA's CPU runtime sizes its thread pool
    from the cores it can see and has no stable thread-count setting, so the
    affinity mask sets it. Must run before jax is imported."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()


def jax_train(net, batch, opt, threads, windows=7, n=N_SAMPLES):
    """samples/s of whole epochs of `net` at `batch`, optax SGD(0.01) or Adam(1e-3)."""
    _pin(threads)
    import jax
    import jax.numpy as jnp
    import optax

    sizes = NETS[net]
    x, y = data(net, n)
    steps = n // batch
    key = jax.random.PRNGKey(0)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        key, sub = jax.random.split(key)
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params.append((jax.random.uniform(sub, (fan_in, fan_out), jnp.float32, -limit, limit),
                       jnp.zeros(fan_out, jnp.float32)))
    tx = optax.sgd(0.01) if opt == "sgd" else optax.adam(1e-3, eps=1e-7)

    def loss_fn(params, xb, yb):
        h = xb
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b)
        w, b = params[-1]
        return optax.softmax_cross_entropy_with_integer_labels(h @ w + b, yb).mean()

    @jax.jit
    def epoch(params, state, x, y, order):
        def step(carry, idx):
            params, state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, x[idx], y[idx])
            updates, state = tx.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), loss
        (params, state), losses = jax.lax.scan(step, (params, state),
                                               order.reshape(steps, batch))
        return params, state, losses.mean()

    xd, yd = jnp.asarray(x), jnp.asarray(y.astype(np.int32))
    carry = [params, tx.init(params)]
    losses = []                             # the mean loss of each epoch: it trains
    rng = np.random.default_rng(0)

    def one_epoch():
        order = jnp.asarray(rng.permutation(n)[:steps * batch].astype(np.int32))
        carry[0], carry[1], loss = epoch(carry[0], carry[1], xd, yd, order)
        jax.block_until_ready(carry[0])
        losses.append(loss)

    t = _windows(one_epoch, windows)           # the first (untimed) call compiles
    return {"samples_per_s": steps * batch / t["median"], **per_step(t, batch, steps * batch),
            "threads": len(os.sched_getaffinity(0)), "jax": jax.__version__,
            "loss_first_epoch": float(losses[0]), "loss_last_epoch": float(losses[-1])}

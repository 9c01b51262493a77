"""BatchNormalization over a global batch spread across processes (SyncBatchNorm).

In a data-parallel training step (cydl.distribution) each process holds a slice
of the batch. The forward pass sums each feature's values and counts over the
processes for the mean, then the squared deviations from that mean for the
variance (two passes, as the one-process kernel computes them: no cancellation);
the backward pass sums dy and dy * (x - mean). Each sum is one Allreduce of a
float64 vector, so a process computes exactly what one process would for the
whole batch, up to the order of the additions. Three small Allreduces per layer
and step: the price is latency, not bandwidth.
"""
import numpy as np

from cydl import _ops
from cydl.autodiff import grad_buffer


def _global_stats(x2, step):
    """The global batch's per-feature mean and biased variance, and its row count."""
    C = x2.shape[1]
    first = np.zeros(C + 1)
    if not step.phantom:       # a stand-in row counts as nothing
        first[:C] = x2.sum(axis=0, dtype=np.float64)
        first[C] = x2.shape[0]
    step.allreduce(first)
    n = first[C]
    mean = first[:C] / n
    second = np.zeros(C) if step.phantom else np.square(x2 - mean).sum(axis=0)
    step.allreduce(second)
    return mean, second / n, n


def sync_batch_norm(bn, step, x, xt, gamma, beta, last, need, n_values):
    """What _BatchNorm.__call__ returns (y, vjp) for a training call in `step`."""
    C = xt.shape[-1]
    x2 = xt.reshape(-1, C)
    mean, var, n = _global_stats(x2, step)
    mean, var = mean.astype(x.dtype), var.astype(x.dtype)   # as the kernel stores them
    bn.batch_mean, bn.batch_variance = mean, var
    yt, _, _ = _ops.batchnorm_forward(xt, gamma, beta, mean, var, bn.epsilon, training=False)
    y = yt if last else np.moveaxis(yt, -1, bn.axis)
    if need is None:
        return y, None
    need_gamma = gamma is not None and need[1]
    need_beta = beta is not None and need[-1]

    def vjp(g):
        gt = g if last else np.moveaxis(g, bn.axis, -1)
        g2 = np.asarray(gt).reshape(-1, C)
        m = mean.astype(np.float64)
        inv = 1.0 / np.sqrt(var.astype(np.float64) + bn.epsilon)
        local = np.zeros(2 * C)
        if not step.phantom:
            local[:C] = g2.sum(axis=0, dtype=np.float64)
            local[C:] = (g2 * (x2 - m)).sum(axis=0)
        total = local.copy()
        step.allreduce(total)
        # this process's share of dgamma and dbeta: the gradient Allreduce adds them
        if need_gamma:
            buf = grad_buffer(bn.gamma)
            buf += (local[C:] * inv).astype(buf.dtype)
        if need_beta:
            buf = grad_buffer(bn.beta)
            buf += local[:C].astype(buf.dtype)
        dx = None
        if need[0] and step.phantom:
            # a stand-in row: no gradient (the global sums would give it the mean terms)
            dx = np.zeros(x.shape, x.dtype)
        elif need[0]:
            # dx = k g - k sum(g) / n - k xhat sum(g xhat) / n (as bn_backward_cols)
            sg, sgx = total[:C], total[C:] * inv
            k = inv * (gamma.astype(np.float64) if gamma is not None else 1.0)
            a = k * sgx * inv / n
            b = -k * sg / n + a * m
            dx = (k * g2 - a * x2 + b).astype(x.dtype).reshape(gt.shape)
            if not last:
                dx = np.moveaxis(dx, -1, bn.axis)
        return (dx,) + (None,) * (n_values - 1)

    return y, vjp

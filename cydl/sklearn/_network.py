"""The cydl network behind the MLPs, with scikit-learn's initial weights, and its
compiled training step driven batch by batch in the order scikit-learn uses.

One epoch is one Python loop over the model's bound runner (the fused step: one
compiled call per batch); the data are checked and bound once per fit, not once
per epoch as model.fit(epochs=1) would.
"""
import numpy as np

HIDDEN = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


def build(units, activation, out_activation, dtype):
    """A Sequential of Dense layers with `units` = [n_in, hidden..., n_out]; its
    weights start at zero (no draw from cydl's generator): see init_weights."""
    import cydl
    from cydl import layers
    net = [layers.Input(shape=(units[0],), dtype=dtype)]
    for k, n in enumerate(units[1:]):
        act = out_activation if k == len(units) - 2 else HIDDEN[activation]
        net.append(layers.Dense(n, activation=act, dtype=dtype, kernel_initializer="zeros"))
    return cydl.Sequential(net)


def init_weights(model, units, activation, rs):
    """sklearn's _init_coef, layer by layer from rs: Glorot-uniform bounds
    sqrt(6 / (fan_in + fan_out)) (2 instead of 6 for logistic), for the kernel and
    then the bias."""
    factor = 2.0 if activation == "logistic" else 6.0
    for layer, fan_in, fan_out in zip(model.layers, units[:-1], units[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        layer.kernel.assign(rs.uniform(-bound, bound, (fan_in, fan_out)))
        layer.bias.assign(rs.uniform(-bound, bound, fan_out))


def converted(model, units, activation, out_activation, dtype):
    """The same network in another dtype (warm start across solvers)."""
    twin = build(units, activation, out_activation, dtype)
    twin.set_weights([w.astype(dtype) for w in model.get_weights()])
    return twin


class Steps:
    """A compiled model bound to (X, y): sklearn's epochs and full-batch gradients.

    Args:
        model: a compiled Sequential (see build).
        X, y: the training rows and their targets (labels or values).
        batch: rows per step (the whole set for loss_and_grad).
        sample_weight: None, or one non-negative weight per row (see weigh).
    """

    def __init__(self, model, X, y, batch, sample_weight=None):
        from cydl.models import _loops
        self.model = model
        self.sw = None if sample_weight is None else np.asarray(sample_weight, np.float64)
        data = _loops.prepare_xy(model, X, y, None if self.sw is None else np.ones(len(X)))
        self.runner = model._runner(train=True)
        self.runner.bind(data, batch=batch)
        self.n, self.batch = data.n, batch
        self.store = model._store
        self._bound_sw = data.sw        # the array the compiled step reads the weights from

    def weigh(self, order):
        """Scale the sample weights batch by batch for an epoch in `order`, and return
        each batch's sum of weights.

        The compiled step's loss is Keras's, sum(w * loss) / rows; scikit-learn's is
        the weighted mean, sum(w * loss) / sum(w). Each batch's weights are therefore
        scaled by rows / sum(w) (a batch whose weights are all 0 trains on nothing;
        scikit-learn would divide by 0 there)."""
        w = self.sw[order]
        starts = np.arange(0, self.n, self.batch)
        sums = np.add.reduceat(w, starts)
        rows = np.diff(np.append(starts, self.n))
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(sums > 0, rows / sums, 0.0)
        self._bound_sw[order] = w * np.repeat(scale, rows)
        return sums

    def epoch(self, order):
        """One pass over the rows in `order` (int64); returns the sums over the rows
        of the data loss (the head's unweighted loss) and of the L2 penalty, the
        penalty counted once per batch as sklearn counts it."""
        runner, n, B = self.runner, self.n, self.batch
        runner.set_order(order)
        data = reg = 0.0
        for start in range(0, n, B):
            stats = runner.train(start, min(start + B, n))
            data += stats.item(0, 0)
            reg += runner.reg_loss * B
        return data, reg

    def loss_and_grad(self, x):
        """(summed data loss, gradient of the weighted mean loss) at the flat
        trainable parameters x, on all rows at once.

        The step's optimizer is SGD with learning rate 0 and momentum (see
        zero_step_optimizer), so it leaves the weights as they are and every
        layer's gradient in the store's flat gradient buffer."""
        st = self.store
        k = st.n_trainable
        st.params[:k] = x
        for slot in self.model.optimizer._slots:
            if slot is not None:        # a NaN gradient would stay in the velocity
                slot.fill(0)
        stats = self.runner.train(0, self.n)
        return stats.item(0, 0), st.grads[:k].copy()

    def kernel_mask(self):
        """Which flat trainable parameters are kernels (the L2 penalty's)."""
        st = self.store
        mask = np.zeros(st.n_trainable, bool)
        for layer in self.model.layers:
            off = st.offset(layer.kernel)
            mask[off:off + layer.kernel.size] = True
        return mask


def zero_step_optimizer():
    """An optimizer whose step computes every gradient and changes nothing.

    Momentum keeps the fused step from folding the first layer's update into its
    weight-gradient GEMM (plain SGD does, and that gradient is then never stored);
    with a zero rate the velocity stays 0."""
    import cydl
    return cydl.optimizers.SGD(learning_rate=0.0, momentum=0.5)

"""The fused whole-step path: same numbers as the per-layer path, no allocations in
a steady-state step, and a number of Python calls per step independent of depth."""
import sys
import tracemalloc

import numpy as np
import pytest

import cydl
from cydl import layers
from cydl.models import _loops


def _mlp(widths, act="relu", out="softmax", n_in=20):
    cydl.utils.set_random_seed(7)
    model = cydl.Sequential([layers.Input(shape=(n_in,))] +
                            [layers.Dense(w, activation=act) for w in widths] +
                            [layers.Dense(5, activation=out)])
    return model


def _bound_runner(model, x, y, batch):
    data = _loops.prepare_xy(model, x, y)
    runner = model._runner(train=True)
    runner.bind(data, batch=batch)
    idx = np.random.default_rng(0).permutation(data.n).astype(np.int64)
    runner.set_order(idx)
    return runner


DATA = np.random.default_rng(1).standard_normal((640, 20)), np.random.default_rng(2).integers(0, 5, 640)


@pytest.mark.parametrize("opt", ["sgd", "adam", "rmsprop", "nadam", "sgd-momentum"])
@pytest.mark.parametrize("loss,out", [("sparse_categorical_crossentropy", "softmax"),
                                      ("mse", "tanh"), ("categorical_crossentropy", "sigmoid")])
def test_fused_and_layer_paths_agree(opt, loss, out):
    cydl.config.set_floatx("float64")
    x, y = DATA
    if loss != "sparse_categorical_crossentropy":
        y = np.eye(5)[y]
    results = []
    for eager in (False, True):
        model = _mlp([32, 16], act="elu", out=out)
        optimizer = cydl.optimizers.SGD(0.05, momentum=0.9) if opt == "sgd-momentum" else opt
        model.compile(loss=loss, optimizer=optimizer, metrics=["accuracy"], run_eagerly=eager)
        cydl.utils.set_random_seed(3)
        h = model.fit(x, y, epochs=3, batch_size=50, validation_split=0.1, verbose=0)
        assert model._runner(train=True).fused is not eager
        results.append((h.history, model.get_weights()))
    (h1, w1), (h2, w2) = results
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-10, err_msg=key)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_fused_path_is_chosen_for_the_book_model():
    model = cydl.Sequential([layers.Input(shape=(28, 28)), layers.Flatten(),
                             layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(np.zeros((4, 28, 28)), np.zeros(4), verbose=0)
    assert model._runner(train=True).fused


def _book_bn(n_in=20):
    """The book's batch-norm model (ch. 11), scaled to the test data."""
    cydl.utils.set_random_seed(7)
    return cydl.Sequential([layers.Input(shape=(n_in,)), layers.BatchNormalization(),
                            layers.Dense(30, activation="relu"), layers.BatchNormalization(),
                            layers.Dense(16, activation="relu"), layers.BatchNormalization(),
                            layers.Dense(5, activation="softmax")])


def _bn_before_activation():
    cydl.utils.set_random_seed(7)
    return cydl.Sequential([layers.Input(shape=(20,)), layers.Dense(30, use_bias=False),
                            layers.BatchNormalization(), layers.Activation("elu"),
                            layers.Dense(5, activation="softmax")])


def _dropout_net():
    cydl.utils.set_random_seed(7)
    return cydl.Sequential([layers.Input(shape=(20,)), layers.Dropout(0.2),
                            layers.Dense(32, activation="relu"), layers.Dropout(0.2),
                            layers.Dense(16, activation="selu"), layers.AlphaDropout(0.1),
                            layers.Dense(5, activation="softmax")])


def _prelu_norm_net():
    cydl.utils.set_random_seed(7)
    norm = layers.Normalization()
    norm.adapt(DATA[0])
    return cydl.Sequential([layers.Input(shape=(20,)), norm, layers.Dense(24),
                            layers.PReLU(), layers.Dense(5, activation="softmax")])


NODE_NETS = {"bn": _book_bn, "bn-before-activation": _bn_before_activation,
             "dropout": _dropout_net, "prelu-normalization": _prelu_norm_net}


@pytest.mark.parametrize("opt", ["sgd", "adam", "clipnorm"])
@pytest.mark.parametrize("net", list(NODE_NETS))
def test_every_node_kind_runs_fused_with_the_same_numbers(net, opt):
    cydl.config.set_floatx("float64")
    x, y = DATA
    results = []
    for eager in (False, True):
        model = NODE_NETS[net]()
        optimizer = cydl.optimizers.SGD(0.05, momentum=0.9, clipnorm=1.0) \
            if opt == "clipnorm" else opt
        model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                      metrics=["accuracy"], run_eagerly=eager)
        cydl.utils.set_random_seed(3)
        h = model.fit(x, y, epochs=3, batch_size=50, validation_split=0.1, verbose=0)
        assert model._runner(train=True).fused is not eager
        results.append((h.history, model.get_weights(), model.predict(x[:7], verbose=0)))
    (h1, w1, p1), (h2, w2, p2) = results
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-10, err_msg=key)
    for a, b in zip(w1 + [p1], w2 + [p2]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_book_bn_model_counts_its_moving_statistics_as_non_trainable():
    model = cydl.Sequential([layers.Input(shape=(28, 28)), layers.Flatten(),
                             layers.BatchNormalization(),
                             layers.Dense(300, activation="relu"), layers.BatchNormalization(),
                             layers.Dense(100, activation="relu"), layers.BatchNormalization(),
                             layers.Dense(10, activation="softmax")])
    lines = []
    model.summary(print_fn=lines.append)
    assert " Non-trainable params: 2,368 (9.25 KB)" in lines
    assert sum(v.size for v in model.non_trainable_weights) == 2 * (784 + 300 + 100)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(np.zeros((4, 28, 28)), np.zeros(4), verbose=0)
    assert model._runner(train=True).fused


@pytest.mark.parametrize("net", ["mlp-sgd", "mlp-adam", "bn", "dropout", "l2-max-norm"])
def test_steady_state_step_allocates_nothing(net):
    x, y = DATA
    model = _mlp([64, 32]) if net.startswith("mlp") else \
        _constrained(True) if net == "l2-max-norm" else NODE_NETS[net]()
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer="adam" if net == "mlp-adam" else "sgd")
    runner = _bound_runner(model, x, y, 32)
    assert runner.fused
    for step in range(20):
        runner.train(32 * (step % 20), 32 * (step % 20) + 32)
    tracemalloc.start()
    try:
        for step in range(5):
            runner.train(32 * step, 32 * step + 32)
        before = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)])
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for step in range(200):
            start = 32 * (step % 20)
            runner.train(start, start + 32)
        current, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)])
    finally:
        tracemalloc.stop()
    new_arrays = [s for s in after.compare_to(before, "lineno") if s.count_diff > 0]
    assert new_arrays == []
    # nothing larger than a few Python scalars was allocated, even transiently
    assert peak - base < 1024, (peak - base)
    assert current - base < 256


def _python_calls_per_step(widths):
    x, y = DATA
    model = _mlp(widths)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    runner = _bound_runner(model, x, y, 32)
    runner.train(0, 32)
    calls = []

    def prof(frame, event, arg):
        if event in ("call", "c_call"):
            calls.append(event)

    sys.setprofile(prof)
    try:
        runner.train(32, 64)
    finally:
        sys.setprofile(None)
    return len(calls)


def test_python_calls_per_step_do_not_grow_with_depth():
    shallow = _python_calls_per_step([16])
    deep = _python_calls_per_step([16] * 20)
    assert shallow == deep
    assert deep <= 20


def test_fast_predict_path_matches_and_falls_back():
    cydl.utils.set_random_seed(0)
    model = _mlp([32, 16])
    x = np.random.default_rng(3).random((5, 20)).astype(np.float32)
    general = model.predict(x, batch_size=2)           # batched general path
    np.testing.assert_allclose(model(x), general, rtol=1e-6)
    assert model._fast is not None
    np.testing.assert_allclose(model(x[:1]), general[:1], rtol=1e-6)
    np.testing.assert_allclose(model.predict(x.astype(np.float64)), general, rtol=1e-6)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model(bad)
    with pytest.raises(ValueError, match="incompatible shape"):
        model(x[:, :5])


def test_fast_predict_sees_new_weights_and_shared_layers():
    cydl.utils.set_random_seed(0)
    model = _mlp([8])
    x = np.random.default_rng(4).random((3, 20)).astype(np.float32)
    before = model(x)
    model.set_weights([w * 0.5 for w in model.get_weights()])
    assert not np.allclose(model(x), before)
    # a second model adopting the same layers moves their weights to its buffer
    other = cydl.Sequential([layers.Input(shape=(20,))] + model.layers)
    other.compile(loss="sparse_categorical_crossentropy", optimizer=cydl.optimizers.SGD(0.5))
    other.fit(x, np.array([0, 1, 2]), epochs=3, verbose=0)
    np.testing.assert_allclose(model(x), other(x), rtol=1e-6)


def test_activation_layers_fold_into_the_fused_path_and_nd_dense_does_not():
    model = cydl.Sequential([layers.Input(shape=(6,)), layers.Dense(8), layers.LeakyReLU(0.1),
                             layers.Dense(3), layers.Softmax()])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(np.ones((4, 6)), np.zeros(4), verbose=0)
    assert model._runner(train=True).fused
    # Dense on the last axis of (5, 6) samples: not a chain over flattened rows
    nd = cydl.Sequential([layers.Input(shape=(5, 6)), layers.Dense(3)])
    x = np.random.default_rng(0).random((2, 5, 6))
    out = nd.predict(x)
    assert out.shape == (2, 5, 3)
    np.testing.assert_allclose(out, x @ nd.layers[0].kernel.numpy(), rtol=1e-5, atol=1e-6)
    assert not nd._runner(train=False).fused


def _wide_and_deep():
    cydl.utils.set_random_seed(7)
    wide, deep = cydl.Input(shape=(5,)), cydl.Input(shape=(15,))
    h1 = layers.Dense(30, activation="relu")(deep)
    h2 = layers.Dense(30, activation="relu")(h1)
    out = layers.Dense(1)(layers.concatenate([wide, h2]))
    aux = layers.Dense(1)(h2)
    return cydl.Model([wide, deep], [out, aux])


class _TracedWideAndDeep(cydl.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.h1 = layers.Dense(30, activation="relu")
        self.h2 = layers.Dense(30, activation="relu")
        self.out = layers.Dense(1)
        self.aux = layers.Dense(1)

    def call(self, inputs):
        wide, deep = inputs
        h2 = self.h2(self.h1(deep))
        return self.out(layers.concatenate([wide, h2])), self.aux(h2)


def _merge_dag():
    """Every merge kind, fan-out into several readers, BN and dropout inside a DAG,
    two outputs with their own losses and metrics."""
    cydl.utils.set_random_seed(7)
    a, b = cydl.Input(shape=(5,)), cydl.Input(shape=(15,))
    h = layers.Dense(8, activation="tanh")(b)
    g = layers.Dense(8, activation="elu")(a)
    m1 = layers.add([h, g])
    m2 = layers.multiply([h, g, m1])
    m3 = layers.average([m1, m2])
    m6 = layers.subtract([layers.minimum([layers.maximum([m3, h]), g]), m3])
    bn = layers.BatchNormalization()(m6)
    d = layers.Dropout(0.2)(layers.Dense(6, activation="relu")(
        layers.concatenate([bn, a, h])))
    cls = layers.Dense(5, activation="softmax", name="cls")(d)
    reg = layers.Dense(1, name="reg")(layers.concatenate([d, m2]))
    return cydl.Model([a, b], [cls, reg])


def _dag_data():
    x, y = DATA
    return [x[:, :5], x[:, 5:]], y, x[:, :1] - x[:, 7:8]


@pytest.mark.parametrize("opt", ["sgd", "adam", "clipnorm"])
@pytest.mark.parametrize("net", ["wide-and-deep", "traced-subclass", "merges"])
def test_dags_with_several_inputs_and_outputs_run_fused_with_the_same_numbers(net, opt):
    cydl.config.set_floatx("float64")
    xs, labels, target = _dag_data()
    results = []
    for eager in (False, True):
        if net == "merges":
            model = _merge_dag()
            kw = dict(loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                      loss_weights={"cls": 1.0, "reg": 0.5},
                      metrics={"cls": ["accuracy"], "reg": ["mae"]})
            y = {"cls": labels, "reg": target}
        else:
            if net == "wide-and-deep":
                model = _wide_and_deep()
            else:
                cydl.utils.set_random_seed(7)
                model = _TracedWideAndDeep()
            kw = dict(loss="mse", loss_weights=[0.9, 0.1], metrics=["RootMeanSquaredError"])
            y = (target, target)
        optimizer = cydl.optimizers.SGD(0.05, momentum=0.9, clipnorm=1.0) \
            if opt == "clipnorm" else opt
        model.compile(optimizer=optimizer, run_eagerly=eager, **kw)
        cydl.utils.set_random_seed(3)
        h = model.fit(xs, y, epochs=3, batch_size=50, validation_split=0.1, verbose=0)
        assert model._runner(train=True).fused is not eager
        results.append((list(h.history.values()), model.get_weights(),
                        model.predict(xs, verbose=0), model.evaluate(xs, y, verbose=0)))
    (h1, w1, p1, e1), (h2, w2, p2, e2) = results
    assert len(h1) == len(h2) and len(e1) == len(e2) >= 5
    for a, b in zip(h1 + [e1], h2 + [e2]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    for a, b in zip(w1 + list(p1), w2 + list(p2)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_fused_dag_step_allocates_nothing():
    xs, _, target = _dag_data()
    model = _wide_and_deep()
    model.compile(loss="mse", loss_weights=[0.9, 0.1], optimizer="adam")
    data = _loops.prepare_xy(model, xs, (target, target))
    runner = model._runner(train=True)
    assert runner.fused
    runner.bind(data, batch=32)
    runner.set_order(np.random.default_rng(0).permutation(data.n).astype(np.int64))
    assert_steps_allocate_nothing(runner)


def assert_steps_allocate_nothing(runner):
    """20 warm-up steps of 32 rows, then 200 steps that may not allocate (a bound
    runner over at least 640 rows; tests/test_lower_custom.py uses it too)."""
    for step in range(20):
        runner.train(32 * step, 32 * step + 32)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for step in range(200):
            start = 32 * (step % 19)
            runner.train(start, start + 32)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base < 1024, (peak - base)
    assert current - base < 256


class _PyL1L2(cydl.regularizers.Regularizer):
    """The L1L2 formula in Python: a custom regularizer, which the graph runner applies
    itself, so it is an independent check of the penalties fused into the update."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = l1, l2

    def __call__(self, w):
        w = np.asarray(w, np.float64)
        return self.l1 * np.abs(w).sum() + self.l2 * np.square(w).sum()

    def gradient(self, w):
        return self.l1 * np.sign(w) + 2 * self.l2 * w


def _regularized(fused):
    reg = cydl.regularizers.L1L2 if fused else _PyL1L2
    cydl.utils.set_random_seed(7)
    return cydl.Sequential([
        layers.Input(shape=(20,)),
        layers.Dense(32, activation="elu", kernel_regularizer=reg(l2=1e-2),
                     bias_regularizer=reg(l1=1e-3)),
        layers.Dense(16, activation="relu", kernel_regularizer=reg(l1=1e-3, l2=1e-3)),
        layers.Dense(5, activation="softmax",
                     kernel_regularizer=cydl.regularizers.l2(1e-2) if fused else reg(l2=1e-2))])


@pytest.mark.parametrize("opt", ["sgd", "adam", "clipnorm", "global_clipnorm"])
def test_l1_l2_penalties_run_fused_with_the_same_numbers(opt):
    """The book's l2 models stay on the fused path: the optimizer's update adds the
    penalty's gradient (before clipping) and sums the penalty for the reported loss."""
    cydl.config.set_floatx("float64")
    x, y = DATA
    results = []
    for fused in (True, False):
        model = _regularized(fused)
        optimizer = {"clipnorm": cydl.optimizers.SGD(0.05, momentum=0.9, clipnorm=0.5),
                     "global_clipnorm": cydl.optimizers.Adam(global_clipnorm=0.5)}.get(opt, opt)
        model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                      metrics=["accuracy"])
        cydl.utils.set_random_seed(3)
        h = model.fit(x, y, epochs=3, batch_size=50, validation_split=0.1, verbose=0)
        assert model._runner(train=True).fused is fused
        results.append((h.history, model.get_weights(), model.evaluate(x, y, verbose=0)))
    (h1, w1, e1), (h2, w2, e2) = results
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-10, err_msg=key)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(e1, e2, rtol=1e-10)


def test_reported_loss_includes_the_penalty():
    cydl.config.set_floatx("float64")
    x, y = DATA
    model = _regularized(True)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(x, y, epochs=1, verbose=0)
    p = model.predict(x, verbose=0)
    data_loss = -np.mean(np.log(p[np.arange(len(y)), y]))
    k1, b1, k2, b2, k3, b3 = model.get_weights()
    penalty = 1e-2 * np.sum(k1 ** 2) + 1e-3 * np.abs(b1).sum() + \
        1e-3 * (np.abs(k2).sum() + np.sum(k2 ** 2)) + 1e-2 * np.sum(k3 ** 2)
    assert penalty > 0.01 * data_loss
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), data_loss + penalty,
                               rtol=1e-9)
    # a training step reports the penalty of the weights it started from
    logs = model.train_on_batch(x[:32], y[:32], return_dict=True)
    np.testing.assert_allclose(logs["loss"], -np.mean(np.log(
        p[np.arange(32), y[:32]])) + penalty, rtol=1e-9)


class _PyConstraint(cydl.constraints.Constraint):
    """A Keras constraint run in Python (a custom constraint: the graph runner applies
    it after the optimizer), to check the ones fused into the update."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, w):
        return self.inner(w)


def _constrained(fused):
    C = cydl.constraints
    wrap = (lambda c: c) if fused else _PyConstraint
    cydl.utils.set_random_seed(7)
    return cydl.Sequential([
        layers.Input(shape=(20,)),
        layers.Dense(32, activation="elu", kernel_constraint=wrap(C.MaxNorm(0.5)),
                     bias_constraint=wrap(C.NonNeg())),
        layers.BatchNormalization(gamma_constraint=wrap(C.MinMaxNorm(0.5, 2.0, rate=0.5))),
        layers.Dense(16, activation="relu", kernel_constraint=wrap(C.UnitNorm()),
                     kernel_regularizer=cydl.regularizers.l2(1e-3) if fused else
                     _PyL1L2(l2=1e-3)),
        layers.Dense(5, activation="softmax", kernel_constraint=wrap(C.MaxNorm(1.0)))])


@pytest.mark.parametrize("opt", ["sgd", "adam", "clipnorm"])
def test_keras_constraints_run_fused_with_the_same_numbers(opt):
    """MaxNorm/UnitNorm/MinMaxNorm/NonNeg (the book's max-norm) stay on the fused path:
    the step projects the weights after every update."""
    cydl.config.set_floatx("float64")
    x, y = DATA
    results = []
    for fused in (True, False):
        model = _constrained(fused)
        optimizer = cydl.optimizers.SGD(0.05, momentum=0.9, clipnorm=0.5) \
            if opt == "clipnorm" else opt
        model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                      metrics=["accuracy"])
        cydl.utils.set_random_seed(3)
        h = model.fit(x, y, epochs=3, batch_size=50, validation_split=0.1, verbose=0)
        assert model._runner(train=True).fused is fused
        results.append((h.history, model.get_weights()))
    (h1, w1), (h2, w2) = results
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-10, err_msg=key)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    k1 = w1[0]
    assert np.linalg.norm(k1, axis=0).max() <= 0.5 + 1e-9     # each unit's incoming weights
    assert (w1[1] >= 0).all()


def test_a_norm_across_rows_takes_the_general_path():
    # axis=1 of a Dense kernel runs across non-contiguous entries of the flat buffer
    model = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(
        3, kernel_constraint=cydl.constraints.MaxNorm(1.0, axis=1))])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((8, 4)), np.ones((8, 3)), epochs=2, verbose=0)
    assert not model._runner(train=True).fused
    assert np.linalg.norm(model.get_weights()[0], axis=1).max() <= 1 + 1e-6

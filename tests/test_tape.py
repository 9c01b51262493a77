"""GradientTape (tf.GradientTape's interface) and the custom training loop of the
book's chapter 12: tape.watch, intermediate Tensors, persistent tapes, nested
sources, model.losses, cydl.losses under the tape and optimizer.apply_gradients.
Oracles: PyTorch autograd, model.fit itself, and Keras 3 for model.losses."""
import os
import warnings

import numpy as np
import pytest

import cydl
from cydl import layers, ops

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="torch is the gradient oracle")


@pytest.fixture(autouse=True)
def _float64():
    cydl.config.set_floatx("float64")


def _mlp(seed, reg=None, act="elu"):
    cydl.utils.set_random_seed(seed)
    return cydl.Sequential([layers.Input((5,)),
                            layers.Dense(7, activation=act, kernel_regularizer=reg),
                            layers.Dense(1)])


def _twin(model, torch, act):
    """The same MLP in PyTorch, float64, with the model's current weights."""
    (w1, b1, w2, b2) = [torch.tensor(np.array(w), requires_grad=True)
                        for w in model.get_weights()]

    def forward(x):
        return getattr(torch.nn.functional, act)(x @ w1 + b1) @ w2 + b2
    return forward, [w1, b1, w2, b2]


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)), rng.normal(size=(n, 1))


def _custom_loop(model, optimizer, X, Y, steps, batch, loss_fn=cydl.losses.mean_squared_error):
    """The book's ch. 12 loop, as written there (ops.mean for tf.reduce_mean, and the
    Python sum of model.losses for tf.add_n)."""
    for step in range(steps):
        xb, yb = X[step * batch:(step + 1) * batch], Y[step * batch:(step + 1) * batch]
        with cydl.GradientTape() as tape:
            y_pred = model(xb, training=True)
            main_loss = ops.mean(loss_fn(yb, y_pred))
            loss = main_loss + sum(model.losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))


# ----------------------------------------------------------------- the custom loop
@pytest.mark.parametrize("opt", [lambda: cydl.optimizers.SGD(0.05, momentum=0.9),
                                 lambda: cydl.optimizers.Adam(0.01),
                                 lambda: cydl.optimizers.RMSprop(0.01, clipnorm=0.5)])
def test_custom_loop_matches_fit(opt):
    """Five steps of the custom loop on a never-compiled model = five fit steps
    (L2 penalty included: fit puts it in the loss, the loop through model.losses)."""
    X, Y = _data()
    fitted, looped = _mlp(1, cydl.regularizers.L2(0.05)), _mlp(1, cydl.regularizers.L2(0.05))
    fitted.compile(loss="mse", optimizer=opt())
    fitted.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    optimizer = opt()
    _custom_loop(looped, optimizer, X, Y, 5, 8)
    assert not looped.compiled and int(optimizer.iterations.value) == 5
    for a, b in zip(fitted.get_weights(), looped.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def test_custom_loop_matches_torch(torch):
    X, Y = _data()
    model = _mlp(2, cydl.regularizers.L2(0.01), act="tanh")
    forward, params = _twin(model, torch, "tanh")
    sgd = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    for step in range(5):
        xb = torch.from_numpy(X[step * 8:(step + 1) * 8])
        yb = torch.from_numpy(Y[step * 8:(step + 1) * 8])
        sgd.zero_grad()
        loss = torch.mean((forward(xb) - yb) ** 2) + 0.01 * torch.sum(params[0] ** 2)
        loss.backward()
        sgd.step()
    _custom_loop(model, cydl.optimizers.SGD(0.05, momentum=0.9), X, Y, 5, 8)
    for got, want in zip(model.get_weights(), params):
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_one_optimizer_over_several_models():
    """Adam over the variables of two models at once = one Adam per model."""
    X, Y = _data()
    a1, a2, b1, b2 = _mlp(3), _mlp(4), _mlp(3), _mlp(4)
    shared, own1, own2 = (cydl.optimizers.Adam(0.01) for _ in range(3))
    for step in range(3):
        with cydl.GradientTape(persistent=True) as tape:
            loss = ops.mean(ops.square(a1(X, training=True) - Y)) + \
                ops.mean(ops.square(a2(X, training=True) + Y))
        variables = a1.trainable_variables + a2.trainable_variables
        shared.apply_gradients(zip(tape.gradient(loss, variables), variables))
        for model, opt, sign in ((b1, own1, -1), (b2, own2, 1)):
            with cydl.GradientTape() as tape:
                loss = ops.mean(ops.square(model(X, training=True) + sign * Y))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
    for a, b in zip(a1.get_weights() + a2.get_weights(), b1.get_weights() + b2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_apply_gradients_then_fit_keeps_the_optimizer_state():
    """Slots follow the variables: 2 loop steps then 3 fit steps = 5 fit steps."""
    X, Y = _data()
    ref, mixed = _mlp(5), _mlp(5)
    ref.compile(loss="mse", optimizer=cydl.optimizers.Adam(0.01))
    ref.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    opt = cydl.optimizers.Adam(0.01)
    _custom_loop(mixed, opt, X, Y, 2, 8)
    mixed.compile(loss="mse", optimizer=opt)
    mixed.fit(X[16:], Y[16:], batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert int(opt.iterations.value) == 5
    for a, b in zip(ref.get_weights(), mixed.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def test_apply_gradients_checks_its_input():
    model = _mlp(0)
    opt = cydl.optimizers.SGD(0.1)
    k, b = model.layers[0].kernel, model.layers[0].bias
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply_gradients([(None, k)])
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        opt.apply_gradients([(np.zeros(2), k)])
    with pytest.raises(TypeError, match="not a Variable"):
        opt.apply_gradients([(np.zeros(3), np.zeros(3))])
    before = b.numpy()
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients([(np.ones(k.shape), k), (None, b)])
    np.testing.assert_array_equal(b.numpy(), before)      # skipped, as in Keras


def test_model_losses_match_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="Keras 3 is the API oracle")
    ours = _mlp(0, cydl.regularizers.L1L2(l1=0.01, l2=0.02))
    theirs = keras.Sequential([keras.Input((5,)), keras.layers.Dense(
        7, kernel_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.02)),
        keras.layers.Dense(1)])
    theirs.set_weights(ours.get_weights())
    assert len(ours.losses) == len(theirs.losses) == 1
    np.testing.assert_allclose(float(ours.losses[0]),
                               float(keras.ops.convert_to_numpy(theirs.losses[0])), rtol=1e-6)
    ours.layers[0].trainable = False          # Keras: only trainable weights count
    assert ours.losses == []


# ----------------------------------------------------------------- the tape itself
def test_watch_gives_gradients_wrt_model_inputs(torch):
    model = _mlp(6, act="tanh")
    X, Y = _data(6)
    for x in (X, X.astype(np.float32)):      # a float32 array is cast on the tape
        with cydl.GradientTape() as tape:
            tape.watch(x)
            loss = ops.sum(ops.square(model(x) - Y))
        got = tape.gradient(loss, x)
        forward, _ = _twin(model, torch, "tanh")
        xt = torch.tensor(X, requires_grad=True)
        torch.sum((forward(xt) - torch.from_numpy(Y)) ** 2).backward()
        assert got.dtype == x.dtype and got.shape == x.shape
        np.testing.assert_allclose(got, xt.grad.numpy(), rtol=1e-5 if x is not X else 1e-10)


def test_gradient_wrt_intermediate_tensor_and_vjp(torch):
    model = _mlp(7, act="tanh")
    X, Y = _data(6)
    seed = np.random.default_rng(1).normal(size=(6, 1))
    with cydl.GradientTape(persistent=True) as tape:
        h = model.layers[0](X)
        out = model.layers[1](h)
        loss = ops.mean(ops.square(out - Y))
    forward, (w1, b1, w2, b2) = _twin(model, torch, "tanh")
    ht = torch.tanh(torch.from_numpy(X) @ w1 + b1)
    ht.retain_grad()
    outt = ht @ w2 + b2
    outt.retain_grad()
    torch.mean((outt - torch.from_numpy(Y)) ** 2).backward(retain_graph=True)
    np.testing.assert_allclose(tape.gradient(loss, h), ht.grad.numpy(), rtol=1e-10)
    # a non-scalar target is summed; output_gradients weight it (a VJP)
    np.testing.assert_allclose(tape.gradient(out, model.layers[1].bias), [6.0])
    w1.grad = None
    outt.backward(torch.from_numpy(seed))
    np.testing.assert_allclose(tape.gradient(out, model.layers[0].kernel, output_gradients=seed),
                               w1.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(tape.gradient(loss, loss), 1.0)


def test_persistent_and_non_persistent():
    model = _mlp(8)
    X, Y = _data(4)
    with cydl.GradientTape(persistent=True) as tape:
        loss = ops.mean(ops.square(model(X) - Y))
    first = tape.gradient(loss, model.trainable_variables)
    second = tape.gradient(loss, model.trainable_variables)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    with cydl.GradientTape() as tape:
        loss = ops.mean(ops.square(model(X) - Y))
    tape.gradient(loss, model.trainable_variables)
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.gradient(loss, model.trainable_variables)


def test_watch_accessed_variables_false():
    model = _mlp(9)
    X, Y = _data(4)
    kernel = model.layers[1].kernel
    with cydl.GradientTape() as tape:
        loss = ops.mean(ops.square(model(X) - Y))
    want = tape.gradient(loss, kernel)
    with cydl.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(kernel)
        loss = ops.mean(ops.square(model(X) - Y))
    grads = tape.gradient(loss, model.trainable_variables)
    assert [g is None for g in grads] == [True, True, False, True]
    np.testing.assert_allclose(grads[2], want, rtol=1e-12)


def test_nested_sources_and_unconnected():
    model = _mlp(10)
    X, Y = _data(4)
    other = np.ones(3)
    k, b = model.layers[0].kernel, model.layers[0].bias
    with cydl.GradientTape(persistent=True) as tape:
        tape.watch(other)
        loss = ops.mean(ops.square(model(X) - Y))
    flat = tape.gradient(loss, [k, b])
    nested = tape.gradient(loss, {"first": (k, [b]), "none": other})
    assert set(nested) == {"first", "none"} and isinstance(nested["first"], tuple)
    np.testing.assert_array_equal(nested["first"][0], flat[0])
    np.testing.assert_array_equal(nested["first"][1][0], flat[1])
    assert nested["none"] is None
    zero = tape.gradient(loss, [other], unconnected_gradients="zero")[0]
    np.testing.assert_array_equal(zero, np.zeros(3))
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(loss, k, unconnected_gradients="ones")
    with pytest.raises(TypeError, match="watch"):
        tape.watch([1.0, 2.0])
    with pytest.raises(TypeError, match="int64"):
        tape.watch(np.arange(3))


def test_tape_records_after_predict_built_the_fast_path():
    """model(x) without training=True under a tape, after predict() compiled the
    fast inference path: the call must still be recorded."""
    model = _mlp(11)
    X, Y = _data(4)
    model.compile(loss="mse", optimizer="sgd")
    model.predict(X, verbose=0)
    grads = []
    for training in (None, True):
        with cydl.GradientTape() as tape:
            loss = ops.mean(ops.square(model(X, training=training) - Y))
        grads.append(tape.gradient(loss, model.trainable_variables))
    for a, b in zip(*grads):
        assert a is not None
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_stop_recording():
    model = _mlp(12)
    X, _ = _data(4)
    with cydl.GradientTape() as tape:
        with tape.stop_recording():
            frozen = model(X)
        loss = ops.sum(model(X)) + ops.sum(frozen)
    with cydl.GradientTape() as tape2:
        ref = ops.sum(model(X))
    np.testing.assert_allclose(tape.gradient(loss, model.layers[1].bias),
                               tape2.gradient(ref, model.layers[1].bias))


# ----------------------------------------------------------------- losses on the tape
LOSSES = {
    "mean_squared_error": (lambda t, y, p: torch_mean(t, (p - y) ** 2), "real"),
    "mean_absolute_error": (lambda t, y, p: torch_mean(t, (p - y).abs()), "real"),
    "huber": (lambda t, y, p: t.nn.functional.huber_loss(p, y, delta=1.0), "real"),
    "binary_crossentropy": (lambda t, y, p: t.nn.functional.binary_cross_entropy(
        t.sigmoid(p), y), "binary"),
    "categorical_crossentropy": (lambda t, y, p: t.nn.functional.cross_entropy(
        p, y.argmax(-1)), "onehot"),
}


def torch_mean(t, v):
    return t.mean(v)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("form", ["function", "class"])
def test_loss_functions_differentiate_like_torch(name, form, torch):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4))
    oracle, kind = LOSSES[name]
    y = {"real": rng.normal(size=(6, 4)) * 2,
         "binary": rng.integers(0, 2, (6, 4)).astype(float),
         "onehot": np.eye(4)[rng.integers(0, 4, 6)]}[kind]
    fn = getattr(cydl.losses, name)
    if form == "class":
        cls = {"mean_squared_error": "MeanSquaredError", "mean_absolute_error":
               "MeanAbsoluteError", "huber": "Huber", "binary_crossentropy":
               "BinaryCrossentropy", "categorical_crossentropy":
               "CategoricalCrossentropy"}[name]
        loss_obj = getattr(cydl.losses, cls)()

        def fn(yt, yp):
            return loss_obj(yt, yp)
    with cydl.GradientTape() as tape:
        tape.watch(logits)
        p = ops.sigmoid(logits) if kind == "binary" else \
            ops.softmax(logits) if kind == "onehot" else logits
        loss = ops.mean(fn(y, p))
    pt = torch.tensor(logits, requires_grad=True)
    want = oracle(torch, torch.from_numpy(y), pt)
    want.backward()
    np.testing.assert_allclose(float(loss), want.item(), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(loss, logits), pt.grad.numpy(),
                               rtol=1e-5, atol=1e-12)


def test_sparse_crossentropy_from_logits_differentiates(torch):
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(5, 3)), rng.integers(0, 3, 5)
    with cydl.GradientTape() as tape:
        tape.watch(logits)
        loss = ops.mean(cydl.losses.sparse_categorical_crossentropy(labels, logits,
                                                                    from_logits=True))
    pt = torch.tensor(logits, requires_grad=True)
    torch.nn.functional.cross_entropy(pt, torch.from_numpy(labels)).backward()
    np.testing.assert_allclose(tape.gradient(loss, logits), pt.grad.numpy(), rtol=1e-10)


def test_losses_on_arrays_stay_numpy():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = cydl.losses.mean_squared_error(np.zeros((2, 3)), np.ones((2, 3)))
    assert type(out) is np.ndarray and out.dtype == np.float64
    assert isinstance(cydl.losses.MeanSquaredError()(np.zeros(3), np.ones(3)), float)

"""activity_regularizer on layers, as Keras 3: the penalty of the layer's output over
the batch size joins the loss (training and evaluation), and its gradient the
output's. L1/L2/L1L2 ones stay in the fused step (the plan node's output gradient
starts with the penalty's, the plan sums the penalty for the reported loss); the
fused step and the graph runner give the same numbers; both agree with Keras 3 and
with torch's autograd."""

import numpy as np
import pytest

import cydl
from cydl import layers, ops, regularizers as R
from _keras_oracle import run_keras  # tests/ is on sys.path

X = np.random.default_rng(0).standard_normal((96, 6))
LABELS = np.random.default_rng(1).integers(0, 4, 96)


class Gate(layers.Layer):
    """x * sigmoid(x W + b): traced into a Dense node and a Multiply merge."""

    def build(self, input_shape):
        n = input_shape[-1]
        self.w = self.add_weight("w", (n, n))
        self.b = self.add_weight("b", (n,), initializer="zeros")

    def call(self, x):
        return ops.multiply(x, ops.sigmoid(ops.add(ops.matmul(x, self.w), self.b)))


class Identity(layers.Layer):
    def call(self, x):
        return x


class Half(R.Regularizer):
    """Not an L1/L2: the plan cannot apply it, the graph runner can."""

    def __call__(self, w):
        return 0.5 * float(np.sum(np.asarray(w, np.float64) ** 4))

    def gradient(self, w):
        return 2.0 * np.asarray(w) ** 3


def _seq(hidden, out="softmax", out_reg=None):
    return lambda: cydl.Sequential([layers.Input((6,)), *hidden(),
                                    layers.Dense(4, activation=out,
                                                 activity_regularizer=out_reg)])


def _functional_fan_out():
    x = layers.Input((6,))
    h = layers.Dense(8, activation="tanh", activity_regularizer=R.L2(0.05))(x)
    a = layers.Dense(5, activation="relu")(h)
    b = layers.Dense(5, activation="elu")(h)
    s = layers.Add(activity_regularizer=R.L1(0.01))([a, b])
    c = layers.Concatenate()([s, h])
    return cydl.Model(x, layers.Dense(4, activation="softmax")(c))


# name -> (model maker, loss, whether it stays fused)
NETS = {
    "hidden-l1": (_seq(lambda: [layers.Dense(8, activation="sigmoid",
                                             activity_regularizer=R.L1(1e-2))]),
                  "sparse_categorical_crossentropy", True),
    "two-hidden-l1l2-l2": (_seq(lambda: [
        layers.Dense(8, activation="relu", activity_regularizer=R.L1L2(1e-2, 1e-2)),
        layers.Dense(6, activation="elu", activity_regularizer="l2")]),
        "sparse_categorical_crossentropy", True),
    "activation-batchnorm-dropout": (_seq(lambda: [
        layers.Dense(8), layers.Activation("tanh", activity_regularizer=R.L1(1e-2)),
        layers.BatchNormalization(activity_regularizer=R.L2(1e-2)),
        layers.Dropout(0.2, activity_regularizer=R.L1(1e-3))]),
        "sparse_categorical_crossentropy", True),
    "output-mse": (_seq(lambda: [layers.Dense(8, activation="tanh")], out="tanh",
                        out_reg=R.L1L2(0.02, 0.1)), "mse", True),
    "output-linear-mse": (_seq(lambda: [layers.Dense(8, activation="tanh")], out=None,
                               out_reg=R.L2(0.1)), "mse", True),
    "fan-out-and-merge": (_functional_fan_out, "sparse_categorical_crossentropy", True),
    "custom-layer": (_seq(lambda: [layers.Dense(6, activation="tanh"),
                                   Gate(activity_regularizer=R.L2(0.1))]),
                     "sparse_categorical_crossentropy", True),
    "identity-custom-layer": (_seq(lambda: [layers.Dense(6, activation="tanh"),
                                            Identity(activity_regularizer=R.L1(0.02))]),
                              "sparse_categorical_crossentropy", True),
    # the loss takes the logits of this softmax: the penalty of the probabilities
    # would have to pass the folded softmax first, so the graph runner trains it
    "output-softmax-ce": (lambda: cydl.Sequential([
        layers.Input((6,)), layers.Dense(8, activation="tanh"),
        layers.Dense(4, activation="softmax", activity_regularizer=R.L2(0.1))]),
        "sparse_categorical_crossentropy", False),
    "custom-regularizer": (_seq(lambda: [layers.Dense(8, activation="tanh",
                                                      activity_regularizer=Half())]),
                           "sparse_categorical_crossentropy", False),
    # an activation after a regularized Dense would change what the penalty reads
    "activation-after-regularized": (_seq(lambda: [
        layers.Dense(8, activity_regularizer=R.L1(0.01)), layers.Activation("relu")]),
        "sparse_categorical_crossentropy", False),
}


def _targets(loss):
    return LABELS if loss.startswith("sparse") else np.eye(4)[LABELS]


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("net", list(NETS))
def test_fused_and_graph_runner_agree(net, opt):
    cydl.config.set_floatx("float64")
    make, loss, fused = NETS[net]
    y = _targets(loss)
    results = []
    for eager in (False, True):
        cydl.utils.set_random_seed(7)
        model = make()
        model.compile(loss=loss, optimizer=cydl.optimizers.SGD(0.1, momentum=0.9)
                      if opt == "sgd" else "adam", metrics=["accuracy"], run_eagerly=eager)
        cydl.utils.set_random_seed(3)
        h = model.fit(X, y, epochs=3, batch_size=20, validation_split=0.2, verbose=0)
        assert model._runner(train=True).fused is (fused and not eager), net
        results.append((h.history, model.get_weights(),
                        model.evaluate(X, y, batch_size=32, verbose=0)))
    (h1, w1, e1), (h2, w2, e2) = results
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-10, err_msg=key)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(e1, e2, rtol=1e-10)


def test_the_penalty_is_not_dropped_on_the_fused_path():
    """With and without the regularizer, the fused step must train differently, and
    its reported loss must be the data loss plus penalty / batch size."""
    cydl.config.set_floatx("float64")
    losses = []
    for reg in (None, R.L1(0.05)):
        cydl.utils.set_random_seed(7)
        model = cydl.Sequential([layers.Input((6,)), Gate(activity_regularizer=reg),
                                 layers.Dense(4, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
        w = model.get_weights()
        logs = model.train_on_batch(X[:16], LABELS[:16], return_dict=True)
        assert model._runner(train=True).fused
        losses.append(logs["loss"])
    g = X[:16] * (1 / (1 + np.exp(-(X[:16] @ w[0] + w[1]))))
    z = g @ w[2] + w[3]
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    data = -np.log(p[np.arange(16), LABELS[:16]]).mean()
    np.testing.assert_allclose(losses[0], data, rtol=1e-12)
    np.testing.assert_allclose(losses[1], data + 0.05 * np.abs(g).sum() / 16, rtol=1e-12)


@pytest.mark.parametrize("eager", [False, True])
def test_gradients_match_torch(eager):
    """One SGD step with lr 1 gives the gradient: against torch's autograd of
    cross-entropy + l1 sum|h1| / B + l2 sum h2^2 / B (Keras' penalty over the batch)."""
    torch = pytest.importorskip("torch")
    cydl.config.set_floatx("float64")
    cydl.utils.set_random_seed(5)
    model = cydl.Sequential([
        layers.Input((6,)),
        layers.Dense(8, activation="sigmoid", activity_regularizer=R.L1(0.03)),
        layers.Dense(5, activation="tanh", activity_regularizer=R.L2(0.07)),
        layers.Dense(4, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=cydl.optimizers.SGD(1.0), run_eagerly=eager)
    before = model.get_weights()
    model.train_on_batch(X[:24], LABELS[:24])
    assert model._runner(train=True).fused is not eager
    grads = [b - a for a, b in zip(model.get_weights(), before)]
    T = [torch.tensor(w, requires_grad=True) for w in before]
    x = torch.tensor(X[:24])
    h1 = torch.sigmoid(x @ T[0] + T[1])
    h2 = torch.tanh(h1 @ T[2] + T[3])
    loss = torch.nn.functional.cross_entropy(h2 @ T[4] + T[5], torch.tensor(LABELS[:24]))
    loss = loss + 0.03 * h1.abs().sum() / 24 + 0.07 * (h2 ** 2).sum() / 24
    loss.backward()
    for g, t in zip(grads, T):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-9, atol=1e-13)


def test_evaluate_includes_the_penalty_of_each_batch():
    cydl.config.set_floatx("float64")
    cydl.utils.set_random_seed(2)
    model = cydl.Sequential([layers.Input((6,)),
                             layers.Dense(5, activation="tanh",
                                          activity_regularizer=R.L1L2(0.02, 0.03)),
                             layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    w = model.get_weights()
    y = X[:, :1]
    got = model.evaluate(X, y, batch_size=40, verbose=0)
    assert model._runner(train=False, with_head=True).fused
    total = 0.0
    for start in range(0, 96, 40):
        xb, yb = X[start:start + 40], y[start:start + 40]
        h = np.tanh(xb @ w[0] + w[1])
        mse = ((h @ w[2] + w[3] - yb) ** 2).mean()
        penalty = (0.02 * np.abs(h).sum() + 0.03 * (h ** 2).sum()) / len(xb)
        total += (mse + penalty) * len(xb)
    np.testing.assert_allclose(got, total / 96, rtol=1e-12)


def test_layer_losses_hold_the_activity_penalty_of_the_last_call():
    cydl.config.set_floatx("float64")
    layer = layers.Dense(3, activation="relu", activity_regularizer=R.L2(0.5),
                         kernel_regularizer=R.L1(0.1))
    out = layer(X[:10])
    kernel_penalty, activity = layer.losses
    np.testing.assert_allclose(float(kernel_penalty), 0.1 * np.abs(layer.kernel.numpy()).sum())
    np.testing.assert_allclose(float(activity), 0.5 * (out ** 2).sum() / 10, rtol=1e-12)
    model = cydl.Sequential([layers.Input((6,)), layer, layers.Dense(2)])
    model(X[:4])
    assert len(model.losses) == 2     # the sublayer's, from the model's call
    # in a custom training loop the penalty differentiates
    with cydl.GradientTape() as tape:
        model(X[:4], training=True)
        total = model.losses[1]
    grad = tape.gradient(total, [layer.kernel])[0]
    h = np.maximum(X[:4] @ layer.kernel.numpy() + layer.bias.numpy(), 0)
    np.testing.assert_allclose(grad, X[:4].T @ (0.5 * 2 * h / 4 * (h > 0)), rtol=1e-10,
                               atol=1e-14)


def test_config_round_trip_and_bad_values():
    layer = layers.Dense(3, activity_regularizer=R.L1L2(0.01, 0.02))
    config = layer.get_config()
    assert config["activity_regularizer"]["class_name"] == "L1L2"
    again = layers.Dense.from_config(config)
    assert isinstance(again.activity_regularizer, R.L1L2)
    assert again.activity_regularizer.get_config() == {"l1": 0.01, "l2": 0.02}
    assert "activity_regularizer" not in layers.Dense(3).get_config()    # as Keras
    act = layers.Activation("relu", activity_regularizer="l1")
    assert isinstance(layers.Activation.from_config(act.get_config()).activity_regularizer,
                      R.L1)
    with pytest.raises(ValueError, match="l3"):
        layers.Dense(3, activity_regularizer="l3")
    with pytest.raises(ValueError, match="l1"):
        layers.Dense(3, activity_regularizer=R.L1(-1.0))


def test_clone_and_deepcopy_keep_the_regularizer_and_train_the_same():
    import copy
    cydl.config.set_floatx("float64")
    cydl.utils.set_random_seed(1)
    model = cydl.Sequential([layers.Input((6,)),
                             layers.Dense(5, activation="relu",
                                          activity_regularizer=R.L1(0.05)),
                             layers.Dense(4, activation="softmax")])
    model(X[:3])        # a call: the layer holds its activity losses
    twin = copy.deepcopy(model)
    clone = cydl.models.clone_model(model)
    clone.set_weights(model.get_weights())
    logs = []
    for m in (model, twin, clone):
        m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
        logs.append(m.fit(X, LABELS, epochs=2, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(logs[1], logs[0], rtol=1e-12)
    np.testing.assert_allclose(logs[2], logs[0], rtol=1e-12)


def test_plan_spec_checks_the_factors():
    from cydl._kernels import _plan_spec
    node = {"kind": 0, "n_in": 2, "n_out": 2, "act": 0, "trainable": True, "w": 0}
    out = {"node": 1, "loss_kind": 6, "acc_mode": 0}
    two = [dict(node, ar_l1=0.1), dict(node, src=[0], w=4)]
    specs, _, _ = _plan_spec._checked(two, [out], [(0, 2)], 8, 8, 2)
    assert specs[0]["ar_slot"] == 0 and specs[0]["accum"]      # d starts with it
    assert specs[1]["ar_slot"] == -1
    for bad in (-1.0, float("inf")):
        with pytest.raises(ValueError, match="activity regularizer"):
            _plan_spec._checked([dict(node, ar_l2=bad), two[1]], [out], [(0, 2)], 8, 8, 2)
    with pytest.raises(ValueError, match="logits"):
        _plan_spec._checked([node, dict(two[1], ar_l1=0.1)],
                            [dict(out, loss_kind=0, on_logits=True)], [(0, 2)], 8, 8, 2)


# ---------------------------------------------------------------- Keras 3 itself
_KERAS = """
L = keras.layers
R = keras.regularizers
x = np.array(data["x"]); y = np.array(data["y"])
m = keras.Sequential([L.Input((6,)),
                      L.Dense(8, activation="sigmoid", activity_regularizer=R.L1(0.01)),
                      L.Dense(5, activation="relu", activity_regularizer=R.L1L2(0.01, 0.02)),
                      L.Dense(3, activation="tanh", activity_regularizer=R.L2(0.05))])
m.set_weights([np.array(w) for w in data["weights"]])
m.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1), metrics=["mae"])
h = m.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0,
          validation_data=(x[:30], y[:30]))
result = {"history": {k: [float(v) for v in vs] for k, vs in h.history.items()},
          "weights": [w.tolist() for w in m.get_weights()],
          "evaluate": [float(v) for v in np.atleast_1d(m.evaluate(x, y, batch_size=25,
                                                                  verbose=0))]}
"""


def test_training_and_evaluation_match_keras():
    """Same initial weights, SGD, unshuffled batches (the last one partial): History
    (loss, mae, val_*), the final weights and evaluate. Keras' losses compute in float32
    even under floatx float64, so the agreement is float32's."""
    cydl.config.set_floatx("float64")
    y = np.tanh(X[:, :3] * 0.7)
    cydl.utils.set_random_seed(4)
    model = cydl.Sequential([
        layers.Input((6,)),
        layers.Dense(8, activation="sigmoid", activity_regularizer=R.L1(0.01)),
        layers.Dense(5, activation="relu", activity_regularizer=R.L1L2(0.01, 0.02)),
        layers.Dense(3, activation="tanh", activity_regularizer=R.L2(0.05))])
    weights = [w.tolist() for w in model.get_weights()]
    model.compile(loss="mse", optimizer=cydl.optimizers.SGD(0.1), metrics=["mae"])
    h = model.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0,
                  validation_data=(X[:30], y[:30]))
    assert model._runner(train=True).fused
    mine = model.evaluate(X, y, batch_size=25, verbose=0)
    theirs = run_keras(_KERAS, {"x": X.tolist(), "y": y.tolist(), "weights": weights})
    assert set(h.history) == set(theirs["history"])
    for key in h.history:
        np.testing.assert_allclose(h.history[key], theirs["history"][key], rtol=1e-6,
                                   err_msg=key)
    for a, b in zip(model.get_weights(), theirs["weights"]):
        np.testing.assert_allclose(a, np.array(b), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(mine, theirs["evaluate"], rtol=1e-6)
    # the control: the penalties are a visible part of Keras' loss
    cydl.utils.set_random_seed(4)
    plain = cydl.Sequential([layers.Input((6,)), layers.Dense(8, activation="sigmoid"),
                             layers.Dense(5, activation="relu"),
                             layers.Dense(3, activation="tanh")])
    plain.compile(loss="mse", optimizer=cydl.optimizers.SGD(0.1))
    h0 = plain.fit(X, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert abs(h0.history["loss"][0] - theirs["history"]["loss"][0]) > 1e-3

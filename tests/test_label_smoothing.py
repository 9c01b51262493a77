"""label_smoothing of the cross-entropies: the loss kernels against their NumPy twin
and against torch's autograd, the loss objects and training against Keras 3 itself,
and the fused step against the graph runner.

Keras smooths the targets before the loss: y (1 - ls) + ls / C for the categorical
losses, y (1 - ls) + ls / 2 for the binary one. Keras 3's sparse loss has no such
argument; cydl's smooths the one-hot labels as the categorical one does, which is
torch.nn.functional.cross_entropy(label_smoothing=...).
"""

import numpy as np
import pytest

import cydl
from cydl import _ops as ops
from cydl import layers, losses
from cydl._ops import _reference as ref
from conftest import DTYPES, THREADS, assert_close
from _keras_oracle import run_keras  # tests/ is on sys.path

CE_KINDS = ["sparse_softmax_ce", "softmax_ce", "sigmoid_bce", "sparse_ce_prob", "ce_prob",
            "bce_prob"]
ACC = {"sparse_softmax_ce": "sparse", "sparse_ce_prob": "sparse", "softmax_ce": "categorical",
       "ce_prob": "categorical", "sigmoid_bce": "binary", "bce_prob": "binary"}


def _case(kind, B, C, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if kind in ("sparse_ce_prob", "ce_prob"):
        P = rng.dirichlet(np.ones(C), size=B)
    elif kind == "bce_prob":
        P = rng.uniform(0.02, 0.98, (B, C))
    else:
        P = 2 * rng.standard_normal((B, C))
    if kind.startswith("sparse"):
        Y = rng.integers(0, C, B)
    elif kind in ("softmax_ce", "ce_prob"):
        Y = np.eye(C)[rng.integers(0, C, B)]
    else:
        Y = rng.integers(0, 2, (B, C)).astype(float)
    return np.asfortranarray(P.astype(dtype)), Y if kind.startswith("sparse") else Y.astype(dtype)


# ---------------------------------------------------------------- the kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("kind", CE_KINDS)
@pytest.mark.parametrize("ls", [0.1, 0.35, 1.0])
def test_smoothed_kernel_matches_reference(dtype, n_threads, kind, ls):
    P, Y = _case(kind, 67, 6, dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2, len(P))
    thresh = 0.0 if kind == "sigmoid_bce" else 0.5
    for weights in (None, sw):
        s1, g1 = ops.loss_forward_backward(kind, P, Y, weights, acc_mode=ACC[kind],
                                           thresh=thresh, n_threads=n_threads,
                                           label_smoothing=ls)
        s2, g2 = ref.loss_forward_backward(kind, P, Y, weights, acc_mode=ACC[kind],
                                           thresh=thresh, label_smoothing=ls)
        rtol = 1e-5 if dtype == np.float32 else 1e-11
        np.testing.assert_allclose(s1, s2, rtol=rtol, atol=rtol)
        assert_close(g1, g2, dtype)
        # smoothing changes the loss, never the accuracy count
        s0, _ = ops.loss_forward_backward(kind, P, Y, weights, acc_mode=ACC[kind],
                                          thresh=thresh, n_threads=n_threads)
        assert s1[1] == s0[1]
        assert abs(s1[0] - s0[0]) > 1e-3


def _torch_loss(torch, kind, P, Y, ls):
    """The Keras formula, or torch's own smoothed cross-entropy, written in torch."""
    F = torch.nn.functional
    p = torch.tensor(np.ascontiguousarray(P), dtype=torch.float64, requires_grad=True)
    C = P.shape[1]
    if kind == "sparse_softmax_ce":       # torch's own label smoothing: independent
        loss = F.cross_entropy(p, torch.tensor(Y), label_smoothing=ls)
    elif kind == "softmax_ce":
        loss = F.cross_entropy(p, torch.tensor(Y), label_smoothing=ls)
    else:
        y = torch.tensor(np.eye(C)[Y] if kind.startswith("sparse") else Y, dtype=torch.float64)
        share = 2 if kind in ("sigmoid_bce", "bce_prob") else C
        t = y * (1 - ls) + ls / share
        if kind == "sigmoid_bce":
            loss = F.binary_cross_entropy_with_logits(p, t)
        elif kind == "bce_prob":
            q = p.clamp(1e-7, 1 - 1e-7)
            loss = -(t * q.log() + (1 - t) * (1 - q).log()).mean()
        else:
            q = (p / p.sum(dim=1, keepdim=True)).clamp(1e-7, 1 - 1e-7)
            loss = -(t * q.log()).sum(dim=1).mean()
    loss.backward()
    return float(loss.detach()), p.grad.numpy()


@pytest.mark.parametrize("kind", CE_KINDS)
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_smoothed_loss_and_gradient_match_torch(kind, ls):
    torch = pytest.importorskip("torch")
    P, Y = _case(kind, 40, 5, np.float64, seed=3)
    stats, G = ops.loss_forward_backward(kind, P, Y, label_smoothing=ls)
    loss, grad = _torch_loss(torch, kind, P, Y, ls)
    np.testing.assert_allclose(stats[0] / len(P), loss, rtol=1e-12)
    np.testing.assert_allclose(G, grad, rtol=1e-10, atol=1e-14)


def test_bad_label_smoothing_is_refused_with_its_value():
    P, Y = _case("softmax_ce", 4, 3, np.float64)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="label_smoothing"):
            ops.loss_forward_backward("softmax_ce", P, Y, label_smoothing=bad)
        with pytest.raises(ValueError, match="label_smoothing"):
            losses.CategoricalCrossentropy(label_smoothing=bad)
    with pytest.raises(TypeError, match="label_smoothing"):
        ops.loss_forward_backward("softmax_ce", P, Y, label_smoothing="0.1")
    with pytest.raises(TypeError, match="label_smoothing"):
        losses.BinaryCrossentropy(label_smoothing=None)
    with pytest.raises(ValueError, match="cross-entropies"):
        ops.loss_forward_backward("mse", P, Y, label_smoothing=0.1)


def test_smoothing_reaches_the_plan_outputs_and_is_checked_there():
    from cydl._kernels import _plan_spec
    node = [{"kind": 0, "n_in": 2, "n_out": 2, "act": 0, "trainable": True, "w": 0}]
    out = {"node": 0, "loss_kind": 1, "acc_mode": 0, "smooth": 0.3}
    _, outs, _ = _plan_spec._checked(node, [out], [(0, 2)], 4, 4, 2)
    assert outs[0]["smooth"] == 0.3
    with pytest.raises(ValueError, match="smooth"):
        _plan_spec._checked(node, [dict(out, smooth=1.5)], [(0, 2)], 4, 4, 2)
    with pytest.raises(ValueError, match="smooth"):      # mse takes none
        _plan_spec._checked(node, [dict(out, loss_kind=6)], [(0, 2)], 4, 4, 2)


# ---------------------------------------------------------------- the loss objects
def test_config_holds_label_smoothing_and_round_trips():
    for cls in (losses.CategoricalCrossentropy, losses.BinaryCrossentropy):
        loss = cls(from_logits=True, label_smoothing=0.15)
        config = loss.get_config()
        assert config["label_smoothing"] == 0.15 and config["from_logits"] is True
        again = cls.from_config(config)
        assert again.label_smoothing == 0.15 and again.from_logits
        assert cls().get_config()["label_smoothing"] == 0.0       # as Keras writes it
    sparse = losses.SparseCategoricalCrossentropy(label_smoothing=0.1)
    assert losses.SparseCategoricalCrossentropy.from_config(
        sparse.get_config()).label_smoothing == 0.1
    # Keras' sparse loss has no such argument: an unsmoothed config stays Keras'
    assert "label_smoothing" not in losses.SparseCategoricalCrossentropy().get_config()


def test_sparse_smoothing_is_categorical_smoothing_of_the_one_hot_labels():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, 12)
    logits = rng.standard_normal((12, 4))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    for from_logits, pred in ((True, logits), (False, probs)):
        a = losses.SparseCategoricalCrossentropy(from_logits=from_logits,
                                                 label_smoothing=0.3)(y, pred)
        b = losses.CategoricalCrossentropy(from_logits=from_logits,
                                           label_smoothing=0.3)(np.eye(4)[y], pred)
        np.testing.assert_allclose(a, b, rtol=1e-13)


# ---------------------------------------------------------------- Keras 3 itself
_KERAS_LOSSES = """
result = {}
for name, (cls, kwargs, y, p) in data["losses"].items():
    loss = getattr(keras.losses, cls)(**kwargs)
    result[name] = float(loss(np.array(y), np.array(p)))
fn = data["functions"]
result["fn_cce"] = np.asarray(keras.losses.categorical_crossentropy(
    np.array(fn["y"]), np.array(fn["p"]), label_smoothing=0.25)).tolist()
result["fn_bce"] = np.asarray(keras.losses.binary_crossentropy(
    np.array(fn["yb"]), np.array(fn["pb"]), label_smoothing=0.25)).tolist()

def model(out_act, units):
    return keras.Sequential([keras.layers.Input((5,)),
                             keras.layers.Dense(7, activation="tanh"),
                             keras.layers.Dense(units, activation=out_act)])
for name, spec in data["train"].items():
    m = model(spec["act"], spec["units"])
    m.set_weights([np.array(w) for w in spec["weights"]])
    loss = getattr(keras.losses, spec["loss"])(**spec["kwargs"])
    m.compile(loss=loss, optimizer=keras.optimizers.SGD(0.2), metrics=[spec["metric"]])
    h = m.fit(np.array(data["x"]), np.array(spec["y"]), epochs=3, batch_size=8,
              shuffle=False, verbose=0)
    result["train " + name] = {"history": {k: [float(v) for v in vs]
                                           for k, vs in h.history.items()},
                    "weights": [w.tolist() for w in m.get_weights()]}
"""


def _train_specs():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((40, 5))
    labels = rng.integers(0, 3, 40)
    specs = {
        "cce_softmax": ("softmax", 3, "CategoricalCrossentropy", {"label_smoothing": 0.2},
                        np.eye(3)[labels], "accuracy"),
        "cce_logits": ("linear", 3, "CategoricalCrossentropy",
                       {"label_smoothing": 0.1, "from_logits": True}, np.eye(3)[labels],
                       "categorical_accuracy"),
        "bce_sigmoid": ("sigmoid", 2, "BinaryCrossentropy", {"label_smoothing": 0.3},
                        rng.integers(0, 2, (40, 2)).astype(float), "binary_accuracy"),
        "bce_probs_linear": ("softmax", 2, "BinaryCrossentropy", {"label_smoothing": 0.2},
                             rng.integers(0, 2, (40, 2)).astype(float), "binary_accuracy"),
    }
    return x, specs


@pytest.fixture(scope="module")
def keras_results():
    cydl.config.set_floatx("float64")
    rng = np.random.default_rng(2)
    y3 = np.eye(3)[rng.integers(0, 3, 6)]
    p3 = rng.dirichlet(np.ones(3), 6)
    z3 = rng.standard_normal((6, 3))
    yb = rng.integers(0, 2, (6, 2)).astype(float)
    pb = rng.uniform(0.05, 0.95, (6, 2))
    zb = rng.standard_normal((6, 2))
    loss_cases = {
        "cce": ("CategoricalCrossentropy", {"label_smoothing": 0.2}, y3, p3),
        "cce_logits": ("CategoricalCrossentropy", {"label_smoothing": 0.2, "from_logits": True},
                       y3, z3),
        "bce": ("BinaryCrossentropy", {"label_smoothing": 0.4}, yb, pb),
        "bce_logits": ("BinaryCrossentropy", {"label_smoothing": 0.4, "from_logits": True},
                       yb, zb),
    }
    x, specs = _train_specs()
    train, mine = {}, {}
    for name, (act, units, loss, kwargs, y, metric) in specs.items():
        cydl.utils.set_random_seed(4)
        model = cydl.Sequential([layers.Input((5,)), layers.Dense(7, activation="tanh"),
                                 layers.Dense(units, activation=act)])
        train[name] = {"act": act, "units": units, "loss": loss, "kwargs": kwargs,
                       "y": y.tolist(), "metric": metric,
                       "weights": [w.tolist() for w in model.get_weights()]}
        model.compile(loss=getattr(losses, loss)(**kwargs), optimizer=cydl.optimizers.SGD(0.2),
                      metrics=[metric])
        h = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
        assert model._runner(train=True).fused      # smoothing keeps the compiled step
        mine[name] = (h.history, model.get_weights())
    payload = {"losses": {k: (c, kw, y.tolist(), p.tolist())
                          for k, (c, kw, y, p) in loss_cases.items()},
               "functions": {"y": y3.tolist(), "p": p3.tolist(), "yb": yb.tolist(),
                             "pb": pb.tolist()},
               "x": x.tolist(), "train": train}
    result = run_keras(_KERAS_LOSSES, payload)
    cydl.config.set_floatx("float32")
    return result, loss_cases, (y3, p3, yb, pb), mine


def test_loss_objects_and_functions_match_keras(keras_results):
    result, cases, (y3, p3, yb, pb), _ = keras_results
    for name, (cls, kwargs, y, p) in cases.items():
        # Keras' Loss objects hand back float32 even under floatx float64; the loss
        # functions below stay float64
        np.testing.assert_allclose(getattr(losses, cls)(**kwargs)(y, p), result[name],
                                   rtol=3e-7, err_msg=name)
    # (Keras' binary_crossentropy comes back in float32 as well)
    np.testing.assert_allclose(losses.categorical_crossentropy(y3, p3, label_smoothing=0.25),
                               result["fn_cce"], rtol=1e-12)
    np.testing.assert_allclose(losses.binary_crossentropy(yb, pb, label_smoothing=0.25),
                               result["fn_bce"], rtol=3e-7)


def test_fused_training_with_smoothing_matches_keras(keras_results):
    """Same initial weights, SGD, unshuffled batches: History and final weights. Keras'
    loss objects compute in float32 even under floatx float64 (see above), so its
    gradients, weights and logged means agree to float32's precision only; smoothing
    itself moves the weights by far more (checked below)."""
    result, _, _, mine = keras_results
    for name, (history, weights) in mine.items():
        theirs = result["train " + name]
        assert set(history) == set(theirs["history"]), name
        for key in history:
            np.testing.assert_allclose(history[key], theirs["history"][key], rtol=2e-7,
                                       err_msg=f"{name}: {key}")
        for a, b in zip(weights, theirs["weights"]):
            np.testing.assert_allclose(a, np.array(b), rtol=1e-6, atol=1e-8, err_msg=name)
    # the control: without smoothing, cydl ends far from Keras' smoothed weights
    cydl.config.set_floatx("float64")
    x, specs = _train_specs()
    act, units, loss, kwargs, y, metric = specs["cce_softmax"]
    cydl.utils.set_random_seed(4)
    model = cydl.Sequential([layers.Input((5,)), layers.Dense(7, activation="tanh"),
                             layers.Dense(units, activation=act)])
    model.compile(loss="categorical_crossentropy", optimizer=cydl.optimizers.SGD(0.2))
    model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    gap = max(np.abs(a - np.array(b)).max() for a, b in
              zip(model.get_weights(), result["train cce_softmax"]["weights"]))
    assert gap > 1e-3


# ---------------------------------------------------------------- fused == graph runner
LOSSES = {
    "sparse": (lambda: losses.SparseCategoricalCrossentropy(label_smoothing=0.2), "softmax"),
    "sparse_logits": (lambda: losses.SparseCategoricalCrossentropy(
        from_logits=True, label_smoothing=0.2), "linear"),
    "sparse_probs": (lambda: losses.SparseCategoricalCrossentropy(label_smoothing=0.2),
                     "sigmoid"),
    "cce": (lambda: losses.CategoricalCrossentropy(label_smoothing=0.1), "softmax"),
    "cce_probs": (lambda: losses.CategoricalCrossentropy(label_smoothing=0.1), "sigmoid"),
    "bce": (lambda: losses.BinaryCrossentropy(label_smoothing=0.25), "sigmoid"),
    "bce_logits": (lambda: losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.25),
                   "linear"),
    "bce_probs": (lambda: losses.BinaryCrossentropy(label_smoothing=0.25), "softmax"),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_fused_and_graph_runner_agree(name):
    cydl.config.set_floatx("float64")
    make, act = LOSSES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((150, 6))
    y = rng.integers(0, 4, 150)
    if not name.startswith("sparse"):
        y = np.eye(4)[y]
    results = []
    for eager in (False, True):
        cydl.utils.set_random_seed(3)
        model = cydl.Sequential([layers.Input((6,)), layers.Dense(16, activation="elu"),
                                 layers.Dense(4, activation=act)])
        model.compile(loss=make(), optimizer=cydl.optimizers.SGD(0.1, momentum=0.9),
                      metrics=["accuracy"], run_eagerly=eager)
        cydl.utils.set_random_seed(9)
        h = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0)
        assert model._runner(train=True).fused is not eager
        results.append((h.history, model.get_weights()))
    (h1, w1), (h2, w2) = results
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-10, err_msg=key)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # and smoothing did change the training
    cydl.utils.set_random_seed(3)
    plain = cydl.Sequential([layers.Input((6,)), layers.Dense(16, activation="elu"),
                             layers.Dense(4, activation=act)])
    loss = make()
    loss.label_smoothing = 0.0
    plain.compile(loss=loss, optimizer=cydl.optimizers.SGD(0.1, momentum=0.9))
    cydl.utils.set_random_seed(9)
    h0 = plain.fit(x, y, epochs=1, batch_size=32, validation_split=0.2, verbose=0)
    assert abs(h0.history["loss"][0] - h1["loss"][0]) > 1e-4


def test_custom_training_loop_differentiates_the_smoothed_loss():
    """The taped ops form (what a GradientTape loop uses) against the kernel gradient."""
    cydl.config.set_floatx("float64")
    rng = np.random.default_rng(1)
    z = rng.standard_normal((9, 4))
    y = np.eye(4)[rng.integers(0, 4, 9)]
    loss_fn = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.3)
    with cydl.GradientTape() as tape:
        tape.watch(z)
        loss = loss_fn(y, z)
    grad = tape.gradient(loss, [z])[0]
    stats, G = ops.loss_forward_backward("softmax_ce", z, y, label_smoothing=0.3)
    np.testing.assert_allclose(float(loss), stats[0] / 9, rtol=1e-12)
    np.testing.assert_allclose(grad, G, rtol=1e-10, atol=1e-14)

"""callbacks.GradientStats: the values against PyTorch autodiff and NumPy, the
book's warnings, TensorBoard, and training left exactly as without it."""
import warnings

import numpy as np
import pytest

import cydl
from cydl import layers
from cydl.callbacks import GradientStats

(_X, _Y), _ = cydl.datasets.digits.load_data()
X, Y = (_X.reshape(len(_X), -1) / 16.0).astype(np.float32)[:600], _Y[:600]


def _deep(act, init, depth, units=16, optimizer="sgd", extra=()):
    cydl.utils.set_random_seed(0)
    hidden = [layers.Dense(units, activation=act, kernel_initializer=init)
              for _ in range(depth)]
    model = cydl.Sequential([layers.Input(shape=(64,)), *extra, *hidden,
                             layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                  metrics=["accuracy"])
    return model


def _fit(model, stats, epochs=1, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, Y, epochs=epochs, batch_size=32, verbose=0, callbacks=[stats], **kw)
    return [str(w.message) for w in caught if "GradientStats" in str(w.message)]


def test_values_match_torch_autodiff_and_numpy():
    torch = pytest.importorskip(
        "torch", reason="the PyTorch oracle is a test extra: pip install '.[test]'")
    torch.set_num_threads(1)
    model = _deep("tanh", "glorot_uniform", depth=2)
    weights = [w.astype(np.float64) for w in model.get_weights()]
    stats = GradientStats(X[:64], Y[:64])
    _fit(model, stats)
    xs, params = torch.tensor(X[:64].astype(np.float64)), \
        [torch.tensor(w, requires_grad=True) for w in weights]
    h, outs = xs, []
    for i in range(0, len(params), 2):
        z = h @ params[i] + params[i + 1]
        h = torch.tanh(z) if i + 2 < len(params) else torch.softmax(z, -1)
        outs.append(h)
    loss = -torch.log(h[torch.arange(64), torch.tensor(Y[:64])]).mean()
    loss.backward()
    names = [l.name for l in model.layers]
    for k, name in enumerate(names):
        grad = np.sqrt(sum(float((p.grad ** 2).sum()) for p in params[2 * k:2 * k + 2]))
        assert stats.initial[f"gradient_norm/{name}"] == pytest.approx(grad, rel=1e-4)
        out = outs[k].detach().numpy()
        assert stats.initial[f"activation_mean/{name}"] == pytest.approx(out.mean(), abs=1e-6)
        assert stats.initial[f"activation_std/{name}"] == pytest.approx(out.std(), rel=1e-5)
    first, last = (stats.initial[f"gradient_norm/{n}"] for n in (names[0], names[-1]))
    assert stats.initial["gradient_ratio"] == pytest.approx(first / last)
    assert stats.epochs == [0] and len(stats.history["gradient_ratio"]) == 1


def test_the_books_story_vanishing_sigmoid_not_selu():
    # 12 sigmoid layers: the derivative is at most 1/4, so the gradient shrinks layer
    # after layer going backward; SELU with LeCun init keeps it (Klambauer et al.)
    sigmoid = GradientStats()
    messages = _fit(_deep("sigmoid", "glorot_uniform", depth=12), sigmoid)
    assert sigmoid.initial["gradient_ratio"] < 1e-3
    assert len(messages) == 1 and "vanishing gradients at the start of training" in messages[0]
    assert "dense" in messages[0]
    selu = GradientStats()
    assert _fit(_deep("selu", "lecun_normal", depth=12), selu) == []
    assert 1e-3 < selu.initial["gradient_ratio"] < 1e3


def test_dead_units_and_exploding_gradients_warn():
    dead = GradientStats()
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(64,)), layers.Dense(
        16, activation="relu", bias_initializer=cydl.initializers.Constant(-50.0), name="dead"),
        layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    messages = _fit(model, dead)
    assert any("100% of the units of layer 'dead'" in m for m in messages)
    assert dead.initial["dead_fraction/dead"] == 1.0
    # the first layer's gradient norm above the last's by more than the bound
    loud = GradientStats(exploding_ratio=1e-3)
    messages = _fit(_deep("selu", "lecun_normal", depth=3), loud)
    assert any("exploding gradients" in m for m in messages)


def test_training_is_the_same_with_and_without_it():
    # batch norm statistics and dropout masks: the probe must put back what it moves
    def run(callbacks):
        model = _deep("relu", "he_normal", depth=2, optimizer="adam",
                      extra=[layers.BatchNormalization(), layers.Dropout(0.3)])
        model.fit(X, Y, epochs=2, batch_size=32, verbose=0, callbacks=callbacks)
        return model.get_weights()
    plain, watched = run([]), run([GradientStats()])
    assert all(np.array_equal(a, b) for a, b in zip(plain, watched))


def test_default_probe_is_the_first_training_samples():
    implicit, explicit = GradientStats(probe_size=50), GradientStats(X[:50], Y[:50])
    for stats in (implicit, explicit):
        _fit(_deep("tanh", "glorot_uniform", depth=2), stats)
    # (the two models' layers have different names: compare the values in order)
    assert list(implicit.initial.values()) == list(explicit.initial.values())
    assert list(implicit.history.values()) == list(explicit.history.values())


def test_written_to_tensorboard(tmp_path):
    pytest.importorskip("tensorboardX", reason="the writer extra (tensorboardX) is not "
                                               "installed: pip install \"cydl[tensorboard]\"")
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                             reason="TensorBoard's reader (the tensorboard package) is not "
                                    "installed")
    stats = GradientStats()
    tb = cydl.callbacks.TensorBoard(tmp_path, histogram_freq=1)
    model = _deep("tanh", "glorot_uniform", depth=2)
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[tb, stats])
    acc = ea.EventAccumulator(str(tmp_path / "train"),
                              size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0})
    acc.Reload()
    tags = acc.Tags()
    for tag, values in stats.history.items():
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [0, 1]
        assert [e.value for e in events] == [np.float32(v) for v in values]
    assert f"activations/{model.layers[0].name}" in tags["histograms"]
    assert "epoch_loss" in tags["scalars"]      # TensorBoard's own, in the same folder


def test_bad_arguments():
    with pytest.raises(ValueError, match="both"):
        GradientStats(X)
    with pytest.raises(ValueError, match="probe_size"):
        GradientStats(probe_size=0)
    with pytest.raises(ValueError, match="dead_fraction"):
        GradientStats(dead_fraction=2)

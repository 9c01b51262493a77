"""cydl.utils.check_gradients: correct models pass, a wrong gradient is caught and its
layer named, the model is left untouched, and the analytic gradient it reports is
PyTorch autodiff's."""
import numpy as np
import pytest

import cydl
from cydl import layers, ops
from cydl.autodiff import apply
from cydl.utils import check_gradients

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 5)).astype(np.float32)
Y = RNG.integers(0, 3, 16)


def _mlp(reg=None, extra=(), optimizer="adam", **compile_kw):
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(5,)),
                             layers.Dense(6, activation="tanh", kernel_regularizer=reg),
                             *extra, layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer, **compile_kw)
    return model


def _tanh_prim(values, need, scale):
    """tanh with a vjp scaled by `scale`: scale != 1 is a wrong custom gradient."""
    out = np.tanh(values[0])
    return out, (lambda g: (g * (1 - out ** 2) * scale,)) if need else None


class ScaledTanhDense(layers.Layer):
    """A custom layer through cydl.ops whose activation has its own (maybe wrong) vjp."""

    def __init__(self, units, grad_scale=1.0, **kw):
        super().__init__(**kw)
        self.units, self.grad_scale = units, grad_scale

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units))
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, x):
        return apply(_tanh_prim, (ops.matmul(x, self.w) + self.b,), scale=self.grad_scale)


def _custom(grad_scale):
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(5,)), layers.Dense(4, activation="relu"),
                             ScaledTanhDense(6, grad_scale, name="custom"),
                             layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    return model


def _count_steps(monkeypatch):
    """{runner class name: training steps taken}: which path the check ran on."""
    from cydl.models import _runners
    counts = {}
    for cls in (_runners.PlanRunner, _runners.GraphRunner):
        def counted(self, start, stop, _real=cls.train, _name=cls.__name__):
            counts[_name] = counts.get(_name, 0) + 1
            return _real(self, start, stop)
        monkeypatch.setattr(cls, "train", counted)
    return counts


@pytest.mark.parametrize("run_eagerly, noise, path", [
    (False, None, "PlanRunner"),                       # the fused plan
    (True, None, "GraphRunner"),                       # compile(run_eagerly=True)
    (False, layers.GaussianNoise, None),               # whichever path fit takes
    (False, layers.GaussianDropout, None)])
def test_correct_models_pass_and_stay_untouched(run_eagerly, noise, path, monkeypatch):
    # regularizer, batch norm in training mode, dropout and noise with fixed masks
    model = _mlp(reg=cydl.regularizers.L2(0.3), run_eagerly=run_eagerly,
                 extra=[layers.BatchNormalization(), layers.Dropout(0.3)] +
                 ([noise(0.2)] if noise else []))
    model.fit(X, Y, epochs=1, verbose=0)
    fit_path = type(model._runners["train"]).__name__
    assert path is None or fit_path == path
    before = model.get_weights()
    noisy = [l for l in model.layers if hasattr(l, "steps")]
    steps = [l.steps for l in noisy]
    slots = [a.copy() for a in model.optimizer._state_arrays()]
    counts = _count_steps(monkeypatch)
    result = check_gradients(model, X, Y)
    assert result.passed, result.summary()
    assert set(counts) == {fit_path}        # the path fit takes

    assert [l.name for l in result.layers] == [model.layers[0].name, model.layers[1].name,
                                               model.layers[-1].name]
    assert all(l.checked > 0 and l.max_rel_error <= 1e-3 for l in result.layers)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert [l.steps for l in noisy] == steps
    assert all(np.array_equal(a, b) for a, b in zip(slots, model.optimizer._state_arrays()))


def test_regularization_is_in_the_checked_gradient():
    # the fused update adds the L2 gradient outside the gradient buffer: the check must
    # see it. d/dw (l2 * sum w^2) = 2 * l2 * w (Keras' L2 penalty)
    plain_model, reg_model = _mlp(), _mlp(reg=cydl.regularizers.L2(0.5))
    plain, reg = check_gradients(plain_model, X, Y), check_gradients(reg_model, X, Y)
    assert plain.passed and reg.passed
    w = reg_model.layers[0].kernel.numpy().astype(np.float64)   # same seed: same weights
    assert np.array_equal(w, plain_model.layers[0].kernel.numpy())
    np.testing.assert_allclose(reg.analytic[reg_model.layers[0].kernel.path] -
                               plain.analytic[plain_model.layers[0].kernel.path],
                               2 * 0.5 * w, rtol=1e-9, atol=1e-12)


def test_a_custom_layer_with_a_right_gradient_passes():
    assert check_gradients(_custom(1.0), X, Y).passed


def test_a_wrong_custom_gradient_is_caught_and_named():
    result = check_gradients(_custom(1.5), X, Y)
    assert not result.passed
    assert "custom" in result.failed_layers
    # the layer below gets the wrong gradient through it, the layer above does not
    assert result.failed_layers == [result.layers[0].name, "custom"]
    assert result["custom"].max_rel_error > 0.1
    text = result.summary()
    assert "FAILED" in text and "'custom'" in text
    assert "FAILED" in repr(result) and "custom" in repr(result)


def test_a_wrong_gradient_on_the_fused_path_is_caught(monkeypatch):
    # a test double of a kernel bug: the compiled step applies 1.5x the gradient of
    # one layer's kernel
    from cydl.models import _runners
    real, calls = _runners.PlanRunner.train, []

    def broken(self, start, stop):
        target = next(v for v in self.store.trainable_variables if v.path.startswith("dense_b/"))
        before = target.numpy()
        stats = real(self, start, stop)
        target.value[...] = before - 1.5 * (before - target.value)
        calls.append(1)
        return stats
    monkeypatch.setattr(_runners.PlanRunner, "train", broken)
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(5,)),
                             layers.Dense(6, activation="tanh", name="dense_a"),
                             layers.Dense(4, activation="sigmoid", name="dense_b"),
                             layers.Dense(3, activation="softmax", name="dense_c")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    result = check_gradients(model, X, Y)
    assert calls, "the check did not run the fused plan"
    assert result.failed_layers == ["dense_b"]


def test_max_elements_checks_a_sample():
    model = _mlp()
    result = check_gradients(model, X, Y, max_elements=4, seed=1)
    assert result.passed
    for layer in result.layers:
        assert layer.checked == sum(min(4, result.analytic[p].size) for p in layer.weights)
    kernel = result.numeric[model.layers[0].kernel.path]
    assert np.isnan(kernel).sum() == kernel.size - 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="compile"):
        check_gradients(cydl.Sequential([layers.Input(shape=(5,)), layers.Dense(2)]), X, Y)
    with pytest.raises(TypeError, match="cydl model"):
        check_gradients("model", X, Y)
    with pytest.raises(ValueError, match="epsilon"):
        check_gradients(_mlp(), X, Y, epsilon=-1.0)
    with pytest.raises(ValueError, match="max_elements"):
        check_gradients(_mlp(), X, Y, max_elements=0)
    with pytest.raises(ValueError):
        check_gradients(_mlp(), X, np.full(16, 7))     # labels out of range


def test_analytic_gradient_matches_torch_autodiff():
    torch = pytest.importorskip(
        "torch", reason="the PyTorch oracle is a test extra: pip install '.[test]'")
    torch.set_num_threads(1)
    model = _mlp(reg=cydl.regularizers.L2(0.05))
    result = check_gradients(model, X, Y)
    d0, d1 = model.layers
    params = [torch.tensor(v.numpy().astype(np.float64), requires_grad=True)
              for v in (d0.kernel, d0.bias, d1.kernel, d1.bias)]
    w0, b0, w1, b1 = params
    x = torch.tensor(X.astype(np.float64))
    logits = torch.tanh(x @ w0 + b0) @ w1 + b1
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(Y)) + 0.05 * (w0 ** 2).sum()
    loss.backward()
    assert result.loss == pytest.approx(loss.item(), rel=1e-12)
    for var, p in zip((d0.kernel, d0.bias, d1.kernel, d1.bias), params):
        np.testing.assert_allclose(result.analytic[var.path], p.grad.numpy(),
                                   rtol=1e-9, atol=1e-12, err_msg=var.path)
        np.testing.assert_allclose(result.numeric[var.path], p.grad.numpy(),
                                   rtol=1e-5, atol=1e-8, err_msg=var.path)


class _Branching(cydl.Model):
    """A call() that branches on data: cydl trains it eagerly, on a tape."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.hidden, self.out = layers.Dense(4, activation="tanh"), layers.Dense(3)

    def call(self, x, training=None):
        if float(ops.convert_to_numpy(x).sum()) > -1e9:
            return self.out(self.hidden(x))
        return self.out(x)


def test_two_outputs_with_loss_weights_sample_weights_and_an_eager_model():
    cydl.utils.set_random_seed(0)
    inputs = cydl.Input(shape=(5,))
    hidden = layers.Dense(4, activation="relu")(inputs)
    model = cydl.Model(inputs, [layers.Dense(3, activation="softmax", name="cls")(hidden),
                                layers.Dense(1, name="reg")(hidden)])
    model.compile(loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.3],
                  optimizer="adam")
    sw = RNG.random(16)
    result = check_gradients(model, X, {"cls": Y, "reg": X[:, :1]}, sample_weight=sw)
    assert result.passed and [l.name for l in result.layers][1:] == ["cls", "reg"]
    # the sample weights change the gradient: the check uses them
    plain = check_gradients(model, X, {"cls": Y, "reg": X[:, :1]})
    assert not np.allclose(plain.analytic["reg/kernel"], result.analytic["reg/kernel"])
    eager = _Branching()
    eager.compile(loss=cydl.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer="sgd")
    eager.fit(X, Y, verbose=0)
    assert eager._eager
    assert check_gradients(eager, X, Y).passed

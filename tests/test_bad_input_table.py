"""Bad hyperparameters and fit/compile arguments, as one table.

Each row: (case, call, exception type, substrings the message must contain). The
call gets a compiled, trained-once model; after the error the same model must still
train and predict, and no failing call may have changed its weights (the checks
run before any step).
"""
import math

import numpy as np
import pytest

import cydl
from cydl import callbacks, constraints, initializers, layers, optimizers, regularizers
from cydl.optimizers import schedules

NAN, INF = float("nan"), float("inf")
LOSS = "sparse_categorical_crossentropy"
X = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
Y = np.arange(64) % 3


def _model():
    model = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])
    model.compile(loss=LOSS, optimizer="sgd", metrics=["accuracy"])
    return model


def fit(**kwargs):
    return lambda m: m.fit(X, Y, **{"verbose": 0, **kwargs})


def compile_with(**kwargs):
    return lambda m: m.compile(**{"loss": LOSS, "optimizer": "sgd", **kwargs})


def make(cls, *args, **kwargs):
    return lambda m: cls(*args, **kwargs)


def train_with(optimizer=None, cbs=None):
    """Compile with `optimizer` and fit; put a good optimizer back whatever happens,
    so the usability check after the error tests the weights, not this optimizer."""
    def run(m):
        m.compile(loss=LOSS, optimizer=optimizer or "sgd")
        try:
            m.fit(X, Y, epochs=2, verbose=0, callbacks=cbs)
        finally:
            m.compile(loss=LOSS, optimizer="sgd", metrics=["accuracy"])
    return run


class NaNSchedule(schedules.LearningRateSchedule):
    def __call__(self, step):
        return NAN


def _one_unit_softmax_model():
    one = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(1, activation="softmax")])
    one.compile(loss=LOSS, optimizer="sgd")
    return one


def _empty_fit(m):
    empty = cydl.Sequential()
    empty.compile(loss="mse", optimizer="sgd")
    empty.fit(X, X, verbose=0)


def _softmax_one_unit(loss, y):
    def run(m):
        one = _one_unit_softmax_model()
        one.compile(loss=loss, optimizer="sgd")
        one.fit(X, y, verbose=0)
    return run


CASES = [
    # optimizers
    ("lr string", make(optimizers.SGD, learning_rate="0.1"), TypeError, ["learning_rate", "'0.1'"]),
    ("lr bool", make(optimizers.SGD, learning_rate=True), TypeError, ["learning_rate=True"]),
    ("lr negative", make(optimizers.Adam, learning_rate=-0.01), ValueError, ["learning_rate=-0.01"]),
    ("lr nan", make(optimizers.SGD, learning_rate=NAN), ValueError, ["learning_rate=nan"]),
    ("lr inf", make(optimizers.RMSprop, learning_rate=INF), ValueError, ["learning_rate=inf"]),
    ("lr schedule class", make(optimizers.SGD, learning_rate=schedules.ExponentialDecay),
     TypeError, ["learning_rate", "ExponentialDecay"]),
    ("weight_decay nan", make(optimizers.AdamW, weight_decay=NAN), ValueError, ["weight_decay=nan"]),
    ("weight_decay negative", make(optimizers.SGD, weight_decay=-1e-4), ValueError,
     ["weight_decay=-0.0001"]),
    ("weight_decay string", make(optimizers.AdamW, weight_decay="0.1"), TypeError, ["weight_decay"]),
    ("initial_accumulator_value nan", make(optimizers.Adagrad, initial_accumulator_value=NAN),
     ValueError, ["initial_accumulator_value=nan"]),
    ("initial_accumulator_value negative",
     make(optimizers.Adagrad, initial_accumulator_value=-0.1), ValueError,
     ["initial_accumulator_value=-0.1"]),
    ("momentum > 1", make(optimizers.SGD, momentum=1.5), ValueError, ["momentum=1.5"]),
    ("momentum negative", make(optimizers.SGD, momentum=-0.1), ValueError, ["momentum=-0.1"]),
    ("momentum nan", make(optimizers.SGD, momentum=NAN), ValueError, ["momentum=nan"]),
    ("RMSprop momentum 1", make(optimizers.RMSprop, momentum=1.0), ValueError, ["momentum=1.0"]),
    ("beta_1 = 1", make(optimizers.Adam, beta_1=1.0), ValueError, ["beta_1=1.0"]),
    ("beta_2 negative", make(optimizers.Adamax, beta_2=-0.5), ValueError, ["beta_2=-0.5"]),
    ("beta_2 nan", make(optimizers.Nadam, beta_2=NAN), ValueError, ["beta_2=nan"]),
    ("beta_1 string", make(optimizers.Adam, beta_1="0.9"), TypeError, ["beta_1='0.9'"]),
    ("epsilon 0", make(optimizers.Adam, epsilon=0.0), ValueError, ["epsilon=0.0"]),
    ("epsilon negative", make(optimizers.Adagrad, epsilon=-1e-7), ValueError, ["epsilon=-1e-07"]),
    ("epsilon nan", make(optimizers.RMSprop, epsilon=NAN), ValueError, ["epsilon=nan"]),
    ("rho = 1", make(optimizers.RMSprop, rho=1.0), ValueError, ["rho=1.0"]),
    ("rho nan", make(optimizers.RMSprop, rho=NAN), ValueError, ["rho=nan"]),
    ("clipnorm 0", make(optimizers.SGD, clipnorm=0.0), ValueError, ["clipnorm=0.0"]),
    ("clipvalue nan", make(optimizers.SGD, clipvalue=NAN), ValueError, ["clipvalue=nan"]),
    ("global_clipnorm negative", make(optimizers.Adam, global_clipnorm=-1.0), ValueError,
     ["global_clipnorm=-1.0"]),
    ("clipnorm inf", make(optimizers.SGD, clipnorm=INF), ValueError, ["clipnorm=inf"]),
    # schedules
    ("ExponentialDecay negative rate", make(schedules.ExponentialDecay, 0.1, 10, -0.5),
     ValueError, ["ExponentialDecay", "decay_rate=-0.5"]),
    ("InverseTimeDecay negative rate", make(schedules.InverseTimeDecay, 0.1, 10, -2.0),
     ValueError, ["InverseTimeDecay", "decay_rate=-2.0"]),
    ("ExponentialDecay nan initial", make(schedules.ExponentialDecay, NAN, 10, 0.9),
     ValueError, ["initial_learning_rate=nan"]),
    ("ExponentialDecay decay_steps 0", make(schedules.ExponentialDecay, 0.1, 0, 0.9),
     ValueError, ["decay_steps=0"]),
    ("PolynomialDecay negative end", make(schedules.PolynomialDecay, 0.1, 10,
                                          end_learning_rate=-1.0),
     ValueError, ["end_learning_rate=-1.0"]),
    ("PolynomialDecay negative power", make(schedules.PolynomialDecay, 0.1, 10, power=-1.0),
     ValueError, ["power=-1.0"]),
    ("CosineDecay alpha nan", make(schedules.CosineDecay, 0.1, 10, alpha=NAN), ValueError,
     ["alpha=nan"]),
    ("CosineDecay negative warmup_target", make(schedules.CosineDecay, 0.1, 10,
                                                warmup_target=-0.1, warmup_steps=5),
     ValueError, ["warmup_target=-0.1"]),
    ("PiecewiseConstantDecay negative value",
     make(schedules.PiecewiseConstantDecay, [10], [0.1, -0.1]), ValueError, ["values[1]=-0.1"]),
    ("PiecewiseConstantDecay unsorted", make(schedules.PiecewiseConstantDecay, [10, 5],
                                             [0.1, 0.05, 0.01]),
     ValueError, ["boundaries", "[10, 5]"]),
    ("callable schedule returns nan", train_with(optimizers.SGD(lambda step: NAN)),
     ValueError, ["learning_rate=nan", "step 0"]),
    ("callable schedule returns negative", train_with(optimizers.Adam(lambda step: -1e-3)),
     ValueError, ["learning_rate=-0.001", "step 0"]),
    ("schedule subclass returns nan", train_with(optimizers.SGD(NaNSchedule())), ValueError,
     ["learning_rate=nan", "step 0"]),
    ("schedule returns a string", train_with(optimizers.SGD(lambda step: "0.1")), TypeError,
     ["'0.1'", "step 0"]),
    ("LearningRateScheduler negative",
     train_with(cbs=[callbacks.LearningRateScheduler(lambda epoch: -0.1)]), ValueError,
     ["learning_rate=-0.1", "epoch 0"]),
    ("LearningRateScheduler nan",
     train_with(cbs=[callbacks.LearningRateScheduler(lambda epoch, lr: NAN)]), ValueError,
     ["learning_rate=nan", "epoch 0"]),
    ("LearningRateScheduler not callable", make(callbacks.LearningRateScheduler, 0.1),
     TypeError, ["schedule=0.1"]),
    # initializers, regularizers, constraints, activations, layers
    ("VarianceScaling scale nan", make(initializers.VarianceScaling, scale=NAN), ValueError,
     ["scale=nan"]),
    ("VarianceScaling scale 0", make(initializers.VarianceScaling, scale=0), ValueError,
     ["scale=0"]),
    ("RandomNormal stddev negative", make(initializers.RandomNormal, stddev=-1.0), ValueError,
     ["stddev=-1.0"]),
    ("TruncatedNormal mean nan", make(initializers.TruncatedNormal, mean=NAN), ValueError,
     ["mean=nan"]),
    ("RandomUniform min > max", make(initializers.RandomUniform, 1.0, -1.0), ValueError,
     ["minval=1.0", "maxval=-1.0"]),
    ("Constant nan", make(initializers.Constant, NAN), ValueError, ["value=nan"]),
    ("initializer seed float", make(initializers.GlorotUniform, seed=1.5), TypeError,
     ["seed=1.5"]),
    ("L1 negative", make(regularizers.L1, -0.01), ValueError, ["l1=-0.01"]),
    ("L2 nan", make(regularizers.L2, NAN), ValueError, ["l2=nan"]),
    ("L1L2 string", make(regularizers.L1L2, l2="0.1"), TypeError, ["l2='0.1'"]),
    ("MaxNorm nan", make(constraints.MaxNorm, NAN), ValueError, ["max_value=nan"]),
    ("MaxNorm 0", make(constraints.MaxNorm, 0), ValueError, ["max_value=0"]),
    ("MinMaxNorm rate 2", make(constraints.MinMaxNorm, rate=2.0), ValueError, ["rate=2.0"]),
    ("MinMaxNorm min > max", make(constraints.MinMaxNorm, 2.0, 1.0), ValueError,
     ["min_value=2.0", "max_value=1.0"]),
    ("LeakyReLU layer nan", make(layers.LeakyReLU, NAN), ValueError, ["negative_slope=nan"]),
    ("LeakyReLU layer negative", make(layers.LeakyReLU, -0.1), ValueError,
     ["negative_slope=-0.1"]),
    ("leaky_relu activation nan", make(layers.Dense, 3, activation=["leaky_relu", NAN]),
     ValueError, ["negative_slope=nan"]),
    ("leaky_relu function inf", lambda m: cydl.activations.leaky_relu(X, negative_slope=INF),
     ValueError, ["negative_slope=inf"]),
    ("elu activation nan", make(layers.Activation, ["elu", NAN]), ValueError, ["alpha=nan"]),
    ("ELU layer nan", make(layers.ELU, NAN), ValueError, ["alpha=nan"]),
    ("Reshape float", make(layers.Reshape, (2.5, 2)), TypeError, ["target_shape[0]=2.5"]),
    ("Reshape two -1", make(layers.Reshape, (-1, -1)), ValueError, ["target_shape=(-1, -1)"]),
    ("Reshape size mismatch",
     lambda m: cydl.Sequential([layers.Input(shape=(4,)), layers.Reshape((3, -1))]),
     ValueError, ["(3, -1)", "4 values"]),
    # callbacks
    ("EarlyStopping patience string", make(callbacks.EarlyStopping, patience="3"), TypeError,
     ["patience='3'"]),
    ("EarlyStopping patience negative", make(callbacks.EarlyStopping, patience=-1), ValueError,
     ["patience=-1"]),
    ("EarlyStopping min_delta nan", make(callbacks.EarlyStopping, min_delta=NAN), ValueError,
     ["min_delta=nan"]),
    ("EarlyStopping baseline inf", make(callbacks.EarlyStopping, baseline=INF), ValueError,
     ["baseline=inf"]),
    ("EarlyStopping start_from_epoch float",
     make(callbacks.EarlyStopping, start_from_epoch=1.5), TypeError, ["start_from_epoch=1.5"]),
    ("LambdaCallback hook not callable", make(callbacks.LambdaCallback, on_epoch_end=3),
     TypeError, ["on_epoch_end=3"]),
    # compile
    ("optimizer class", compile_with(optimizer=optimizers.SGD), TypeError,
     ["optimizer", "class SGD"]),
    ("optimizer number", compile_with(optimizer=0.01), TypeError, ["optimizer", "0.01"]),
    ("run_eagerly string", compile_with(run_eagerly="yes"), TypeError, ["run_eagerly='yes'"]),
    # fit
    ("validation_freq 0", fit(validation_split=0.25, validation_freq=0), ValueError,
     ["validation_freq=0"]),
    ("validation_freq -1", fit(validation_split=0.25, validation_freq=-1), ValueError,
     ["validation_freq=-1"]),
    ("y scalar", lambda m: m.fit(X, 1, verbose=0), ValueError, ["`y`", "scalar", "y=1"]),
    ("callbacks single object", fit(callbacks=callbacks.EarlyStopping(monitor="loss")),
     TypeError, ["callbacks", "EarlyStopping"]),
    ("callbacks [42]", fit(callbacks=[42]), TypeError, ["callbacks[0]", "42"]),
    ("callbacks [class]", fit(callbacks=[callbacks.History]), TypeError,
     ["callbacks[0]", "History"]),
    ("verbose 'x'", fit(verbose="x"), ValueError, ["verbose='x'"]),
    ("verbose 3", fit(verbose=3), ValueError, ["verbose=3"]),
    ("evaluate verbose 'x'", lambda m: m.evaluate(X, Y, verbose="x"), ValueError,
     ["verbose='x'"]),
    ("predict verbose 'x'", lambda m: m.predict(X, verbose="x"), ValueError, ["verbose='x'"]),
    ("predict batch_size string", lambda m: m.predict(X[:2], batch_size="a"), ValueError,
     ["batch_size='a'"]),
    ("class_weight negative", fit(class_weight={0: 1.0, 2: -1.0}), ValueError,
     ["class_weight[2]=-1.0"]),
    ("class_weight nan", fit(class_weight={1: NAN}), ValueError, ["class_weight[1]=nan"]),
    ("class_weight bad key", fit(class_weight={"a": 1.0}), ValueError, ["class_weight", "'a'"]),
    ("sample_weight negative", fit(sample_weight=np.where(np.arange(64) == 5, -2.0, 1.0)),
     ValueError, ["sample_weight[5]=-2.0"]),
    ("batch_size 0", fit(batch_size=0), ValueError, ["batch_size=0"]),
    ("batch_size negative", fit(batch_size=-8), ValueError, ["batch_size=-8"]),
    ("batch_size float", fit(batch_size=16.0), ValueError, ["batch_size=16.0"]),
    ("batch_size bool", fit(batch_size=True), ValueError, ["batch_size=True"]),
    ("evaluate batch_size 0", lambda m: m.evaluate(X, Y, batch_size=0, verbose=0), ValueError,
     ["batch_size=0"]),
    ("validation_split string", fit(validation_split="0.2"), ValueError,
     ["validation_split='0.2'"]),
    ("validation_split nan", fit(validation_split=NAN), ValueError, ["validation_split=nan"]),
    ("initial_epoch bool", fit(initial_epoch=True, epochs=2), TypeError, ["initial_epoch=True"]),
    ("shuffle string", fit(shuffle="no"), TypeError, ["shuffle='no'"]),
    ("steps_per_epoch 0", fit(steps_per_epoch=0), ValueError, ["steps_per_epoch=0"]),
    ("x overflows float32", lambda m: m.fit(np.full((64, 4), 1e300), Y, verbose=0), ValueError,
     ["`x`", "1e+300", "overflows float32"]),
    ("predict x overflows float32", lambda m: m.predict(np.full((3, 4), -1e39)), ValueError,
     ["`x`", "-1e+39", "overflows float32"]),
    ("validation x overflows float32",
     fit(validation_data=(np.full((8, 4), 1e300), Y[:8])), ValueError,
     ["`x`", "1e+300", "overflows float32"]),
    ("sample_weight overflows float32", fit(sample_weight=np.full(64, 1e300)), ValueError,
     ["sample_weight", "1e+300", "overflows float32"]),
    ("empty model", _empty_fit, ValueError, ["no layers", "fit"]),
    ("softmax over 1 unit, sparse CE", _softmax_one_unit(LOSS, np.zeros(64)), ValueError,
     ["softmax over a single unit", "sigmoid", "binary_crossentropy"]),
    ("softmax over 1 unit, CE", _softmax_one_unit("categorical_crossentropy", np.ones((64, 1))),
     ValueError, ["softmax over a single unit"]),
    ("set_floatx None", lambda m: cydl.config.set_floatx(None), ValueError, ["None"]),
    ("train_on_batch softmax over 1 unit",
     lambda m: _one_unit_softmax_model().train_on_batch(X, np.zeros(64)), ValueError,
     ["softmax over a single unit"]),
    # losses, metrics, more layers and callbacks
    ("Huber delta string", make(cydl.losses.Huber, "1"), TypeError, ["delta='1'"]),
    ("Huber delta nan", make(cydl.losses.Huber, NAN), ValueError, ["delta=nan"]),
    ("BinaryAccuracy threshold nan", make(cydl.metrics.BinaryAccuracy, threshold=NAN),
     ValueError, ["threshold=nan"]),
    ("Input shape bool", make(layers.Input, shape=(True,)), ValueError, ["shape=(True,)"]),
    ("ProgbarLogger verbose 'x'", make(callbacks.ProgbarLogger, verbose="x"), ValueError,
     ["verbose='x'"]),
    # utils and datasets
    ("to_categorical fractional label", lambda m: cydl.utils.to_categorical([0, 1.7]),
     ValueError, ["1.7"]),
    ("to_categorical nan label", lambda m: cydl.utils.to_categorical([0.0, NAN]), ValueError,
     ["nan"]),
    ("to_categorical num_classes float",
     lambda m: cydl.utils.to_categorical([0, 1], num_classes=2.5), ValueError,
     ["num_classes=2.5"]),
    ("digits test_split negative", lambda m: cydl.datasets.digits.load_data(test_split=-0.1),
     ValueError, ["test_split=-0.1"]),
]


def _assert_usable(model, weights_before):
    for before, now in zip(weights_before, model.get_weights()):
        np.testing.assert_array_equal(now, before)
    loss = model.fit(X, Y, epochs=1, verbose=0).history["loss"][0]
    assert math.isfinite(loss)
    pred = model.predict(X)
    assert pred.shape == (64, 3) and np.isfinite(pred).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.parametrize("case,call,exc,parts", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_model_stays_usable(case, call, exc, parts):
    model = _model()
    model.fit(X, Y, epochs=1, verbose=0)          # the fused workspaces exist already
    before = model.get_weights()
    with pytest.raises(exc) as info:
        call(model)
    assert type(info.value) is exc                 # not a subclass such as an IndexError
    for part in parts:
        assert part in str(info.value), (part, str(info.value))
    _assert_usable(model, before)


def test_schedule_that_turns_nan_later_stops_at_that_step():
    model = _model()
    opt = optimizers.SGD(lambda step: 0.01 if step < 3 else NAN)
    model.compile(loss=LOSS, optimizer=opt)
    with pytest.raises(ValueError, match=r"learning_rate=nan at step 3"):
        model.fit(X, Y, batch_size=8, verbose=0)
    assert int(opt.iterations.value) == 3
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_empty_model_trains_once_it_has_layers():
    model = cydl.Sequential()
    model.compile(loss=LOSS, optimizer="sgd")
    with pytest.raises(ValueError, match="no layers"):
        model.fit(X, Y, verbose=0)
    with pytest.raises(ValueError, match="no layers"):
        model.predict(X)
    model.add(layers.Dense(3, activation="softmax"))
    assert math.isfinite(model.fit(X, Y, verbose=0).history["loss"][0])


def test_compile_with_optimizer_class_keeps_the_previous_optimizer():
    model = _model()
    opt = model.optimizer
    with pytest.raises(TypeError):
        model.compile(loss=LOSS, optimizer=optimizers.Adam)
    assert model.optimizer is opt
    model.compile(loss=LOSS, optimizer=optimizers.Adam())
    model.fit(X, Y, verbose=0)


@pytest.mark.parametrize("build", [
    lambda: optimizers.SGD(np.float32(0.1), momentum=np.float32(0.9), clipnorm=np.float64(1)),
    lambda: optimizers.SGD(learning_rate=np.int64(1), momentum=1),     # Keras allows 1
    lambda: optimizers.AdamW(np.float32(1e-3), weight_decay=np.float32(0.01),
                             beta_1=np.float64(0.8), epsilon=np.float32(1e-6)),
    lambda: optimizers.Adagrad(initial_accumulator_value=np.float32(0.0)),
    lambda: optimizers.RMSprop(rho=np.float16(0.5), momentum=np.float32(0.5)),
    lambda: optimizers.SGD(schedules.ExponentialDecay(np.float32(0.1), np.int64(10),
                                                      np.float64(0.9))),
    lambda: optimizers.SGD(schedules.PiecewiseConstantDecay([np.int64(2)],
                                                            [np.float32(0.1), 0.01])),
    lambda: optimizers.SGD(schedules.CosineDecay(0.1, 2)),   # reaches 0: must not raise
    lambda: optimizers.SGD(0.0),
])
def test_numpy_scalars_and_edge_values_are_accepted(build):
    model = _model()
    model.compile(loss=LOSS, optimizer=build())
    losses = model.fit(X, Y, batch_size=8, epochs=2, verbose=0).history["loss"]
    assert all(math.isfinite(v) for v in losses)


@pytest.mark.parametrize("make_obj", [
    lambda: initializers.VarianceScaling(np.float32(2.0), seed=np.int64(1)),
    lambda: initializers.RandomUniform(np.float32(-0.1), np.float64(0.1)),
    lambda: regularizers.L1L2(np.float32(1e-4), np.float64(1e-4)),
    lambda: constraints.MaxNorm(np.float32(2.0)),
    lambda: layers.LeakyReLU(np.float32(0.1)),
    lambda: layers.Dense(np.int64(3)),
    lambda: callbacks.EarlyStopping(patience=np.int64(2), min_delta=np.float32(1e-3)),
])
def test_numpy_scalars_are_accepted_by_constructors(make_obj):
    assert make_obj() is not None


def test_numpy_scalar_fit_arguments_are_accepted():
    model = _model()
    history = model.fit(X, Y, batch_size=np.int64(16), epochs=np.int64(2), verbose=np.int64(0),
                        validation_split=np.float32(0.25), validation_freq=np.int64(1),
                        class_weight={np.int64(0): np.float32(2.0)}, initial_epoch=np.int64(0))
    assert len(history.history["val_loss"]) == 2


def test_batch_size_beyond_the_data_trains_like_one_full_batch():
    # unclamped, a batch of 10**12 rows would reserve terabytes of workspace
    runs = []
    for batch_size in (64, 10 ** 12):
        cydl.utils.set_random_seed(3)
        model = _model()
        model.fit(X, Y, batch_size=batch_size, shuffle=False, verbose=0,
                  validation_data=(X[:8], Y[:8]), validation_batch_size=10 ** 12)
        model.evaluate(X, Y, batch_size=10 ** 12, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 1.0])
def test_binary_accuracy_threshold_at_the_ends_is_accepted(threshold):
    # a sigmoid folded into the loss compares logits: p = 1 used to divide by zero
    model = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="sgd",
                  metrics=[cydl.metrics.BinaryAccuracy(threshold=threshold)])
    y = (np.arange(64) % 4 == 0).astype(np.float32)        # a quarter positive
    logs = model.fit(X, y, verbose=0).history
    expected = {0.0: 0.25, 1.0: 0.75}.get(threshold)
    if expected is not None:
        assert logs["binary_accuracy"][0] == pytest.approx(expected)

"""The schedules beyond the book's callback, as `learning_rate=`: Keras'
CosineDecayRestarts (against Keras 3 itself, step by step), the 1cycle policy
(OneCycle, against torch's OneCycleLR) and the cyclical triangular rate
(CyclicalLearningRate, against torch's CyclicLR), each also against closed-form
values, through get_config/from_config, and in training on the fused step."""
import json
import math

import numpy as np
import pytest

import cydl
from cydl import layers
from cydl.optimizers import schedules as S
from _keras_oracle import run_keras  # tests/ is on sys.path


# ---------------------------------------------------------------- closed forms
def test_cosine_decay_restarts_closed_form():
    s = S.CosineDecayRestarts(0.2, first_decay_steps=10, t_mul=2.0, m_mul=0.5, alpha=0.1)
    # periods: [0, 10), [10, 30), [30, 70), [70, 150)
    for i, start in enumerate((0, 10, 30, 70)):
        length = 10 * 2 ** i
        assert s(start) == pytest.approx(0.2 * ((1 - 0.1) * 0.5 ** i + 0.1), rel=1e-14)
        mid = start + length / 2      # half way: the cosine term is a half
        assert s(mid) == pytest.approx(0.2 * ((1 - 0.1) * 0.5 ** i * 0.5 + 0.1), rel=1e-14)
        # just before the restart: down to alpha (times the initial rate)
        assert s(start + length - 1e-9) == pytest.approx(0.2 * 0.1, rel=1e-6)
    t1 = S.CosineDecayRestarts(1.0, first_decay_steps=4, t_mul=1.0)
    assert [t1(k) for k in (0, 4, 8)] == [1.0, 1.0, 1.0]
    assert t1(2) == pytest.approx(0.5, rel=1e-14)


def test_one_cycle_closed_form():
    s = S.OneCycle(0.5, total_steps=101, pct_start=0.3, div_factor=25.0,
                   final_div_factor=1e4)
    peak = 0.3 * 101 - 1
    assert s(0) == pytest.approx(0.5 / 25, rel=1e-14)
    assert s(peak) == pytest.approx(0.5, rel=1e-14)
    assert s(peak / 2) == pytest.approx((0.5 / 25 + 0.5) / 2, rel=1e-12)   # half a cosine
    assert s(100) == pytest.approx(0.5 / 25 / 1e4, rel=1e-12)
    assert s(10_000) == s(100)          # past the end it stays at the minimum
    lin = S.OneCycle(1.0, total_steps=11, pct_start=0.5, anneal_strategy="linear",
                     div_factor=10, final_div_factor=10)
    # rise over steps 0..4.5, fall over 4.5..10, both straight lines
    assert lin(2.25) == pytest.approx((0.1 + 1.0) / 2, rel=1e-14)
    assert lin(10) == pytest.approx(0.01, rel=1e-14)
    three = S.OneCycle(1.0, total_steps=100, pct_start=0.25, three_phase=True)
    assert three(24) == pytest.approx(1.0) and three(48) == pytest.approx(0.04)
    assert three(99) == pytest.approx(0.04 / 1e4)


def test_cyclical_closed_form():
    # Smith's formula: base + (max - base) * max(0, 1 - |it / s - 2 c + 1|)
    s = S.CyclicalLearningRate(0.01, 0.1, step_size=5)
    for it in range(40):
        c = math.floor(1 + it / 10)
        x = abs(it / 5 - 2 * c + 1)
        assert s(it) == pytest.approx(0.01 + 0.09 * max(0.0, 1 - x), rel=1e-12, abs=1e-15)
    tri2 = S.CyclicalLearningRate(0.0, 1.0, step_size=5, mode="triangular2")
    assert [tri2(5 + 10 * k) for k in range(4)] == [1.0, 0.5, 0.25, 0.125]
    exp = S.CyclicalLearningRate(0.0, 1.0, step_size=5, mode="exp_range", gamma=0.9)
    assert exp(5) == pytest.approx(0.9 ** 5, rel=1e-14)
    asym = S.CyclicalLearningRate(0.0, 1.0, step_size=2, step_size_down=6)
    assert [asym(k) for k in range(9)] == pytest.approx(
        [0, 0.5, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0], abs=1e-15)


# ---------------------------------------------------------------- torch's schedulers
def _torch_lrs(torch, make, n):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make(opt)
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return np.array(out)


@pytest.mark.parametrize("kw", [{}, {"anneal_strategy": "linear", "pct_start": 0.25},
                                {"three_phase": True},
                                {"div_factor": 10.0, "final_div_factor": 100.0,
                                 "pct_start": 0.5}])
def test_one_cycle_matches_torch(kw):
    torch = pytest.importorskip("torch")
    n = 97
    expected = _torch_lrs(torch, lambda o: torch.optim.lr_scheduler.OneCycleLR(
        o, max_lr=0.5, total_steps=n, cycle_momentum=False, **kw), n)
    s = S.OneCycle(0.5, n, **kw)
    np.testing.assert_allclose([s(k) for k in range(n)], expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("kw", [{}, {"mode": "triangular2"},
                                {"mode": "exp_range", "gamma": 0.99},
                                {"step_size_down": 7}])
def test_cyclical_matches_torch(kw):
    torch = pytest.importorskip("torch")
    kw = dict(kw)
    down = kw.pop("step_size_down", None)
    expected = _torch_lrs(torch, lambda o: torch.optim.lr_scheduler.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=down,
        cycle_momentum=False, **kw), 100)
    s = S.CyclicalLearningRate(0.01, 0.1, step_size=5, step_size_down=down, **kw)
    np.testing.assert_allclose([s(k) for k in range(100)], expected, rtol=1e-15, atol=0)


# ---------------------------------------------------------------- Keras 3 itself
SGDR_CASES = [{}, {"t_mul": 1.0}, {"t_mul": 1.5, "m_mul": 0.8, "alpha": 0.1},
              {"t_mul": 3.0, "m_mul": 0.5}, {"t_mul": 0.9}]


_KERAS_SGDR = """
result = []
for kw, n in data:
    s = keras.optimizers.schedules.CosineDecayRestarts(0.1, 10, **kw)
    result.append({"values": [float(s(k)) for k in range(n)], "config": s.get_config()})
"""


def test_cosine_decay_restarts_matches_keras_step_by_step():
    """In float64 Keras and cydl agree at every step, restarts included (t_mul 0.9:
    the periods shrink; their total, 100 steps, is never reached here)."""
    cases = [(kw, 95 if kw.get("t_mul") == 0.9 else 400) for kw in SGDR_CASES]
    theirs = run_keras(_KERAS_SGDR, cases)
    for (kw, n), result in zip(cases, theirs):
        s = S.CosineDecayRestarts(0.1, 10, **kw)
        np.testing.assert_allclose([s(k) for k in range(n)], result["values"], rtol=1e-13,
                                   atol=1e-16, err_msg=str(kw))
        assert s.get_config() == result["config"]
        assert S.CosineDecayRestarts.from_config(result["config"])(37) == s(37)


def test_cosine_decay_restarts_past_shrinking_periods_is_an_error():
    s = S.CosineDecayRestarts(0.1, 10, t_mul=0.5)       # periods sum to 20 steps
    assert s(19) > 0
    with pytest.raises(ValueError, match="t_mul"):
        s(25)


# ---------------------------------------------------------------- config, bad input
@pytest.mark.parametrize("schedule", [
    S.CosineDecayRestarts(0.3, 7, t_mul=1.5, m_mul=0.9, alpha=0.05),
    S.OneCycle(0.2, 50, pct_start=0.4, anneal_strategy="linear", div_factor=5,
               final_div_factor=50, three_phase=True),
    S.CyclicalLearningRate(0.001, 0.05, step_size=4, mode="exp_range", gamma=0.97,
                           step_size_down=6)])
def test_config_round_trip(schedule):
    config = json.loads(json.dumps(schedule.get_config()))
    again = type(schedule).from_config(config)
    assert [again(k) for k in range(60)] == [schedule(k) for k in range(60)]


@pytest.mark.parametrize("make,match", [
    (lambda: S.CosineDecayRestarts(0.1, 0), "first_decay_steps"),
    (lambda: S.CosineDecayRestarts(0.1, 10, t_mul=0), "t_mul"),
    (lambda: S.CosineDecayRestarts(0.1, 10, alpha=2), "alpha"),
    (lambda: S.CosineDecayRestarts("0.1", 10), "initial_learning_rate"),
    (lambda: S.OneCycle(0.1, 0), "total_steps"),
    (lambda: S.OneCycle(0.1, 10.5), "total_steps"),
    (lambda: S.OneCycle(0.1, 10, pct_start=1.5), "pct_start"),
    (lambda: S.OneCycle(0.1, 10, anneal_strategy="cosine"), "anneal_strategy"),
    (lambda: S.OneCycle(0.0, 10), "max_learning_rate"),
    (lambda: S.OneCycle(0.1, 10, div_factor=0), "div_factor"),
    (lambda: S.CyclicalLearningRate(0.1, 0.2, step_size=0), "step_size"),
    (lambda: S.CyclicalLearningRate(0.1, 0.2, mode="triangle"), "mode"),
    (lambda: S.CyclicalLearningRate(0.1, float("nan")), "maximal_learning_rate"),
    (lambda: S.CyclicalLearningRate(0.1, 0.2, gamma=-1), "gamma"),
])
def test_bad_arguments_name_the_argument(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# ---------------------------------------------------------------- in training
def _train(schedule, eager, record):
    cydl.config.set_floatx("float64")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 5))
    y = x @ rng.standard_normal((5, 2))
    cydl.utils.set_random_seed(1)
    model = cydl.Sequential([layers.Input((5,)), layers.Dense(8, activation="tanh"),
                             layers.Dense(2)])
    model.compile(loss="mse", optimizer=cydl.optimizers.SGD(learning_rate=schedule),
                  run_eagerly=eager)
    initial = model.get_weights()
    rates = []

    class Rates(cydl.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            rates.append(float(self.model.optimizer.learning_rate))
    model.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0,
              callbacks=[Rates()] if record else None)
    assert model._runner(train=True).fused is not eager
    return x, y, initial, model.get_weights(), rates


@pytest.mark.parametrize("name", ["sgdr", "onecycle", "cyclical"])
def test_schedules_drive_the_fused_step_as_torch_does(name):
    """16 steps of SGD: the rate at each step is the schedule's, the fused step and
    the graph runner end at the same weights, and torch with the matching scheduler
    (stepped once per batch) ends there too."""
    torch = pytest.importorskip("torch")
    make = {"sgdr": lambda: S.CosineDecayRestarts(0.05, first_decay_steps=3),
            "onecycle": lambda: S.OneCycle(0.08, total_steps=16),
            "cyclical": lambda: S.CyclicalLearningRate(0.005, 0.05, step_size=3)}[name]
    x, y, initial, fused_w, rates = _train(make(), False, True)
    _, _, _, graph_w, _ = _train(make(), True, False)
    schedule = make()
    np.testing.assert_allclose(rates, [schedule(k) for k in range(16)], rtol=1e-15)
    for a, b in zip(fused_w, graph_w):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    # torch, with torch's scheduler where there is one
    T = [torch.tensor(w, requires_grad=True) for w in initial]
    opt = torch.optim.SGD(T, lr=0.05)
    sched = {"sgdr": lambda: None,
             "onecycle": lambda: torch.optim.lr_scheduler.OneCycleLR(
                 opt, max_lr=0.08, total_steps=16, cycle_momentum=False),
             "cyclical": lambda: torch.optim.lr_scheduler.CyclicLR(
                 opt, base_lr=0.005, max_lr=0.05, step_size_up=3,
                 cycle_momentum=False)}[name]()
    xt, yt = torch.tensor(x), torch.tensor(y)
    for k in range(16):
        if sched is None:        # torch has no SGDR of Keras' form: the closed form
            for group in opt.param_groups:
                group["lr"] = schedule(k)
        rows = slice(16 * (k % 4), min(16 * (k % 4) + 16, 60))
        out = torch.tanh(xt[rows] @ T[0] + T[1]) @ T[2] + T[3]
        loss = ((out - yt[rows]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    for a, t in zip(fused_w, T):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-9, atol=1e-12)


_KERAS_OPT_CONFIG = """
import keras
S = keras.optimizers.schedules
made = {"ExponentialDecay": S.ExponentialDecay(0.01, 1000, 0.9),
        "PiecewiseConstantDecay": S.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001]),
        "CosineDecay": S.CosineDecay(0.1, 500, alpha=0.05)}
result = {k: keras.optimizers.Adam(learning_rate=v).get_config()["learning_rate"]
          for k, v in made.items()}
"""


def test_optimizer_config_with_a_schedule_round_trips_in_keras_form():
    # Keras 3 writes a schedule inside an optimizer's config as a nested
    # {"module", "class_name", "config"} dict; cydl writes the same and reads Keras's back
    S = cydl.optimizers.schedules
    ours = {"ExponentialDecay": S.ExponentialDecay(0.01, 1000, 0.9),
            "PiecewiseConstantDecay": S.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001]),
            "CosineDecay": S.CosineDecay(0.1, 500, alpha=0.05)}
    theirs = run_keras(_KERAS_OPT_CONFIG, {}, float64=False)
    for name, schedule in ours.items():
        config = cydl.optimizers.Adam(learning_rate=schedule).get_config()
        assert config["learning_rate"]["class_name"] == theirs[name]["class_name"] == name
        assert config["learning_rate"]["module"] == theirs[name]["module"]
        for source in (config, dict(config, learning_rate=theirs[name])):
            again = cydl.optimizers.Adam.from_config(source)
            via_get = cydl.optimizers.get({"class_name": "Adam", "config": source})
            for step in (0, 7, 15, 400, 2000):
                want = float(schedule(step))
                assert float(again._learning_rate(step)) == pytest.approx(want, rel=1e-12)
                assert float(via_get._learning_rate(step)) == pytest.approx(want, rel=1e-12)


def test_an_unknown_schedule_in_a_config_names_it():
    config = cydl.optimizers.SGD().get_config()
    config["learning_rate"] = {"class_name": "NoSuchDecay", "config": {}}
    with pytest.raises(ValueError, match="NoSuchDecay"):
        cydl.optimizers.SGD.from_config(config)

"""cydl.tuner's HyperParameters and Objective: keras_tuner's defaults, values and
errors, and what Optuna samples for each kind (checked against the grids and
distributions keras_tuner documents; the searches here train nothing)."""
import numpy as np
import pytest

optuna = pytest.importorskip("optuna", reason="cydl.tuner needs Optuna: pip install 'cydl[tuner]'")
scipy_stats = pytest.importorskip("scipy.stats")

import cydl.tuner as kt  # noqa: E402


def test_defaults_and_values_outside_a_search():
    hp = kt.HyperParameters()
    assert hp.Int("n_hidden", min_value=0, max_value=8, default=2) == 2
    assert hp.Int("n_neurons", min_value=16, max_value=256) == 16          # min_value
    assert hp.Float("lr", 1e-4, 1e-2, sampling="log") == pytest.approx(1e-4)
    assert hp.Choice("optimizer", values=["sgd", "adam"]) == "sgd"          # the first
    assert hp.Boolean("normalize") is False
    assert hp.Fixed("batch_size", 32) == 32
    assert hp.values == {"n_hidden": 2, "n_neurons": 16, "lr": pytest.approx(1e-4),
                         "optimizer": "sgd", "normalize": False, "batch_size": 32}
    assert hp.get("optimizer") == hp["optimizer"] == "sgd" and "normalize" in hp
    with pytest.raises(KeyError, match="nope does not exist"):
        hp.get("nope")
    # a name asked for again returns its value, not a new one
    assert hp.Int("n_hidden", 0, 8) == 2 and len(hp.space) == 6
    copied = kt.HyperParameters.from_config(hp.get_config())
    assert copied.values == hp.values and [type(p) for p in copied.space] == \
        [type(p) for p in hp.space]


def test_grids_follow_keras_tuner():
    # keras_tuner's documented examples: Int(6, 13, step=3) -> 6, 9, 12;
    # Int(2, 32, step=2, sampling="log") -> 2, 4, 8, 16, 32
    assert kt.Int("a", 6, 13, step=3).values == (6, 9, 12)
    assert kt.Int("b", 2, 32, step=2, sampling="log").values == (2, 4, 8, 16, 32)
    assert kt.Float("c", 0.0, 1.0, step=0.25).values == (0.0, 0.25, 0.5, 0.75, 1.0)


def test_conditional_scope_outside_a_search():
    hp = kt.HyperParameters()
    model_type = hp.Choice("model_type", ["mlp", "cnn"])
    with hp.conditional_scope("model_type", ["mlp"]):
        units = hp.Int("units", 8, 64)
    with hp.conditional_scope("model_type", ["cnn"]):
        filters = hp.Int("filters", 4, 16)
    assert (model_type, units, filters) == ("mlp", 8, None)
    assert hp.values == {"model_type": "mlp", "units": 8}
    assert hp.is_active("units") and not hp.is_active("filters")
    with pytest.raises(ValueError, match="filters is currently inactive"):
        hp.get("filters")
    # the parent_name/parent_values shortcut is the same scope
    assert hp.Int("kernel", 3, 5, parent_name="model_type", parent_values=["cnn"]) is None
    with pytest.raises(ValueError, match="named: missing not defined"):
        with hp.conditional_scope("missing", [1]):
            pass


@pytest.mark.parametrize("make, error, match", [
    (lambda hp: hp.Int("a", 5, 1), ValueError, "min_value 5 is greater than the max_value 1"),
    (lambda hp: hp.Float("a", 2.0, 1.0), ValueError, "greater than the max_value"),
    (lambda hp: hp.Float("a", 0.1, 1.0, sampling="cubic"), ValueError, "sampling.*'cubic'"),
    (lambda hp: hp.Float("a", 0.0, 1.0, sampling="log"), ValueError, "min_value > 0"),
    (lambda hp: hp.Int("a", 1, 64, step=1, sampling="log"), ValueError, "step > 1"),
    (lambda hp: hp.Int("a", 1.5, 4), ValueError, "min_value` must be an int"),
    (lambda hp: hp.Int("a", "1", 4), TypeError, "min_value"),
    (lambda hp: hp.Float("a", 0.0, float("nan")), TypeError, "max_value"),
    (lambda hp: hp.Int("a", 1, 4, default=9), ValueError, "default"),
    (lambda hp: hp.Choice("a", []), ValueError, "non-empty"),
    (lambda hp: hp.Choice("a", [1, "b"]), TypeError, "one type"),
    (lambda hp: hp.Choice("a", ["x", "y"], default="z"), ValueError, "one of the choices"),
    (lambda hp: hp.Choice("a", ["x", "y"], ordered=True), ValueError, "ordered"),
    (lambda hp: hp.Boolean("a", default="yes"), ValueError, "Python bool"),
    (lambda hp: hp.Fixed("a", [1, 2]), ValueError, "value"),    # keras_tuner's ValueError
])
def test_bad_hyperparameters(make, error, match):
    with pytest.raises(error, match=match):
        make(kt.HyperParameters())


def test_objective_directions_and_errors():
    from cydl.tuner.objective import create_objective
    # keras_tuner's rule: strip val_/weighted_, then loss-like -> min, accuracy-like -> max,
    # any other known metric or loss -> min
    expected = {"val_accuracy": "max", "accuracy": "max", "val_acc": "max", "val_loss": "min",
                "loss": "min", "val_mae": "min", "mse": "min", "val_auc": "max",
                "weighted_accuracy": "max", "val_sparse_categorical_accuracy": "max",
                "val_root_mean_squared_error": "min"}
    assert {k: create_objective(k).direction for k in expected} == expected
    assert create_objective(None).name == "default_objective"
    assert create_objective(kt.Objective("score", "max")) == kt.Objective("score", "max")
    with pytest.raises(ValueError, match='unknown metric "val_acuracy".*kt|Objective'):
        create_objective("val_acuracy")
    with pytest.raises(ValueError, match="direction"):
        kt.Objective("val_loss", "down")
    with pytest.raises(TypeError, match="objective"):
        create_objective(3)


class _Sampling(kt.RandomSearch):
    """A search whose trials only sample (no model): run_trial returns a float."""

    def __init__(self, space, **kwargs):
        self.space, self.seen = space, []
        super().__init__(None, max_trials=kwargs.pop("max_trials", 60), overwrite=True, **kwargs)

    def run_trial(self, trial, *args, **kwargs):
        self.seen.append(self.space(trial.hyperparameters))
        return 0.0


def test_optuna_samples_keras_tuner_ranges(tmp_path):
    def space(hp):
        return (hp.Int("lin", 6, 13, step=3), hp.Int("geo", 2, 32, step=2, sampling="log"),
                hp.Float("rate", 1e-4, 1e-1, sampling="log"),
                hp.Float("rev", 1.0, 100.0, sampling="reverse_log"),
                hp.Float("grid", 0.0, 1.0, step=0.25), hp.Choice("act", ["relu", "elu"]),
                hp.Boolean("flag"), hp.Fixed("const", 7))
    tuner = _Sampling(space, directory=tmp_path, seed=0, max_trials=80)
    tuner.search()
    lin, geo, rate, rev, grid, act, flag, const = map(list, zip(*tuner.seen))
    assert set(lin) <= {6, 9, 12} and set(geo) <= {2, 4, 8, 16, 32}
    assert set(grid) <= {0.0, 0.25, 0.5, 0.75, 1.0} and set(act) == {"relu", "elu"}
    assert set(flag) == {True, False} and set(const) == {7}
    # log sampling: log10(rate) uniform on [-4, -1]; reverse_log: 101 - rev log-uniform
    assert scipy_stats.kstest(np.log10(rate), scipy_stats.uniform(-4, 3).cdf).pvalue > 1e-3
    assert scipy_stats.kstest(np.log10(101.0 - np.array(rev)),
                              scipy_stats.uniform(0, 2).cdf).pvalue > 1e-3
    assert min(rev) >= 1.0 and max(rev) <= 100.0 and np.median(rev) > 50
    # the values each trial recorded are those the search saw
    recorded = [t.hyperparameters.values for t in sorted(
        tuner.oracle.get_best_trials(80), key=lambda t: t.number)]
    assert [r["rate"] for r in recorded] == rate and all(r["const"] == 7 for r in recorded)


def test_conditional_values_only_when_active(tmp_path):
    def space(hp):
        model_type = hp.Choice("model_type", ["mlp", "cnn"])
        with hp.conditional_scope("model_type", ["mlp"]):
            hp.Int("units", 8, 64)
        with hp.conditional_scope("model_type", ["cnn"]):
            hp.Int("filters", 4, 16)
        return model_type
    tuner = _Sampling(space, directory=tmp_path, seed=1, max_trials=12)
    tuner.search()
    trials = tuner.oracle.get_best_trials(12)
    kinds = {t.hyperparameters.values["model_type"] for t in trials}
    assert kinds == {"mlp", "cnn"}
    for t in trials:
        values = t.hyperparameters.values
        active = "units" if values["model_type"] == "mlp" else "filters"
        assert set(values) == {"model_type", active}
        assert set(t._live.params if hasattr(t, "_live") else values) >= {"model_type"}
    study_params = [set(f.params) for f in tuner.oracle.study.trials]
    assert all(p in ({"model_type", "units"}, {"model_type", "filters"}) for p in study_params)


def test_search_space_summary_lists_every_conditional_branch(tmp_path, capsys):
    def build(hp):
        model_type = hp.Choice("model_type", ["mlp", "cnn"])
        with hp.conditional_scope("model_type", ["cnn"]):
            if model_type == "cnn":
                hp.Int("filters", 4, 16)
        import cydl
        model = cydl.Sequential([cydl.layers.Dense(1)])
        model.compile(loss="mse")
        return model
    tuner = kt.RandomSearch(build, objective="val_loss", max_trials=2, directory=tmp_path,
                            overwrite=True)
    tuner.search_space_summary()
    out = capsys.readouterr().out
    assert "Default search space size: 2" in out and "filters (Int)" in out
    assert "'conditions': [{'class_name': 'Parent', 'config': {'name': 'model_type', " \
           "'values': ['cnn']}}]" in out


def test_hyperparameters_given_in_advance(tmp_path):
    def space(hp):
        return hp.Int("units", 8, 64), hp.Float("rate", 1e-3, 1e-1, sampling="log")
    given = kt.HyperParameters()
    given.Fixed("units", 32)
    tuner = _Sampling(space, directory=tmp_path, project_name="fixed", max_trials=4,
                      hyperparameters=given)
    tuner.search(verbose=0)
    units, rates = zip(*tuner.seen)
    assert set(units) == {32} and len(set(rates)) == 4
    # tune_new_entries=False: the rest take their defaults
    tuner = _Sampling(space, directory=tmp_path, project_name="frozen", max_trials=2,
                      hyperparameters=given, tune_new_entries=False)
    tuner.search(verbose=0)
    assert tuner.seen == [(32, 1e-3)] * 2
    tuner = _Sampling(space, directory=tmp_path, project_name="closed", max_trials=1,
                      hyperparameters=given, allow_new_entries=False)
    with pytest.raises(kt.errors.FatalError, match="rate.*allow_new_entries=False") as info:
        tuner.search(verbose=0)
    assert isinstance(info.value, ValueError)


def test_a_list_of_objectives(tmp_path):
    class Two(kt.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            x = trial.hyperparameters.Float("x", 0.0, 1.0)
            return {"error": x, "gain": 2 * x}        # minimize error - gain = -x

    tuner = Two(None, objective=[kt.Objective("error", "min"), kt.Objective("gain", "max")],
                max_trials=4, directory=tmp_path, overwrite=True, seed=0)
    tuner.search(verbose=0)
    trials = tuner.oracle.get_best_trials(4)
    xs = [t.hyperparameters["x"] for t in trials]
    assert xs == sorted(xs, reverse=True)
    assert trials[0].score == pytest.approx(-xs[0])
    assert trials[0].metrics.get_last_value("gain") == pytest.approx(2 * xs[0])

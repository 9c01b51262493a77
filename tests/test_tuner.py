"""cydl.tuner's searches end to end on small Gaussian blobs (tests/tuner_worker.py):
the book's (Hands-On ML ch. 10) Keras Tuner code with `import cydl.tuner as kt`,
best models reloaded from their trial's weights, Hyperband's budget, Bayesian
optimization, seeds, failures and the ways `fit` may report."""
import numpy as np
import pytest

optuna = pytest.importorskip("optuna", reason="cydl.tuner needs Optuna: pip install 'cydl[tuner]'")

import cydl  # noqa: E402
import cydl.tuner as kt  # noqa: E402
from tuner_worker import blobs, build_model  # noqa: E402

(X_TRAIN, Y_TRAIN), (X_VALID, Y_VALID) = blobs()


class MyClassificationHyperModel(kt.HyperModel):
    """The book's HyperModel: `fit` may normalize the inputs first."""

    def build(self, hp):
        return build_model(hp)

    def fit(self, hp, model, X, y, **kwargs):
        if hp.Boolean("normalize"):
            norm_layer = cydl.layers.Normalization()
            X = norm_layer(X)
        return model.fit(X, y, **kwargs)


def test_book_random_search(tmp_path, capsys):
    tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=3, overwrite=True,
                            directory=tmp_path, project_name="my_rnd_search", seed=42)
    tuner.search(X_TRAIN, Y_TRAIN, epochs=3, validation_data=(X_VALID, Y_VALID))
    out = capsys.readouterr().out
    assert "Search: Running Trial #3" in out and "Best val_accuracy So Far" in out
    top3_models = tuner.get_best_models(num_models=3)
    top3_params = tuner.get_best_hyperparameters(num_trials=3)
    best_trials = tuner.oracle.get_best_trials(num_trials=3)
    scores = [t.score for t in best_trials]
    assert scores == sorted(scores, reverse=True) and len(set(t.trial_id for t in best_trials)) == 3
    # the separable blobs are learned (chance is 1/3)
    assert scores[0] > 0.8
    for model, params, trial in zip(top3_models, top3_params, best_trials):
        assert params.values == trial.hyperparameters.values
        assert trial.metrics.get_last_value("val_accuracy") == trial.score
        # the model comes back with its best epoch's weights: evaluate gives the score
        loss, accuracy = model.evaluate(X_VALID, Y_VALID, verbose=0)
        assert accuracy == pytest.approx(trial.score, abs=1e-12)
        assert loss == pytest.approx(trial.metrics.get_last_value("val_loss"), rel=1e-6)
    best_trials[0].summary()
    out = capsys.readouterr().out
    assert f"Trial {best_trials[0].trial_id} summary" in out and f"Score: {scores[0]}" in out
    tuner.results_summary()
    assert "Showing 10 best trials" in capsys.readouterr().out
    # the best model trains on
    top3_models[0].fit(X_TRAIN, Y_TRAIN, epochs=1, verbose=0)


def test_val_loss_is_the_default_objective(tmp_path):
    tuner = kt.RandomSearch(build_model, max_trials=2, directory=tmp_path, seed=1)
    tuner.search(X_TRAIN, Y_TRAIN, epochs=2, validation_data=(X_VALID, Y_VALID), verbose=0)
    best = tuner.oracle.get_best_trials(2)
    assert best[0].score <= best[1].score
    history_best = best[0].metrics.get_last_value("val_loss")
    assert best[0].score == history_best
    loss = tuner.get_best_models()[0].evaluate(X_VALID, Y_VALID, verbose=0)[0]
    assert loss == pytest.approx(best[0].score, rel=1e-6)


def _hyperband_trials_per_iteration(max_epochs, factor):
    """keras_tuner's HyperbandOracle: brackets while max_epochs / factor**b >= 1, and
    bracket b starts ceil(ceil(1 + log_factor(max_epochs)) / (b + 1) * factor**b) models."""
    import math
    n_brackets = 1 + int(math.floor(math.log(max_epochs, factor) + 1e-12))
    end = math.ceil(1 + math.log(max_epochs, factor))
    return sum(math.ceil(end / (b + 1) * factor ** b) for b in range(n_brackets))


def test_book_hyperband_with_callbacks(tmp_path):
    # the book's max_epochs=10, factor=3: brackets of 12, 6 and 4 models
    assert kt.HyperbandOracle(max_epochs=10, factor=3)._n_trials() == 22 == \
        _hyperband_trials_per_iteration(10, 3)
    early_stopping_cb = cydl.callbacks.EarlyStopping(patience=2)
    tuner = kt.Hyperband(MyClassificationHyperModel(), objective="val_accuracy", seed=42,
                         max_epochs=3, factor=3, hyperband_iterations=2, overwrite=True,
                         directory=tmp_path, project_name="hyperband")
    tuner.search(X_TRAIN, Y_TRAIN, epochs=10, validation_data=(X_VALID, Y_VALID), verbose=0,
                 callbacks=[early_stopping_cb])
    n = 2 * _hyperband_trials_per_iteration(3, 3)
    study = tuner.oracle.study
    assert len(study.trials) == n
    states = {t.state for t in study.trials}
    assert states <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    assert isinstance(tuner.oracle.study.pruner, optuna.pruners.HyperbandPruner)
    for t in study.trials:          # epochs are the steps, max_epochs overrides fit's epochs
        steps = sorted(t.intermediate_values)
        assert steps == list(range(1, len(steps) + 1))
        # EarlyStopping(patience=2) cannot stop before the third epoch: only pruning can
        # (Optuna's rungs for max_epochs=3, factor=3: after 1 epoch)
        assert (t.state.name, len(steps)) in [("COMPLETE", 3), ("PRUNED", 1)], \
            (t.number, t.state.name, t.intermediate_values)
    assert early_stopping_cb.model is None       # the user's callback was deep-copied
    values = [t.hyperparameters.values for t in tuner.oracle.get_best_trials(n)]
    assert all("normalize" in v for v in values)
    assert {v["normalize"] for v in values} == {True, False}
    best = tuner.oracle.get_best_trials(1)[0]
    model = tuner.get_best_models(1)[0]
    X_valid = X_VALID if not best.hyperparameters["normalize"] else \
        cydl.layers.Normalization()(X_VALID)
    assert model.evaluate(X_valid, Y_VALID, verbose=0)[1] == pytest.approx(best.score, abs=1e-12)


class _Quadratic(kt.BayesianOptimization):
    """A search with no model: the objective is (x - 0.3)^2 + (y - 0.7)^2."""

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        return (hp.Float("x", 0.0, 1.0) - 0.3) ** 2 + (hp.Float("y", 0.0, 1.0) - 0.7) ** 2


def test_bayesian_optimization_finds_the_minimum(tmp_path):
    tuner = _Quadratic(None, max_trials=30, num_initial_points=8, alpha=1e-4, beta=2.6,
                       seed=42, directory=tmp_path, overwrite=True)
    assert tuner.oracle.alpha == 1e-4 and tuner.oracle.beta == 2.6
    tuner.search(verbose=0)
    best = tuner.get_best_hyperparameters()[0].values
    assert abs(best["x"] - 0.3) < 0.1 and abs(best["y"] - 0.7) < 0.1
    # the model of the results beats the 8 random starting points
    scores = [t.score for t in sorted(tuner.oracle.get_best_trials(30), key=lambda t: t.number)]
    assert min(scores[8:]) < min(scores[:8])
    with pytest.raises(ValueError, match="alpha"):
        kt.BayesianOptimization(build_model, alpha=-1.0, directory=tmp_path)


def test_book_bayesian_optimization_runs(tmp_path):
    tuner = kt.BayesianOptimization(MyClassificationHyperModel(), objective="val_accuracy",
                                    seed=42, max_trials=3, alpha=1e-4, beta=2.6,
                                    overwrite=True, directory=tmp_path,
                                    project_name="bayesian_opt")
    tuner.search(X_TRAIN, Y_TRAIN, epochs=2, validation_data=(X_VALID, Y_VALID), verbose=0)
    assert [t.status for t in tuner.oracle.get_best_trials(3)] == ["COMPLETED"] * 3


def test_seed_fixes_the_sampled_values(tmp_path):
    def values(seed, name):
        tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=3, seed=seed,
                                directory=tmp_path, project_name=name)
        tuner.search(X_TRAIN, Y_TRAIN, epochs=1, validation_data=(X_VALID, Y_VALID), verbose=0)
        return [t.hyperparameters.values for t in
                sorted(tuner.oracle.get_best_trials(3), key=lambda t: t.number)]
    first, again, other = values(7, "a"), values(7, "b"), values(8, "c")
    assert first == again and first != other


def test_fit_may_return_a_dict_or_a_float(tmp_path):
    class DictModel(kt.HyperModel):
        def build(self, hp):
            return build_model(hp)

        def fit(self, hp, model, X, y, **kwargs):
            model.fit(X, y, **kwargs)
            loss, accuracy = model.evaluate(X_VALID, Y_VALID, verbose=0)
            return {"val_accuracy": accuracy, "val_loss": loss}

    class FloatModel(DictModel):
        def fit(self, hp, model, X, y, **kwargs):
            return super().fit(hp, model, X, y, **kwargs)["val_loss"]

    tuner = kt.RandomSearch(DictModel(), objective="val_accuracy", max_trials=2,
                            directory=tmp_path, project_name="dict", seed=0)
    tuner.search(X_TRAIN, Y_TRAIN, epochs=1, verbose=0)
    best = tuner.oracle.get_best_trials(1)[0]
    assert best.score == best.metrics.get_last_value("val_accuracy") and best.best_step == 0
    tuner = kt.RandomSearch(FloatModel(), max_trials=2, directory=tmp_path, project_name="f")
    tuner.search(X_TRAIN, Y_TRAIN, epochs=1, verbose=0)
    best = tuner.oracle.get_best_trials(2)
    assert best[0].score <= best[1].score
    assert best[0].metrics.get_last_value("default_objective") == best[0].score


def test_executions_per_trial_average(tmp_path):
    tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=1,
                            executions_per_trial=2, directory=tmp_path, seed=0)
    seen = []

    class Keep(cydl.callbacks.Callback):
        def on_train_end(self, logs=None):
            seen.append(self.model.history.history["val_accuracy"])

    tuner.search(X_TRAIN, Y_TRAIN, epochs=2, validation_data=(X_VALID, Y_VALID), verbose=0,
                 callbacks=[Keep()])
    assert len(seen) == 2
    # each execution's best epoch, averaged (keras_tuner)
    assert tuner.oracle.get_best_trials()[0].score == pytest.approx(np.mean([max(h) for h in seen]))


@pytest.mark.parametrize("fit, error, match", [
    (lambda model, X, y, **kw: None, kt.errors.FatalTypeError, "None. Did you forget"),
    (lambda model, X, y, **kw: "good", kt.errors.FatalTypeError, "one of float, dict"),
    (lambda model, X, y, **kw: {"val_loss": 1.0}, kt.errors.FatalValueError,
     "expected 'val_accuracy'"),
])
def test_bad_results_stop_the_search(tmp_path, fit, error, match):
    class Bad(kt.HyperModel):
        def build(self, hp):
            return build_model(hp)

        def fit(self, hp, model, X, y, **kwargs):
            return fit(model, X, y, **kwargs)

    tuner = kt.RandomSearch(Bad(), objective="val_accuracy", max_trials=2, directory=tmp_path)
    with pytest.raises(error, match=match):
        tuner.search(X_TRAIN, Y_TRAIN, epochs=1, verbose=0)
    # the trial is queued again: fixing the code and resuming runs it
    assert tuner.remaining_trials == 2


def test_objective_missing_from_the_logs(tmp_path):
    tuner = kt.RandomSearch(build_model, objective=kt.Objective("val_auc", "max"),
                            max_trials=1, directory=tmp_path)
    with pytest.raises(kt.errors.FatalValueError, match="expected 'val_auc', found:.*val_loss"):
        tuner.search(X_TRAIN, Y_TRAIN, epochs=1, validation_data=(X_VALID, Y_VALID), verbose=0)


def test_failed_trials_retry_then_stop_the_search(tmp_path):
    calls = []

    class Broken(kt.HyperModel):
        def build(self, hp):
            return build_model(hp)

        def fit(self, hp, model, *args, **kwargs):
            calls.append(hp.Int("batch_size", 8, 64))
            raise RuntimeError("cannot fit")

    tuner = kt.RandomSearch(Broken(), objective="val_loss", max_trials=5, directory=tmp_path,
                            max_retries_per_trial=1, max_consecutive_failed_trials=2, seed=0)
    with pytest.raises(RuntimeError, match="consecutive failures exceeded the limit of 2"):
        tuner.search(X_TRAIN, Y_TRAIN, epochs=1, verbose=0)
    # two trials, each run twice (one retry, with the same values), then the search stops
    assert len(calls) == 4 and calls[0] == calls[1] and calls[2] == calls[3]
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.number)
    assert [t.status for t in trials] == ["FAILED"] * 2 and "cannot fit" in trials[0].message
    assert tuner.remaining_trials == 3


@pytest.mark.parametrize("make, error, match", [
    (lambda d: kt.RandomSearch(build_model, objective="val_acuracy", directory=d), ValueError,
     "unknown metric"),
    (lambda d: kt.RandomSearch(build_model, max_trials=0, directory=d), ValueError,
     "max_trials"),
    (lambda d: kt.Hyperband(build_model, factor=1, directory=d), ValueError, "factor"),
    (lambda d: kt.Hyperband(build_model, max_epochs=0, directory=d), ValueError, "max_epochs"),
    (lambda d: kt.RandomSearch(build_model, directory=d, executions_per_trial=0), ValueError,
     "executions_per_trial"),
    (lambda d: kt.RandomSearch(build_model, directory=d, max_trail=3), ValueError,
     "Unrecognized arguments"),
    (lambda d: kt.RandomSearch("model", directory=d), TypeError, "hypermodel"),
    (lambda d: kt.RandomSearch(build_model, seed="1", directory=d), TypeError, "seed"),
])
def test_bad_tuner_arguments(tmp_path, make, error, match):
    with pytest.raises(error, match=match):
        make(tmp_path)


def test_compile_overrides_and_max_model_size(tmp_path):
    seen = []

    class Spy(cydl.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append((type(self.model.optimizer).__name__, self.model.count_params()))

    tuner = kt.RandomSearch(build_model, objective="val_loss", max_trials=2, seed=0,
                            directory=tmp_path, project_name="override", optimizer="rmsprop",
                            loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    tuner.search(X_TRAIN, Y_TRAIN, epochs=1, validation_data=(X_VALID, Y_VALID), verbose=0,
                 callbacks=[Spy()])
    assert [name for name, _ in seen] == ["RMSprop", "RMSprop"]
    # a size limit below every model: each trial fails, and the search stops
    smallest = min(size for _, size in seen)
    tuner = kt.RandomSearch(build_model, objective="val_loss", max_trials=5, seed=0,
                            directory=tmp_path, project_name="small", max_model_size=10,
                            max_consecutive_failed_trials=2)
    assert smallest > 10
    with pytest.raises(RuntimeError, match="Oversized model"):
        tuner.search(X_TRAIN, Y_TRAIN, epochs=1, validation_data=(X_VALID, Y_VALID), verbose=0)


def test_tensorboard_logs_per_trial(tmp_path):
    pytest.importorskip("tensorboardX", reason="cydl's TensorBoard writes with tensorboardX")
    tensorboard_cb = cydl.callbacks.TensorBoard(tmp_path / "logs")
    tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=2, seed=0,
                            directory=tmp_path, project_name="tb")
    tuner.search(X_TRAIN, Y_TRAIN, epochs=1, validation_data=(X_VALID, Y_VALID), verbose=0,
                 callbacks=[tensorboard_cb])
    # keras_tuner's layout: log_dir/<trial_id>/execution<i>/{train,validation}
    for trial_id in ("0", "1"):
        run = tmp_path / "logs" / trial_id / "execution0"
        assert any((run / "train").iterdir()) and any((run / "validation").iterdir())
    assert tensorboard_cb.log_dir == str(tmp_path / "logs")

"""cydl.tuner.OptunaPruningCallback in a plain Optuna study: it reports the epochs'
values (those of the History) and stops a hopeless trial when the pruner says so."""
import pytest

optuna = pytest.importorskip("optuna", reason="cydl.tuner needs Optuna: pip install 'cydl[tuner]'")

import cydl  # noqa: E402
import cydl.tuner as kt  # noqa: E402
from tuner_worker import blobs  # noqa: E402

(X_TRAIN, Y_TRAIN), (X_VALID, Y_VALID) = blobs()
EPOCHS = 4


def _objective(histories, monitor="val_loss"):
    def objective(trial):
        cydl.utils.set_random_seed(0)
        model = cydl.Sequential([cydl.layers.Input(shape=(4,)),
                                 cydl.layers.Dense(16, activation="relu"),
                                 cydl.layers.Dense(3, activation="softmax")])
        lr = trial.suggest_float("learning_rate", 1e-8, 1e-1, log=True)
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      optimizer=cydl.optimizers.Adam(lr))
        callback = kt.OptunaPruningCallback(trial, monitor=monitor)
        history = model.fit(X_TRAIN, Y_TRAIN, epochs=EPOCHS, verbose=0, callbacks=[callback],
                            validation_data=(X_VALID, Y_VALID))
        histories.append(history.history[monitor])
        return history.history[monitor][-1]
    return objective


@pytest.mark.parametrize("monitor, direction", [("val_loss", "minimize"),
                                                ("val_accuracy", "maximize")])
def test_a_hopeless_trial_is_pruned(monitor, direction):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction,
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    study.enqueue_trial({"learning_rate": 0.05})          # learns
    study.enqueue_trial({"learning_rate": 1e-8})          # cannot move in 4 epochs
    histories = []
    study.optimize(_objective(histories, monitor), n_trials=2)
    good, hopeless = study.trials
    assert good.state == optuna.trial.TrialState.COMPLETE
    assert hopeless.state == optuna.trial.TrialState.PRUNED
    # what was reported is the History's values, by epoch index
    assert good.intermediate_values == dict(enumerate(histories[0]))
    assert len(histories) == 1 and len(hopeless.intermediate_values) < EPOCHS
    assert good.value == histories[0][-1]


def test_missing_metric_warns():
    study = optuna.create_study()
    trial = study.ask()
    callback = kt.OptunaPruningCallback(trial, monitor="val_loss")
    with pytest.warns(RuntimeWarning, match="'val_loss' is not in the logs"):
        callback.on_epoch_end(0, {"loss": 1.0})
    assert trial.should_prune() is False
    with pytest.raises(TypeError, match="monitor"):
        kt.OptunaPruningCallback(trial, monitor=None)
    assert study.trials[0].intermediate_values == {}

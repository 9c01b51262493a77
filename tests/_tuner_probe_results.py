"""The probe's objectives, metrics tracking, trial summaries and searches (see
_tuner_probe.py)."""
from _tuner_probe import outcome, printed, typed


# log names: Keras 3's metrics and losses (functions, and classes in snake_case), aliases,
# prefixes, cydl's own aliases, generic and unknown names
DIRECTION_NAMES = [
    "accuracy", "acc", "val_accuracy", "val_acc", "weighted_accuracy", "auc", "val_auc",
    "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "precision", "recall",
    "true_negatives", "true_positives", "false_negatives", "false_positives", "loss",
    "val_loss", "val_weighted_loss", "ce", "crossentropy", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_focal_crossentropy",
    "categorical_focal_crossentropy", "categorical_generalized_cross_entropy", "hinge",
    "squared_hinge", "categorical_hinge", "huber", "log_cosh", "log_cosh_error",
    "kl_divergence", "poisson", "ctc", "dice", "tversky", "circle", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_error", "mean_squared_logarithmic_error",
    "root_mean_squared_error", "mae", "val_mae", "mape", "mse", "msle", "f1_score",
    "val_f1_score", "fbeta_score", "f_beta_score", "r2_score", "cosine_similarity",
    "pearson_correlation", "concordance_correlation", "binary_io_u", "io_u", "mean_io_u",
    "one_hot_io_u", "one_hot_mean_io_u", "precision_at_recall", "recall_at_precision",
    "sensitivity_at_specificity", "specificity_at_sensitivity", "mean", "sum", "rmse",
    "huber_loss", "kld", "logcosh", "cosine_proximity", "iou", "my_metric", "val_my_metric"]


def objectives(kt, lib, out):
    if lib == "keras_tuner":
        from keras_tuner.engine.metrics_tracking import infer_metric_direction
        oracle_cls = kt.oracles.RandomSearchOracle
    else:
        from cydl.tuner.objective import infer_metric_direction
        oracle_cls = kt.RandomSearchOracle
    out["directions"] = {}
    for name in DIRECTION_NAMES:
        try:
            out["directions"][name] = infer_metric_direction(name)
        except Exception:          # noqa: BLE001  (keras_tuner fails on a few names)
            out["directions"][name] = "error"

    def objective(arg):
        o = oracle_cls(objective=arg, max_trials=1).objective
        return [type(o).__name__, o.name, o.direction, str(o)]
    given = kt.Objective("val_f1", direction="max")
    out["objectives"] = {
        "default": outcome(lambda: objective(None)),
        "val_accuracy": outcome(lambda: objective("val_accuracy")),
        "loss": outcome(lambda: objective("loss")),
        "mae": outcome(lambda: objective("mae")),
        "unknown": outcome(lambda: objective("my_metric")),
        "not_a_name": outcome(lambda: objective(3)),
        "given": outcome(lambda: objective(given)),
        "list": outcome(lambda: objective(["val_loss", given])),
        "multi_eq": [oracle_cls(objective=["val_loss", given]).objective ==
                     oracle_cls(objective=[given, "val_loss"]).objective,
                     oracle_cls(objective=["val_loss", given]).objective ==
                     oracle_cls(objective=["val_loss"]).objective],
        "str": str(given), "eq": [given == kt.Objective("val_f1", "max"),
                                  given == kt.Objective("val_f1", "min")],
        "better": [given.better_than(2, 1), given.better_than(1, 2),
                   kt.Objective("l", "min").better_than(1, 2)],
        "logs": [given.has_value({"val_f1": 0.5}), given.has_value({"f1": 0.5}),
                 given.get_value({"val_f1": 0.5, "f1": 0.1})]}


def metrics(kt, lib, out):
    trial_cls = kt.engine.trial.Trial if lib == "keras_tuner" else kt.Trial
    hp = kt.HyperParameters()
    hp.Int("units", 8, 64)
    hp.Choice("activation", ["relu", "tanh"])
    trial = trial_cls(hp, trial_id="07")
    m = trial.metrics
    m.register("val_accuracy")
    improved = [bool(m.update("val_accuracy", v, step=s))
                for v, s in [(0.5, 0), (0.7, 1), (0.6, 2), (0.9, 1), (0.2, 3)]]
    improved += [bool(m.update("loss", v, step=s)) for v, s in [(2.0, 0), (1.0, 1), (1.5, 2)]]
    m.register("custom", direction="max")
    m.update("custom", 3, step=5)

    def read(name):
        history = m.get_history(name)
        return {"history": [[type(o).__name__, o.step, o.value, float(o.mean())]
                             for o in history],
                "best": typed(float(m.get_best_value(name))), "best_step": m.get_best_step(name),
                "last": float(m.get_last_value(name)), "direction": m.get_direction(name),
                "statistics": m.get_statistics(name)}
    out["metrics"] = {"improved": improved, "names": sorted(m.metrics),
                      "read": {n: read(n) for n in ("val_accuracy", "loss", "custom")},
                      "unknown": [outcome(lambda f=f: f("nope")) for f in (
                          m.get_history, m.get_best_value, m.get_last_value)],
                      "register_again": outcome(lambda: m.register("loss")),
                      "exists": [m.exists("loss"), m.exists("nope")]}
    trial.score, trial.best_step = 0.9, 1
    empty = trial_cls(kt.HyperParameters(), trial_id="3", message="Traceback: boom")
    out["trial_summary"] = {"scored": printed(trial.summary), "empty": printed(empty.summary),
                            "status": [trial.status, empty.status, trial.best_step]}


def search(kt, directory, out):
    def build(hp):
        hp.Int("units", 1, 100)
        hp.Choice("activation", ["relu", "tanh"])
        with hp.conditional_scope("activation", ["tanh"]):
            hp.Float("slope", 0.1, 0.5)
        return None

    started = []

    class Search(kt.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            started.append(sorted(trial.hyperparameters.values))
            return trial.hyperparameters.Int("units", 1, 100) / 100

    tuner = Search(build, objective=kt.Objective("score", "max"), max_trials=5, seed=1,
                   directory=directory, project_name="search", overwrite=True)
    out["search_space_summary"] = printed(tuner.search_space_summary)
    progress = printed(tuner.search)                  # verbose: the progress display
    best_hps, trials = tuner.get_best_hyperparameters(3), tuner.oracle.get_best_trials(10)
    scores = [t.score for t in trials]
    out["search"] = {
        "remaining": tuner.remaining_trials,
        "values_at_start": [s == sorted(t.hyperparameters.values)
                            for s, t in zip(started, sorted(trials, key=lambda t: t.trial_id))],
        "best_hyperparameters": [type(h).__name__ for h in best_hps] + [type(best_hps).__name__],
        "best_trials": [type(t).__name__ for t in trials] + [type(trials).__name__],
        "same": [h.values == t.hyperparameters.values for h, t in zip(best_hps, trials)],
        "sorted": scores == sorted(scores, reverse=True),
        "statuses": [t.status for t in trials], "floats": [isinstance(s, float) for s in scores],
        "best_steps": [t.best_step for t in trials],
        "trial_ids": sorted(t.trial_id for t in trials),
        "metrics": [[sorted(t.metrics.metrics), bool(t.metrics.get_last_value("score") == t.score),
                     t.metrics.get_direction("score")] for t in trials],
        "one": len(tuner.get_best_hyperparameters()), "all": len(tuner.oracle.trials)}
    out["progress"] = progress
    out["results_summary"] = [line.replace(directory, "<dir>")
                              for line in printed(lambda: tuner.results_summary(3))]

    class OneEpoch(kt.Hyperband):             # Hyperband's trial ids, one trial
        def run_trial(self, trial, *args, **kwargs):
            return 0.5
    tuner = OneEpoch(build, objective=kt.Objective("score", "max"), max_epochs=1,
                     directory=directory, project_name="hyperband_ids", overwrite=True)
    tuner.search(verbose=0)
    out["search"]["hyperband_ids"] = [t.trial_id for t in tuner.oracle.get_best_trials(3)]

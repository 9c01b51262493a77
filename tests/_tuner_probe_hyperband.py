"""The probe's Hyperband: keras_tuner's schedule formulas, and the epochs each
configuration trains in a search where the scores are given (see _tuner_probe.py)."""

# (max_epochs, factor, hyperband_iterations): the book's, and other shapes of brackets
HYPERBAND_SETTINGS = [(10, 3, 2), (9, 3, 1), (27, 3, 1), (5, 2, 1), (1, 3, 1), (30, 4, 1)]


def _score(i, order):
    """The score of the i-th configuration (maximized): distinct values, shuffled or
    decreasing, the same in both libraries."""
    return (i * 7919 % 1009) / 1009 if order == "shuffled" else 1 - i / 1000


def _keras_tuner_hyperband(kt, directory, setting, order):
    """Each configuration's (bracket, epochs) in a real keras_tuner Hyperband search."""
    configs, index = [], {}

    class Hyperband(kt.Hyperband):
        def run_trial(self, trial, *args, **kwargs):
            v = trial.hyperparameters.values
            if v["tuner/round"] == 0:
                index[trial.trial_id] = len(configs)
                configs.append([v["tuner/bracket"], v["tuner/epochs"]])
            else:
                index[trial.trial_id] = index[v["tuner/trial_id"]]
                configs[index[trial.trial_id]][1] = v["tuner/epochs"]
            return _score(index[trial.trial_id], order)

    max_epochs, factor, iterations = setting
    Hyperband(lambda hp: hp.Float("x", 0.0, 1.0) and None, objective=kt.Objective("score", "max"),
              max_epochs=max_epochs, factor=factor, hyperband_iterations=iterations,
              directory=directory, project_name=f"hb_{order}_{max_epochs}_{factor}_{iterations}",
              overwrite=True).search(verbose=0)
    return configs


def _cydl_hyperband(oracle, setting, order):
    """Each trial's (bracket, epochs) when its steps are reported to cydl's pruner as
    the tuner's callback reports them (step = epochs done, no pruning after the last)."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=oracle._pruner())
    configs = []
    for i in range(oracle._n_trials()):
        trial = study.ask()
        for epoch in range(1, setting[0] + 1):
            trial.report(_score(i, order), epoch)
            if epoch < setting[0] and trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, _score(i, order))
        configs.append([None, epoch])      # Optuna assigns the bracket internally
    return configs


def hyperband(kt, lib, directory, out):
    out["hyperband"] = []
    for setting in HYPERBAND_SETTINGS:
        max_epochs, factor, iterations = setting
        oracle = (kt.oracles if lib == "keras_tuner" else kt).HyperbandOracle(
            max_epochs=max_epochs, factor=factor, hyperband_iterations=iterations)
        schedule = [[b, [[oracle._get_size(b, r), oracle._get_epochs(b, r)]
                         for r in range(oracle._get_num_rounds(b))]]
                    for b in reversed(range(oracle._get_num_brackets()))]
        runs = {order: (_keras_tuner_hyperband(kt, directory, setting, order)
                        if lib == "keras_tuner" else _cydl_hyperband(oracle, setting, order))
                for order in ("shuffled", "best_first")}
        out["hyperband"].append({
            "schedule": schedule, "configurations": [b for b, _ in runs["shuffled"]],
            "epochs": {order: [e for _, e in configs] for order, configs in runs.items()}})

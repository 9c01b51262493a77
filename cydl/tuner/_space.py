"""The search space known before the first trial (keras_tuner's
`_populate_initial_space`): what `search_space_summary` shows, and the dimension
BayesianOptimization's default number of initial points depends on."""


def populate_initial_space(tuner):
    """Build the hypermodel with default values, then again with the parents of
    never-active conditional scopes set, until every scope was seen active."""
    if tuner.hypermodel is None:
        return
    hp = tuner.oracle.get_space()
    tuner.hypermodel.declare_hyperparameters(hp)
    tuner.oracle.update_space(hp)
    once, never = [], []
    hp = tuner.oracle.get_space()
    for _ in range(100):       # each pass activates at least one more scope
        tuner._build_hypermodel(hp)
        tuner.oracle.update_space(hp)
        for scope in hp.active_scopes:
            if scope not in once:
                once.append(scope)
            if scope in never:
                never.remove(scope)
        never += [s for s in hp.inactive_scopes if s not in once and s not in never]
        if not never:
            return
        hp = tuner.oracle.get_space()
        hp.values = {c.name: c.values[0] for c in never[0]}
        hp._populate()

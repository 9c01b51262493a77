"""The probe tests/test_tuner_keras_tuner.py runs on keras_tuner (in a subprocess) and on
cydl.tuner: the same calls, their observations as JSON. Imports neither library. Here:
HyperParameters; the objectives, metrics and searches in _tuner_probe_results.py;
Hyperband in _tuner_probe_hyperband.py."""
import contextlib
import io


def typed(value):
    return [type(value).__name__, value]


def outcome(fn):
    """["raises", the first of KeyError/TypeError/ValueError it is] or ["returns", value]."""
    try:
        value = fn()
    except Exception as e:        # noqa: BLE001  (the kind of error is the observation)
        return ["raises", next((c.__name__ for c in (KeyError, TypeError, ValueError)
                                if isinstance(e, c)), type(e).__name__)]
    return ["returns", typed(value)]


def printed(fn):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        fn()
    return buffer.getvalue().splitlines()


def _hyperparameters(kt, out):
    hp = kt.HyperParameters()
    calls = [
        ("int", lambda: hp.Int("int", 0, 10)),
        ("int_default", lambda: hp.Int("int_default", 0, 10, default=4)),
        ("int_step", lambda: hp.Int("int_step", 6, 13, step=3)),
        ("int_log", lambda: hp.Int("int_log", 2, 32, step=2, sampling="log")),
        ("int_log_nostep", lambda: hp.Int("int_log_nostep", 1, 100, sampling="log")),
        ("int_sampling_none", lambda: hp.Int("int_sampling_none", 1, 5, sampling=None)),
        ("float", lambda: hp.Float("float", 0.1, 1.0)),
        ("float_ints", lambda: hp.Float("float_ints", 1, 3)),
        ("float_step", lambda: hp.Float("float_step", 0.0, 1.0, step=0.25)),
        ("float_log", lambda: hp.Float("float_log", 1e-4, 1e-2, sampling="log")),
        ("float_rlog", lambda: hp.Float("float_rlog", 0.5, 0.999, sampling="reverse_log")),
        ("float_default", lambda: hp.Float("float_default", 0.0, 1.0, default=0.5)),
        ("choice", lambda: hp.Choice("choice", ["relu", "tanh"])),
        ("choice_int", lambda: hp.Choice("choice_int", [3, 1, 2])),
        ("choice_float", lambda: hp.Choice("choice_float", [0.5, 0.25], ordered=False)),
        ("choice_default", lambda: hp.Choice("choice_default", ["a", "b"], default="b")),
        ("bool", lambda: hp.Boolean("bool")),
        ("bool_true", lambda: hp.Boolean("bool_true", default=True)),
        ("fixed", lambda: hp.Fixed("fixed", 32)),
        ("fixed_str", lambda: hp.Fixed("fixed_str", "adam")),
        ("again_other_settings", lambda: hp.Int("int", 5, 20)),       # the first's value
        ("again_other_kind", lambda: hp.Choice("int", [7, 8])),
    ]
    out["returned"] = {name: outcome(fn) for name, fn in calls}
    out["values"] = [[name, typed(v)] for name, v in hp.values.items()]
    out["configs"] = [[type(p).__name__, p.get_config()] for p in hp.space]
    out["errors"] = {
        name: outcome(lambda fn=fn: fn(kt.HyperParameters())) for name, fn in [
            ("int_min_above_max", lambda h: h.Int("a", 5, 1)),
            ("float_min_above_max", lambda h: h.Float("a", 2.0, 1.0)),
            ("unknown_sampling", lambda h: h.Float("a", 0.1, 1.0, sampling="cubic")),
            ("log_from_zero", lambda h: h.Float("a", 0.0, 1.0, sampling="log")),
            ("int_log_step_1", lambda h: h.Int("a", 1, 64, step=1, sampling="log")),
            ("int_not_integral", lambda h: h.Int("a", 1.5, 4)),
            ("int_step_not_integral", lambda h: h.Int("a", 1, 4, step=0.5)),
            ("choice_empty", lambda h: h.Choice("a", [])),
            ("choice_mixed", lambda h: h.Choice("a", [1, "b"])),
            ("choice_bad_type", lambda h: h.Choice("a", [[1], [2]])),
            ("choice_bad_default", lambda h: h.Choice("a", ["x", "y"], default="z")),
            ("choice_ordered_str", lambda h: h.Choice("a", ["x", "y"], ordered=True)),
            ("boolean_default", lambda h: h.Boolean("a", default="yes")),
            ("fixed_list", lambda h: h.Fixed("a", [1, 2])),
            ("get_unknown", lambda h: h.get("nope")),
            ("scope_unknown_parent", lambda h: h.conditional_scope("nope", [1]).__enter__()),
        ]}
    grids = [("Int", 6, 13, 3, "linear"), ("Int", 2, 32, 2, "log"), ("Int", 0, 9, None, "linear"),
             ("Int", 1, 20, 3, "linear"), ("Int", 1, 100, None, "log"),
             ("Int", 1, 100, None, "reverse_log"), ("Int", 3, 200, 3, "reverse_log"),
             ("Float", 0.0, 1.0, 0.25, "linear"), ("Float", 0.0, 1.0, 0.3, "linear"),
             ("Float", 1e-3, 1.0, None, "log"), ("Float", 1e-3, 1.0, 10.0, "log"),
             ("Float", 0.1, 0.9, None, "linear"), ("Float", 0.5, 0.999, None, "reverse_log")]
    out["grids"] = {}
    for kind, lo, hi, step, sampling in grids:
        h = kt.HyperParameters()
        getattr(h, kind)("x", lo, hi, step=step, sampling=sampling)
        out["grids"][f"{kind}({lo}, {hi}, step={step}, {sampling})"] = sorted(h.space[0].values)


def _conditional(kt, out):
    hp = kt.HyperParameters()
    seen = {"model": hp.Choice("model", ["mlp", "cnn", "rnn"])}
    with hp.conditional_scope("model", ["mlp", "rnn"]):
        seen["units"] = hp.Int("units", 8, 64)
        with hp.conditional_scope("units", [8]):          # nested: both conditions
            seen["nested"] = hp.Boolean("nested", default=True)
    with hp.conditional_scope("model", "cnn"):              # one value, not a list
        seen["filters"] = hp.Int("filters", 4, 16)
        seen["units_cnn"] = hp.Int("units", 100, 200)        # same name, other scope
    seen["kernel"] = hp.Int("kernel", 3, 5, parent_name="model", parent_values=["cnn"])
    names = ["model", "units", "nested", "filters", "kernel", "nope"]
    # (before is_active: keras_tuner's is_active("nope") registers the name "nope")
    state = {"get": {n: outcome(lambda n=n: hp.get(n)) for n in names},
             "contains": {n: n in hp for n in names},
             "returned": {k: typed(v) for k, v in seen.items()},
             "values": sorted(hp.values.items()),
             "active": {n: hp.is_active(n) for n in names},
             "active_objects": [[p.name, hp.is_active(p)] for p in hp.space],
             "scopes": [len(hp.active_scopes), len(hp.inactive_scopes)],
             "conditions": [[p.name, [c.get_config() for c in p.conditions]] for p in hp.space]}
    hp.values["model"] = "cnn"            # what a trial with the other branch sees
    state["active_after"] = {n: hp.is_active(n) for n in names}
    state["again_after"] = [outcome(lambda: hp.Int("filters", 4, 16, parent_name="model",
                                                    parent_values="cnn")),
                            outcome(lambda: hp.Int("units", 8, 64, parent_name="model",
                                                    parent_values=["mlp", "rnn"]))]
    with hp.name_scope("block"):
        state["name_scope"] = [outcome(lambda: hp.Int("depth", 1, 3)), sorted(hp.values)]
    copied = hp.copy()
    state["copy"] = [sorted(copied.values.items()), [p.name for p in copied.space]]
    out["conditional"] = state


def probe(kt, lib, directory):
    """Everything observed of `kt` (keras_tuner or cydl.tuner), JSON-ready."""
    from _tuner_probe_hyperband import hyperband
    from _tuner_probe_results import metrics, objectives, search
    out = {}
    _hyperparameters(kt, out)
    _conditional(kt, out)
    objectives(kt, lib, out)
    metrics(kt, lib, out)
    search(kt, directory, out)
    hyperband(kt, lib, directory, out)
    return out

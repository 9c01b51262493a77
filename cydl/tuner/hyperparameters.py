"""HyperParameters: the search space and one trial's values (keras_tuner's API).

Inside a search the container is bound to an Optuna trial: the space known when the
trial starts is sampled then (as keras_tuner does), and a hyper-parameter met for the
first time is registered and, when active, sampled by Optuna (`trial.suggest_*`,
define-by-run). Outside a search each takes its default, or the value recorded for a
finished trial."""
import collections
import contextlib

from cydl.tuner import conditions, errors, hp_numerical, hp_types
from cydl.tuner._hp_kinds import HyperParameterKinds

_KINDS = {c.__name__: c for c in (hp_types.Choice, hp_types.Boolean, hp_types.Fixed,
                                  hp_numerical.Int, hp_numerical.Float)}


class HyperParameters(HyperParameterKinds):
    """Container for a hyper-parameter space and the current values.

    Only active hyper-parameters (all their conditions met) have values in `values`.

    Example:
    >>> hp = cydl.tuner.HyperParameters()
    >>> hp.Int("units", min_value=32, max_value=512, step=32)
    32
    >>> hp.values
    {'units': 32}
    """

    def __init__(self):
        self._name_scopes, self._conditions = [], []
        self._hps = collections.defaultdict(list)     # name -> [hp with those conditions]
        self._space = []
        self.values = {}
        self.active_scopes, self.inactive_scopes = [], []
        self._trial = None          # the Optuna trial sampling new values, in a search
        self._tune_new, self._allow_new = True, True

    @property
    def space(self):
        return list(self._space)

    @contextlib.contextmanager
    def name_scope(self, name):
        self._name_scopes.append(name)
        try:
            yield
        finally:
            self._name_scopes.pop()

    @contextlib.contextmanager
    def conditional_scope(self, parent_name, parent_values):
        """Hyper-parameters created inside are active only while the hyper-parameter
        `parent_name` takes one of `parent_values`; inactive ones return None and
        stay out of `values` (the code inside runs either way).

        Args:
            parent_name: the name of an existing hyper-parameter.
            parent_values: the parent values (a list, or one value) that activate it.
        """
        parent_name = self._get_name(parent_name)
        if not self._exists(parent_name):
            raise ValueError(f"`HyperParameter` named: {parent_name} not defined.")
        condition = conditions.Parent(parent_name, parent_values)
        self._conditions.append(condition)
        scopes = self.active_scopes if condition.is_active(self.values) else self.inactive_scopes
        scopes.append(list(self._conditions))
        try:
            yield
        finally:
            self._conditions.pop()

    def is_active(self, hyperparameter):
        """Whether all the conditions of a hyper-parameter (object or name) are met."""
        if isinstance(hyperparameter, hp_types.HyperParameter):
            return self._active(hyperparameter.conditions)
        return any(self._active(hp.conditions) for hp in self._hps.get(str(hyperparameter), ()))

    def _active(self, conditions):
        return all(c.is_active(self.values) for c in conditions)

    def _exists(self, name, conditions=None):
        conditions = self._conditions if conditions is None else conditions
        return any(hp.conditions == conditions for hp in self._hps.get(name, ()))

    def _get_name(self, name):
        return "/".join(self._name_scopes + [name]) if self._name_scopes else name

    def _retrieve(self, hp):
        if self._exists(hp.name, hp.conditions):
            return self.values[hp.name] if self.is_active(hp) else None
        if not self._allow_new:
            raise errors.FatalValueError(f"The hypermodel asked for the hyper-parameter "
                                         f"{hp.name!r}, which is not in the given "
                                         f"`hyperparameters`, with allow_new_entries=False")
        return self._register(hp, tune=self._tune_new)

    def _register(self, hp, tune=True):
        self._hps[hp.name].append(hp)
        self._space.append(hp)
        if not self.is_active(hp):
            return None
        if hp.name not in self.values:
            sample = tune and self._trial is not None
            self.values[hp.name] = hp._suggest(self._trial) if sample else hp.default
        return self.values[hp.name]

    def _populate(self):
        """Sample the active registered hyper-parameters that have no value yet (the
        space given in advance through the tuner's `hyperparameters=`)."""
        for hp in self._space:
            if hp.name not in self.values and self.is_active(hp):
                self.values[hp.name] = hp._suggest(self._trial) if self._trial else hp.default

    def get(self, name):
        """The current value of an active hyper-parameter."""
        name = self._get_name(name)
        if name in self.values:
            return self.values[name]
        if name in self._hps:
            raise ValueError(f"{name} is currently inactive.")
        raise KeyError(f"{name} does not exist.")

    def __getitem__(self, name):
        return self.get(name)

    def __contains__(self, name):
        try:
            self.get(name)
            return True
        except (KeyError, ValueError):
            return False

    def merge(self, hps):
        """Add the hyper-parameters of another container (or a list) not yet here."""
        for hp in (hps.space if isinstance(hps, HyperParameters) else hps):
            if not self._exists(hp.name, hp.conditions):
                self._hps[hp.name].append(hp)
                self._space.append(hp)

    def get_config(self):
        return {"space": [{"class_name": type(hp).__name__, "config": hp.get_config()}
                          for hp in self._space], "values": dict(self.values)}

    @classmethod
    def from_config(cls, config):
        hps = cls()
        for entry in config.get("space", []):
            hp = _KINDS[entry["class_name"]].from_config(entry["config"])
            hps._hps[hp.name].append(hp)
            hps._space.append(hp)
        hps.values = dict(config.get("values", {}))
        return hps

    def copy(self):
        """A copy of the space and values, bound to no trial."""
        return HyperParameters.from_config(self.get_config())

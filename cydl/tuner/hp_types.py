"""The hyper-parameter kinds (Int, Float in hp_numerical.py; Choice, Boolean, Fixed
here), with keras_tuner's arguments, defaults and configs. Each kind knows how to
ask an Optuna trial for its value (`_suggest`): Optuna's distributions do the sampling."""
from cydl.tuner.conditions import deserialize_condition, plain_value, serialize_condition

_SAMPLINGS = ("linear", "log", "reverse_log")


class HyperParameter:
    """Base class: a name, a default and the conditions under which it is active."""

    def __init__(self, name, default=None, conditions=None):
        if not isinstance(name, str) or not name:
            raise TypeError(f"A hyper-parameter name must be a non-empty str. Received: {name!r}")
        self.name, self._default = name, default
        self.conditions = list(conditions or [])

    @property
    def default(self):
        return self._default

    def _where(self):
        return f"HyperParameters.{type(self).__name__}(name={self.name!r})"

    def get_config(self):
        return {"name": self.name, "default": self.default,
                "conditions": [serialize_condition(c) for c in self.conditions]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["conditions"] = [deserialize_condition(c) for c in config.get("conditions", [])]
        return cls(**config)

    def _suggest(self, trial):
        raise NotImplementedError


class Choice(HyperParameter):
    """One value among `values` (ints, floats, strs or bools, all of one type);
    default: the first. Optuna samples it as a categorical."""

    def __init__(self, name, values, ordered=None, default=None, **kwargs):
        super().__init__(name, default=None, **kwargs)
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not values:
            raise ValueError(f"{self._where()}: `values` must be a non-empty list. "
                             f"Received: values={values!r}")
        values = [plain_value(v, f"{self._where()}: values") for v in values]
        kinds = {type(v) for v in values}
        if len(kinds) > 1:
            raise TypeError(f"{self._where()}: all `values` must have one type. Received: "
                            f"values={values} with types {sorted(k.__name__ for k in kinds)}")
        numeric = isinstance(values[0], (int, float)) and not isinstance(values[0], bool)
        if ordered and not numeric:
            raise ValueError(f"{self._where()}: `ordered` must be False for non-numeric values")
        self.ordered = numeric if ordered is None else bool(ordered)
        self._values = values
        if default is not None and default not in values:
            raise ValueError(f"{self._where()}: the default value should be one of the "
                             f"choices. Received: values={values}, default={default!r}")
        self._default = default

    @property
    def values(self):
        return self._values

    @property
    def default(self):
        return self._values[0] if self._default is None else self._default

    def get_config(self):
        return {**super().get_config(), "values": self._values, "ordered": self.ordered}

    def _suggest(self, trial):
        return trial.suggest_categorical(self.name, self._values)


class Boolean(HyperParameter):
    """True or False; default False."""

    def __init__(self, name, default=False, **kwargs):
        if not isinstance(default, bool):
            raise ValueError(f"HyperParameters.Boolean(name={name!r}): `default` must be a "
                             f"Python bool. Received: default={default!r}")
        super().__init__(name, default=default, **kwargs)

    @property
    def values(self):
        return (True, False)

    def _suggest(self, trial):
        return trial.suggest_categorical(self.name, [True, False])


class Fixed(HyperParameter):
    """A constant recorded in the trial's values; never sampled."""

    def __init__(self, name, value, **kwargs):
        kwargs.pop("default", None)       # (earlier cydl configs carried one)
        try:
            value = plain_value(value, f"HyperParameters.Fixed(name={name!r}): `value`")
        except TypeError as e:            # keras_tuner raises a ValueError here
            raise ValueError(str(e)) from None
        super().__init__(name, default=value, **kwargs)
        self.value = value

    @property
    def values(self):
        return (self.value,)

    def get_config(self):
        config = super().get_config()
        del config["default"]                   # it is the value
        return {**config, "value": self.value}

    def _suggest(self, trial):
        return self.value

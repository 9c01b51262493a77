"""Conditions on hyper-parameters (keras_tuner's conditions module): `Parent`, active
when a parent hyper-parameter takes one of some values, and its config as keras_tuner
writes it; and the plain values hyper-parameters and conditions hold."""
import numbers


def plain_value(value, what):
    """value as a plain Python bool/int/float/str (what Optuna stores), else TypeError."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"{what} must be an int, float, str or bool. Received: {value!r} "
                    f"of type {type(value).__name__}")


class Parent:
    """Condition: active when the hyper-parameter `name` takes one of `values`.

    Args:
        name: the parent hyper-parameter's name.
        values: the parent values (a list, or one value) that activate the condition.
    """

    def __init__(self, name, values):
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if not values:
            raise ValueError(f"Parent condition on {name!r}: `values` must not be empty")
        self.name, self.values = name, [plain_value(v, "Condition values") for v in values]

    def is_active(self, values):
        return self.name in values and values[self.name] in self.values

    def __eq__(self, other):
        return isinstance(other, Parent) and (other.name, other.values) == (self.name, self.values)

    def get_config(self):
        return {"name": self.name, "values": self.values}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def serialize_condition(condition):
    """A condition as keras_tuner writes it in a hyper-parameter's config."""
    return {"class_name": type(condition).__name__, "config": condition.get_config()}


def deserialize_condition(config):
    if config.get("class_name") != "Parent":
        raise ValueError(f"Unknown condition: {config!r} (only `Parent` conditions exist)")
    return Parent.from_config(config["config"])

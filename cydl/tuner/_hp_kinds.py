"""The methods that create (or look up) a hyper-parameter of each kind, with
keras_tuner's arguments; `parent_name`/`parent_values` open a conditional scope."""
import contextlib

from cydl.tuner import hp_numerical, hp_types


class HyperParameterKinds:
    """`hp.Int`, `hp.Float`, `hp.Choice`, `hp.Boolean` and `hp.Fixed`: each returns the
    current value (None when inactive)."""

    @contextlib.contextmanager
    def _maybe_scope(self, parent_name, parent_values):
        if parent_name is None:
            yield
            return
        with self.conditional_scope(parent_name, parent_values):
            yield

    def _make(self, kind, name, parent_name, parent_values, **kwargs):
        with self._maybe_scope(parent_name, parent_values):
            hp = kind(name=self._get_name(name), conditions=list(self._conditions), **kwargs)
            return self._retrieve(hp)

    def Choice(self, name, values, ordered=None, default=None, parent_name=None,
               parent_values=None):
        """One of `values` (ints, floats, strs or bools); default: the first."""
        return self._make(hp_types.Choice, name, parent_name, parent_values, values=values,
                          ordered=ordered, default=default)

    def Int(self, name, min_value, max_value, step=None, sampling="linear", default=None,
            parent_name=None, parent_values=None):
        """An integer in [min_value, max_value] (both included); see `cydl.tuner.Int`."""
        return self._make(hp_numerical.Int, name, parent_name, parent_values,
                          min_value=min_value, max_value=max_value, step=step,
                          sampling=sampling, default=default)

    def Float(self, name, min_value, max_value, step=None, sampling="linear", default=None,
              parent_name=None, parent_values=None):
        """A float in [min_value, max_value]; `sampling="log"` for rates."""
        return self._make(hp_numerical.Float, name, parent_name, parent_values,
                          min_value=min_value, max_value=max_value, step=step,
                          sampling=sampling, default=default)

    def Boolean(self, name, default=False, parent_name=None, parent_values=None):
        """True or False; default False."""
        return self._make(hp_types.Boolean, name, parent_name, parent_values, default=default)

    def Fixed(self, name, value, parent_name=None, parent_values=None):
        """A constant, recorded in `values`."""
        return self._make(hp_types.Fixed, name, parent_name, parent_values, value=value)

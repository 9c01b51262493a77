"""HyperModel: a search space of models (keras_tuner's API)."""


class HyperModel:
    """Defines a search space of models: override `build(hp)`, and `fit` to tune the
    training itself.

    `fit` may return the History of `model.fit` (scored by the objective's best
    epoch), a dict of metric values holding the objective, or the objective value as
    a float.

    Args:
        name: an optional name.
        tunable: False to keep the hyper-parameters this model asks for out of the
            search (they take their defaults, or values given in advance).

    Example:
    >>> class MyHyperModel(cydl.tuner.HyperModel):
    ...     def build(self, hp):
    ...         model = cydl.Sequential([cydl.layers.Dense(hp.Choice("units", [8, 16]))])
    ...         model.compile(loss="mse")
    ...         return model
    ...     def fit(self, hp, model, *args, **kwargs):
    ...         return model.fit(*args, batch_size=hp.Int("batch_size", 16, 64), **kwargs)
    """

    def __init__(self, name=None, tunable=True):
        self.name = name
        self.tunable = tunable

    def build(self, hp):
        """Build and compile a model with the hyper-parameters `hp`."""
        raise NotImplementedError("Subclasses of HyperModel must implement build(hp)")

    def declare_hyperparameters(self, hp):
        """Register hyper-parameters ahead of `build` (optional)."""

    def fit(self, hp, model, *args, **kwargs):
        """Train `model`: the arguments are those given to `Tuner.search()`, and
        `callbacks` always holds the tuner's own callbacks after the user's ones.

        Returns:
            A History, a dict of metric values, or the objective value as a float.
        """
        return model.fit(*args, **kwargs)


class DefaultHyperModel(HyperModel):
    """A HyperModel from a model-building function `build(hp)`."""

    def __init__(self, build, name=None, tunable=True):
        super().__init__(name=name, tunable=tunable)
        self.build = build


def get_hypermodel(hypermodel):
    """A HyperModel from a HyperModel or a callable `build(hp)`; None stays None."""
    if hypermodel is None or isinstance(hypermodel, HyperModel):
        return hypermodel
    if not callable(hypermodel):
        raise TypeError("The `hypermodel` argument should be either a callable with "
                        "signature `build(hp)` returning a model, or an instance of "
                        f"`HyperModel`. Received: {hypermodel!r}")
    return DefaultHyperModel(hypermodel)

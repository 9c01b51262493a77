"""keras_tuner's error classes. Raise FailedTrialError in `build` or `fit` to mark a
trial failed without retries; a FatalError stops the search."""


class FatalError(Exception):
    """Stops the search: the code, not the hyper-parameters, is at fault."""


class FatalValueError(FatalError, ValueError):
    pass


class FatalTypeError(FatalError, TypeError):
    pass


class FatalRuntimeError(FatalError, RuntimeError):
    pass


class FailedTrialError(Exception):
    """The trial failed (e.g. an oversized model) and is not retried."""

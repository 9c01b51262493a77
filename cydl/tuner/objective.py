"""Objective: the metric a search optimizes and its direction, as keras_tuner's."""
import math

# keras_tuner's maximized metrics (its _MAX_METRICS and _MAX_METRIC_FNS, in Keras'
# snake_case log names), plus the metrics where higher is better that keras_tuner
# minimizes (Keras knows them, and they are not on its list) or fails to read (those
# whose constructor needs an argument): F-scores, R2, correlations, IoUs
_MAX = {"accuracy", "acc", "binary_accuracy", "categorical_accuracy",
        "sparse_categorical_accuracy", "top_k_categorical_accuracy",
        "sparse_top_k_categorical_accuracy", "true_positives", "true_negatives",
        "precision", "recall", "auc", "sensitivity_at_specificity",
        "specificity_at_sensitivity", "precision_at_recall", "recall_at_precision",
        "f1_score", "fbeta_score", "f_beta_score", "r2_score", "cosine_similarity",
        "pearson_correlation", "concordance_correlation", "io_u", "binary_io_u",
        "one_hot_io_u", "mean_io_u", "one_hot_mean_io_u"}
# minimized: Keras 3's other metric and loss names (keras_tuner's rule: any name Keras
# knows), whether or not cydl has them, for a custom metric logged under such a name
_MIN = {"loss", "crossentropy", "ce", "binary_crossentropy", "categorical_crossentropy",
        "sparse_categorical_crossentropy", "binary_focal_crossentropy",
        "categorical_focal_crossentropy", "categorical_generalized_cross_entropy",
        "hinge", "squared_hinge", "categorical_hinge", "huber", "log_cosh", "log_cosh_error",
        "kl_divergence", "poisson", "ctc", "dice", "tversky", "circle", "false_negatives",
        "false_positives", "mean_absolute_error", "mean_absolute_percentage_error",
        "mean_squared_error", "mean_squared_logarithmic_error", "root_mean_squared_error",
        "mae", "mape", "mse", "msle"}


def infer_metric_direction(metric):
    """"max", "min" or None (unknown) for a metric name as it appears in the logs
    ("val_accuracy", "loss", "val_mae", ...): keras_tuner's rule, and "min" for the
    other names of cydl's metrics and losses."""
    name = metric
    if name.startswith("val_"):
        name = name[4:]
    if name.startswith("weighted_"):
        name = name[9:]
    if name in _MAX:
        return "max"
    if name in _MIN:
        return "min"
    from cydl import losses, metrics
    for lookup in (metrics.get, losses.get):
        try:
            lookup(name)
            return "min"
        except (ValueError, TypeError, KeyError):
            pass
    return None


class Objective:
    """The objective for optimization during tuning.

    Args:
        name: the metric's name in the logs, e.g. "val_accuracy".
        direction: "min" or "max".

    Example:
    >>> kt.Objective("val_accuracy", direction="max")
    """

    def __init__(self, name, direction):
        if not isinstance(name, str) or not name:
            raise TypeError(f"Objective `name` must be a non-empty str. Received: {name!r}")
        if direction not in ("min", "max"):
            raise ValueError(f'Objective `direction` must be "min" or "max". '
                             f"Received: direction={direction!r}")
        self.name, self.direction = name, direction

    def has_value(self, logs):
        return self.name in logs

    def get_value(self, logs):
        return logs[self.name]

    def better_than(self, a, b):
        return (a > b and self.direction == "max") or (a < b and self.direction == "min")

    def __eq__(self, other):
        return isinstance(other, Objective) and \
            (self.name, self.direction) == (other.name, other.direction)

    def __str__(self):
        return f'Objective(name="{self.name}", direction="{self.direction}")'

    __repr__ = __str__

    def get_config(self):
        return {"name": self.name, "direction": self.direction}


class DefaultObjective(Objective):
    """No objective given: a float returned by `HyperModel.fit` is minimized (keras_tuner);
    a History or a dict is scored by its "val_loss", minimized (keras_tuner before 1.1,
    and what a user expects from Keras)."""

    def __init__(self):
        super().__init__("default_objective", "min")

    def has_value(self, logs):
        return self.name in logs or "val_loss" in logs

    def get_value(self, logs):
        return logs[self.name] if self.name in logs else logs["val_loss"]


class MultiObjective(Objective):
    """Several objectives as one, minimized: the sum of those to minimize minus the
    sum of those to maximize (keras_tuner's rule)."""

    def __init__(self, objectives):
        super().__init__("multi_objective", "min")
        self.objectives = list(objectives)
        self.name_to_direction = {o.name: o.direction for o in self.objectives}

    def has_value(self, logs):
        return all(name in logs for name in self.name_to_direction)

    def get_value(self, logs):
        return sum(logs[n] if d == "min" else -logs[n] for n, d in self.name_to_direction.items())

    def __eq__(self, other):
        return isinstance(other, MultiObjective) and \
            sorted(map(str, self.objectives)) == sorted(map(str, other.objectives))

    def __str__(self):
        return f"Multi{super().__str__()}: [{', '.join(map(str, self.objectives))}]"


def create_objective(objective):
    """An Objective from None, a metric name, an Objective or a list of them."""
    if objective is None:
        return DefaultObjective()
    if isinstance(objective, (list, tuple)):
        return MultiObjective([create_objective(o) for o in objective])
    if isinstance(objective, Objective):
        return objective
    if not isinstance(objective, str):
        raise TypeError(f"`objective` not understood, expected str or `Objective` object, "
                        f"found: {objective!r}")
    direction = infer_metric_direction(objective)
    if direction is None:
        raise ValueError(f'Could not infer optimization direction ("min" or "max") for unknown '
                         f'metric "{objective}". Please specify the objective as a '
                         f'`cydl.tuner.Objective`, for example `cydl.tuner.Objective('
                         f'"{objective}", direction="min")`.')
    return Objective(objective, direction)


def is_bad(value):
    return value is None or not math.isfinite(value)

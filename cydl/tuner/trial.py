"""Trial: one set of hyper-parameter values and its results (keras_tuner's Trial), read
from an Optuna trial of the study."""
from optuna.trial import TrialState

from cydl.tuner.hyperparameters import HyperParameters
from cydl.tuner.metrics_tracking import MetricsTracker


class TrialStatus:
    RUNNING = "RUNNING"
    IDLE = "IDLE"            # queued in the study, not started yet
    INVALID = "INVALID"      # (keras_tuner's; unused: a crashed trial is retried in place)
    STOPPED = "STOPPED"      # no trial left: the search ends
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    PRUNED = "PRUNED"        # stopped early by Optuna's pruner (Hyperband); scored all the same


_FROM_OPTUNA = {TrialState.RUNNING: TrialStatus.RUNNING, TrialState.WAITING: TrialStatus.IDLE,
                TrialState.COMPLETE: TrialStatus.COMPLETED, TrialState.FAIL: TrialStatus.FAILED,
                TrialState.PRUNED: TrialStatus.PRUNED}


class Trial:
    """The runs with one set of hyper-parameter values.

    Attributes:
        trial_id: a str, the Optuna trial number padded with zeros as keras_tuner's.
        hyperparameters: a HyperParameters holding the search space and these values.
        metrics: a MetricsTracker of the metrics recorded at the best epoch.
        score: the objective's value (best epoch), None until it finished.
        best_step: the best epoch.
        status: a TrialStatus value.
        number: the Optuna trial number.
    """

    def __init__(self, hyperparameters, trial_id=None, status=TrialStatus.RUNNING,
                 message=None):
        self.hyperparameters = hyperparameters
        self.trial_id = trial_id
        self.metrics = MetricsTracker()
        self.score, self.best_step = None, 0
        self.status, self.message = status, message
        self.number = None

    def summary(self):
        """Prints the trial's id, hyper-parameter values and score."""
        print(f"Trial {self.trial_id} summary")
        print("Hyperparameters:")
        self.display_hyperparameters()
        if self.score is not None:
            print(f"Score: {self.score}")
        if self.message is not None:
            print(self.message)

    def display_hyperparameters(self):
        if self.hyperparameters.values:
            for name, value in self.hyperparameters.values.items():
                print(f"{name}:", value)
        else:
            print("default configuration")

    def __repr__(self):
        return (f"<Trial {self.trial_id} status={self.status} score={self.score} "
                f"values={self.hyperparameters.values}>")

    @classmethod
    def from_optuna(cls, frozen, space, objective, width):
        """The Trial recorded in an Optuna FrozenTrial; `space`: the search's space."""
        attrs = frozen.user_attrs.get("cydl", {})
        # a trial still running elsewhere has recorded only the parameters sampled so far
        hp = HyperParameters.from_config({"space": attrs.get("space", space),
                                          "values": attrs.get("hyperparameters",
                                                              dict(frozen.params))})
        trial = cls(hp, trial_id=format_id(frozen.number, width),
                    status=_FROM_OPTUNA.get(frozen.state, str(frozen.state)),
                    message=attrs.get("message"))
        trial.number = frozen.number
        trial.best_step = attrs.get("best_step", 0)
        trial.score = attrs.get("score", frozen.value)
        record_metrics(trial, attrs.get("metrics", {}), trial.best_step, objective)
        return trial


def format_id(number, width):
    return f"{number:0{width}d}"


def record_metrics(trial, metrics, step, objective):
    """Record a metrics dict at `step`, giving the objectives their own direction."""
    directions = getattr(objective, "name_to_direction", {objective.name: objective.direction})
    for name, value in metrics.items():
        if not trial.metrics.exists(name):
            trial.metrics.register(name, direction=directions.get(name))
        trial.metrics.update(name, value, step=step)

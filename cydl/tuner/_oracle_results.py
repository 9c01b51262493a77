"""The Oracle's reading side: the trials of the study as keras_tuner's Trials, the
best ones, and the search space."""
import math

import optuna

from cydl.tuner.hyperparameters import HyperParameters
from cydl.tuner.trial import Trial, TrialStatus

_SCORED = (TrialStatus.COMPLETED, TrialStatus.PRUNED)


class OracleResults:
    """Trials, best trials and the space, read from the oracle's study."""

    def _all_trials(self):
        space = self.get_space().get_config()["space"]
        return [Trial.from_optuna(f, space, self.objective, self._width)
                for f in self.study.get_trials(deepcopy=False)]

    @property
    def trials(self):
        """The started trials, by trial_id."""
        return {t.trial_id: t for t in self._all_trials() if t.status != TrialStatus.IDLE}

    def get_trial(self, trial_id):
        return self.trials[trial_id]

    def get_best_trials(self, num_trials=1):
        """The best trials, best first; unscored ones fill up when too few have a score."""
        trials = [t for t in self._all_trials() if t.status != TrialStatus.IDLE]
        scored = [t for t in trials if t.status in _SCORED and t.score is not None
                  and math.isfinite(t.score)]
        scored.sort(key=lambda t: t.score, reverse=self.objective.direction == "max")
        if len(scored) < num_trials:
            scored += [t for t in trials if t not in scored]
        return scored[:num_trials]

    def remaining_trials(self):
        """Trials still queued."""
        return len(self.study.get_trials(deepcopy=False,
                                         states=(optuna.trial.TrialState.WAITING,)))

    def get_space(self):
        """The search space: what `build` asked for, in this process and in the study."""
        hp = self._known.copy()
        if self.study is not None:
            for frozen in self.study.get_trials(deepcopy=False):
                hp.merge(HyperParameters.from_config(
                    {"space": frozen.user_attrs.get("cydl", {}).get("space", [])}))
        return hp

    def update_space(self, hyperparameters):
        self._known.merge(hyperparameters)

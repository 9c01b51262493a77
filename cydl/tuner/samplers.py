"""Seeded Optuna samplers: each trial gets its own sampler, seeded from the search's
seed and the trial's number. So a seed fixes what each trial samples whatever the
number of processes sharing the study and whatever order they claim the trials in,
and two workers started with the same seed never repeat each other's draws (one
sampler with one seed in each process would draw the same values in both)."""
import numpy as np
import optuna


def trial_seed(seed, number):
    """A 32-bit seed from (search seed, trial number), well mixed by SeedSequence."""
    return int(np.random.SeedSequence([int(seed), int(number)]).generate_state(1)[0])


class PerTrialSampler(optuna.samplers.BaseSampler):
    """Delegates each trial to `factory(seed=trial_seed(seed, trial.number))`.

    Args:
        factory: makes an Optuna sampler from a `seed` keyword, e.g.
            `optuna.samplers.RandomSampler` or `functools.partial(TPESampler, ...)`.
        seed: the search's seed.
    """

    def __init__(self, factory, seed):
        self._factory, self._seed = factory, seed
        self._samplers = {}

    def _for(self, trial):
        sampler = self._samplers.get(trial.number)
        if sampler is None:
            sampler = self._factory(seed=trial_seed(self._seed, trial.number))
            self._samplers[trial.number] = sampler
        return sampler

    def infer_relative_search_space(self, study, trial):
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._for(trial).sample_independent(study, trial, param_name,
                                                   param_distribution)

    def before_trial(self, study, trial):
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study, trial, state, values):
        sampler = self._samplers.pop(trial.number, None)
        if sampler is not None:
            sampler.after_trial(study, trial, state, values)

    def reseed_rng(self):
        """Nothing to do: the seeds follow from the trial numbers."""

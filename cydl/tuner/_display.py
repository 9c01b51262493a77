"""What a search prints (keras_tuner's layout): each trial's number, its
hyper-parameter values beside the best ones so far, its score and the time spent."""
import time


def _duration(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600:02d}h {seconds % 3600 // 60:02d}m {seconds % 60:02d}s"


def _format(value):
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)


class Display:
    """Prints the progress of a search when the oracle's `verbose` is not 0."""

    def __init__(self, oracle):
        self.oracle = oracle
        self.search_start = self.trial_start = self.best = None

    def on_trial_begin(self, trial):
        if self.search_start is None:
            self.search_start = time.time()
            # read the study once; then the best is updated from this worker's trials
            # (reading every trial after each one would cost O(trials) each time)
            best = self.oracle.get_best_trials(1)
            self.best = best[0] if best and best[0].score is not None else None
        self.trial_start = time.time()
        if self.oracle.verbose:
            print(f"\nSearch: Running Trial #{trial.number + 1}\n", flush=True)

    def on_trial_end(self, trial):
        if not self.oracle.verbose:
            return
        objective = self.oracle.objective
        if trial.score is not None and (self.best is None or
                                        objective.better_than(trial.score, self.best.score)):
            self.best = trial
        best_values = self.best.hyperparameters.values if self.best else {}
        rows = [("Value", "Best Value So Far", "Hyperparameter")]
        rows += [(_format(v), _format(best_values.get(name, "?")), name)
                 for name, v in trial.hyperparameters.values.items()]
        for row in rows:
            print(f"{row[0]:<18}|{row[1]:<18}|{row[2]}")
        print(f"\nTrial {trial.number + 1} {_ended(trial)} "
              f"[{_duration(time.time() - self.trial_start)}]")
        name = self.oracle.objective.name
        if trial.score is not None:
            print(f"{name}: {trial.score}")
        print(f"\nBest {name} So Far: {self.best.score if self.best else None}")
        print(f"Total elapsed time: {_duration(time.time() - self.search_start)}", flush=True)


def _ended(trial):
    return {"COMPLETED": "Complete", "PRUNED": "Pruned", "FAILED": "Failed"}.get(
        trial.status, trial.status.title())

"""What a search prints (keras_tuner's layout): when a trial starts, its number and its
hyper-parameter values beside the best trial's; when it ends, its score, the best
score so far and the time spent."""
import sys
import time

_WIDTH = 18      # keras_tuner's column width


def _duration(seconds):
    s = round(seconds)
    days, s = divmod(s, 86400)
    text = f"{s // 3600:02d}h {s % 3600 // 60:02d}m {s % 60:02d}s"
    return f"{days:d}d {text}" if days else text


def _format(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.5g}"
    text = str(value)
    return f"{text[:_WIDTH - 3]}..." if len(text) > _WIDTH else text


def _clear():
    """In a notebook, clear the cell's output (the trial's table), as keras_tuner does;
    elsewhere a blank line."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is not None and "Terminal" not in type(shell).__name__:
        from IPython import display
        display.clear_output()
    else:
        print()


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
            print(f"\nSearch: Running Trial #{trial.number + 1}\n")
            self._table(trial)
            print(flush=True)

    def _table(self, trial):
        """The values sampled when the trial starts (those `build` asks for later are
        new to the search), beside the best trial's."""
        values = trial.hyperparameters.values
        if not values:
            print("default configuration")
            return
        best = self.best.hyperparameters.values if self.best else None
        print(f"{'Value':{_WIDTH}}|{'Best Value So Far':{_WIDTH}}|Hyperparameter")
        for name, value in values.items():     # "?": no best trial yet; None: not in it
            shown = "?" if best is None else best.get(name)
            print(f"{_format(value):{_WIDTH}}|{_format(shown):{_WIDTH}}|{name}")

    def on_trial_end(self, trial):
        objective = self.oracle.objective
        if trial.score is not None and (self.best is None or
                                        objective.better_than(trial.score, self.best.score)):
            self.best = trial
        if not self.oracle.verbose:
            return
        _clear()
        print(f"Trial {trial.number + 1} {_ended(trial)} "
              f"[{_duration(time.time() - self.trial_start)}]")
        if trial.score is not None:
            print(f"{objective.name}: {trial.score}")
        print(f"\nBest {objective.name} So Far: {self.best.score if self.best else None}")
        print(f"Total elapsed time: {_duration(time.time() - self.search_start)}", flush=True)


def _ended(trial):
    """keras_tuner's "Complete"; cydl's trials may also end pruned or failed."""
    return {"COMPLETED": "Complete", "PRUNED": "Pruned", "FAILED": "Failed"}.get(
        trial.status, trial.status.title())

"""The Tuner's models and results: building (with keras_tuner's checks), each trial's
best-epoch weights (cydl's `.weights.h5`) and the summaries."""
import copy
import json
import os

from cydl.tuner import _results, errors


def _shape(saved):
    """A JSON input shape back to tuples (a list of them for several inputs)."""
    if saved and isinstance(saved[0], list):
        return [tuple(s) for s in saved]
    return tuple(saved)


class TunerResults:
    """Building, saving and loading the trials' models; best models and summaries."""

    def _build_hypermodel(self, hp):
        tunable = getattr(self.hypermodel, "tunable", True)
        model = self.hypermodel.build(hp if tunable else hp.copy())
        self._override_compile_args(model)
        return model

    def _override_compile_args(self, model):
        if not (self.optimizer or self.loss or self.metrics):
            return
        config = getattr(model, "_compile_config", None)
        optimizer = self.optimizer or getattr(model, "optimizer", None)
        if optimizer is not None and not isinstance(optimizer, str):
            optimizer = copy.deepcopy(optimizer)      # a fresh optimizer for each trial
        model.compile(optimizer=optimizer or "rmsprop",
                      loss=self.loss or (config.loss_spec if config else None),
                      metrics=self.metrics or (config.metrics_spec if config else None))

    def _try_build(self, hp):
        from cydl.models import Model
        model = self._build_hypermodel(hp)
        if not isinstance(model, Model):
            raise errors.FatalTypeError(f"Expected the model-building function, or "
                                        f"HyperModel.build() to return a valid cydl Model "
                                        f"instance. Received: {model!r} of type "
                                        f"{type(model).__name__}.")
        if self.max_model_size and model.built:
            size = model.count_params()
            if size > self.max_model_size:
                raise errors.FailedTrialError(f"Oversized model: {size} parameters. "
                                              f"Skip model.")
        return model

    def _build_and_fit_model(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        model = self._try_build(hp)
        results = self.hypermodel.fit(hp, model, *args, **kwargs)
        self._save_build_config(trial.trial_id, model)
        _results.validate_trial_results(results, self.oracle.objective, "HyperModel.fit()")
        return results

    def _deepcopy_callbacks(self, callbacks):
        try:
            return copy.deepcopy(list(callbacks))
        except Exception as e:
            raise errors.FatalValueError(f"All callbacks used during a search should be "
                                         f"deep-copyable (since they are reused across "
                                         f"trials). It is not possible to do "
                                         f"`copy.deepcopy({callbacks})`: {e}") from e

    def _get_trial_dir(self, trial_id):
        path = os.path.join(self.project_dir, f"trial_{trial_id}")
        os.makedirs(path, exist_ok=True)
        return path

    def _get_checkpoint_fname(self, trial_id):
        return os.path.join(self._get_trial_dir(trial_id), "checkpoint.weights.h5")

    def _save_build_config(self, trial_id, model):
        """The input shape, to build a model that `build` left unbuilt (no Input)
        before its weights load."""
        if model.built:
            with open(os.path.join(self._get_trial_dir(trial_id), "build_config.json"),
                      "w") as f:
                json.dump({"input_shape": model.input_shape}, f)

    def load_model(self, trial):
        """The trial's model: built with its values, with its best epoch's weights."""
        model = self._try_build(trial.hyperparameters)
        path = os.path.join(self._get_trial_dir(trial.trial_id), "build_config.json")
        if not model.built and os.path.exists(path):
            with open(path) as f:
                model.build(_shape(json.load(f)["input_shape"]))
        model.load_weights(self._get_checkpoint_fname(trial.trial_id))
        return model

    def save_model(self, trial_id, model, step=0):
        model.save_weights(self._get_checkpoint_fname(trial_id))

    def get_best_models(self, num_models=1):
        """The best trials' models, best first, with their best epoch's weights.

        For the best results, retrain the best hyper-parameters on all the data
        (`tuner.hypermodel.build(tuner.get_best_hyperparameters()[0])`).
        """
        return [self.load_model(t) for t in self.oracle.get_best_trials(num_models)]

    def get_best_hyperparameters(self, num_trials=1):
        """The best trials' HyperParameters, best first."""
        return [t.hyperparameters for t in self.oracle.get_best_trials(num_trials)]

    def search_space_summary(self, extended=False):
        """Print the hyper-parameters of the search space and their settings."""
        print("Search space summary")
        hp = self.oracle.get_space()
        print(f"Default search space size: {len(hp.space)}")
        for p in hp.space:
            config = p.get_config()
            name = config.pop("name")
            print(f"{name} ({type(p).__name__})")
            print(config)

    def results_summary(self, num_trials=10):
        """Print the best trials: values and scores."""
        print("Results summary")
        print(f"Results in {self.project_dir}")
        print(f"Showing {num_trials} best trials")
        print(f"{self.oracle.objective}")
        for trial in self.oracle.get_best_trials(num_trials):
            print()
            trial.summary()

    @property
    def remaining_trials(self):
        """Trials still queued in the study."""
        return self.oracle.remaining_trials()

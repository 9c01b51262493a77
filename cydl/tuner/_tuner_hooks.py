"""The Tuner's hooks (keras_tuner's): override them in a subclass. The batch hooks
cost a call per training step only when a subclass overrides them."""


class TunerHooks:
    """Called around the search, each trial, each epoch and each batch."""

    def pre_create_trial(self):
        """Called before each trial is claimed."""

    def on_search_begin(self):
        pass

    def on_search_end(self):
        pass

    def on_trial_begin(self, trial):
        pass

    def on_trial_end(self, trial):
        self.oracle.end_trial(trial)

    def on_epoch_begin(self, trial, model, epoch, logs=None):
        pass

    def on_epoch_end(self, trial, model, epoch, logs=None):
        pass

    def on_batch_begin(self, trial, model, batch, logs):
        pass

    def on_batch_end(self, trial, model, batch, logs=None):
        pass

"""scikit-learn's learning-rate rules for the MLPs' stochastic solvers
(sklearn/neural_network/_stochastic_optimizers.py), applied to cydl's optimizer.

* "constant": learning_rate_init throughout.
* "invscaling": after each epoch, learning_rate_init / (t + 1) ** power_t, t the
  number of samples trained on so far (the estimator's t_).
* "adaptive": constant while the training loss (or validation score) improves by
  tol; after n_iter_no_change + 1 epochs without that, divided by 5, and training
  stops once it is at or below 1e-6.

Adam keeps its rate; its stopping is "constant"'s.
"""


def make_optimizer(est):
    """A fresh cydl optimizer for the estimator's solver (sklearn makes a new one at
    every fit, and keeps it across partial_fit calls)."""
    import cydl
    if est.solver == "adam":
        return cydl.optimizers.Adam(est.learning_rate_init, beta_1=est.beta_1,
                                    beta_2=est.beta_2, epsilon=est.epsilon)
    return cydl.optimizers.SGD(est.learning_rate_init, momentum=est.momentum,
                               nesterov=bool(est.nesterovs_momentum) and est.momentum > 0)


class LearningRate:
    """The rate of one training run and its changes, as sklearn's SGDOptimizer.

    Args:
        schedule: "constant", "invscaling" or "adaptive" ("constant" for adam).
        learning_rate_init: the first rate.
        power_t: the exponent of "invscaling".
    """

    def __init__(self, schedule, learning_rate_init, power_t):
        self.schedule, self.init, self.power_t = schedule, float(learning_rate_init), power_t
        self.value = self.init

    def iteration_ends(self, time_step):
        """After an epoch; time_step: the samples trained on so far."""
        if self.schedule == "invscaling":
            self.value = self.init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """No improvement for too long: True to stop, or (adaptive) a lower rate."""
        if self.schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.value <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.value /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.value:f}")
        return False

"""scikit-learn estimators on cydl: MLPClassifier, MLPRegressor and Perceptron.

Drop-in for sklearn.neural_network's MLPs and sklearn.linear_model.Perceptron: the
same hyper-parameters and defaults, the same fitted attributes (`classes_`,
`coefs_`, `intercepts_`, `loss_`, `loss_curve_`, `n_iter_`, `t_`, `best_loss_`,
`validation_scores_`, `n_features_in_`, `feature_names_in_`, ...), `partial_fit`,
`warm_start`, `early_stopping`, `sample_weight` (scikit-learn >= 1.7's weighted
means; weights must be non-negative) and multilabel targets (a 0/1 indicator
matrix) for the classifier. They draw their random numbers where
scikit-learn draws them, so a `random_state` gives scikit-learn's initial weights,
batches and validation split:

* The MLPs' "adam" and "sgd" solvers (learning_rate "constant", "invscaling",
  "adaptive") train in the input's dtype (float32 is the faster) through cydl's
  compiled step, one call per batch, multi-threaded; "lbfgs" runs scipy's L-BFGS-B
  on the compiled loss and gradient in float64.
* Perceptron runs scikit-learn's plain SGD update for update (one-vs-rest for
  several classes): the same `coef_`.

They clone, pickle and deep-copy. scikit-learn itself is optional: with it
installed they derive from its BaseEstimator and mixins and use its validation;
without it they carry their own get_params, set_params and score.

Example:
>>> from cydl.sklearn import MLPClassifier
>>> clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50).fit(X, y)
>>> clf.predict_proba(X[:3])
"""
from cydl.sklearn._estimators import MLPClassifier, MLPRegressor
from cydl.sklearn._perceptron import Perceptron

__all__ = ["MLPClassifier", "MLPRegressor", "Perceptron"]

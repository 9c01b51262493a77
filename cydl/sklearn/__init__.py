"""scikit-learn-compatible MLPs: MLPClassifier and MLPRegressor on cydl's kernels.

Drop-in for sklearn.neural_network's estimators of the same names: the same
hyper-parameters (the `sgd` and `adam` solvers, constant rate), the same fitted
attributes (`classes_`, `coefs_`, `intercepts_`, `loss_`, `loss_curve_`, `n_iter_`,
`best_loss_`, `validation_scores_`, `n_features_in_`, ...), `partial_fit`,
`warm_start` and `early_stopping` (which keeps the best epoch's weights). They
train in float32 through cydl's fused step, multi-threaded, and default to one
thread inside joblib workers (GridSearchCV(n_jobs=...)). They clone, pickle and
deep-copy. scikit-learn itself is optional: with it installed they derive from
its BaseEstimator and mixins; without it they carry their own get_params,
set_params and score.

Example:
>>> from cydl.sklearn import MLPClassifier
>>> clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50).fit(X, y)
>>> clf.predict_proba(X[:3])
"""
from cydl.sklearn._estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]

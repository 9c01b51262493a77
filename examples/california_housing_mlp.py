"""Hands-On ML ch. 10: an MLP regressor for California housing (Sequential API).
Needs cal_housing.data.gz (CYDL_DATA_DIR/california-housing or ../shared/data)."""
import numpy as np

import cydl
from cydl import layers

X, y = cydl.datasets.california_housing.load_arrays()
rng = np.random.default_rng(42)
order = rng.permutation(len(X))
X, y = X[order], y[order]
X_train, y_train = X[:11610], y[:11610]
X_valid, y_valid = X[11610:15480], y[11610:15480]
X_test, y_test = X[15480:], y[15480:]
mean, std = X_train.mean(axis=0), X_train.std(axis=0)   # what a Normalization layer learns
X_train, X_valid, X_test = [(a - mean) / std for a in (X_train, X_valid, X_test)]

cydl.utils.set_random_seed(42)
model = cydl.Sequential([
    layers.Input(shape=X_train.shape[1:]),
    layers.Dense(50, activation="relu"),
    layers.Dense(50, activation="relu"),
    layers.Dense(50, activation="relu"),
    layers.Dense(1),
])
model.compile(loss="mse", optimizer=cydl.optimizers.Adam(learning_rate=1e-3),
              metrics=["RootMeanSquaredError"])
history = model.fit(X_train, y_train, epochs=20, validation_data=(X_valid, y_valid))
mse_test, rmse_test = model.evaluate(X_test, y_test)
print(f"test RMSE: {rmse_test:.4f}")
print(model.predict(X_test[:3]))

"""Hands-On ML ch. 10: the Wide & Deep model with two inputs and an auxiliary
output, written twice (functional API and subclassing API) as in the book. Both
run as one compiled kernel call per step and give the same numbers for one seed.
Needs cal_housing.data.gz (CYDL_DATA_DIR/california-housing or ../shared/data)."""
import time

import numpy as np

import cydl

(X_train_full, y_train_full), (X_test, y_test) = cydl.datasets.california_housing.load_data()
X_train, y_train = X_train_full[:-3000], y_train_full[:-3000]
X_valid, y_valid = X_train_full[-3000:], y_train_full[-3000:]
X_train_wide, X_train_deep = X_train[:, :5], X_train[:, 2:]
X_valid_wide, X_valid_deep = X_valid[:, :5], X_valid[:, 2:]
X_test_wide, X_test_deep = X_test[:, :5], X_test[:, 2:]

class WideAndDeepModel(cydl.Model):
    def __init__(self, units=30, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.norm_layer_wide = cydl.layers.Normalization()
        self.norm_layer_deep = cydl.layers.Normalization()
        self.hidden1 = cydl.layers.Dense(units, activation=activation)
        self.hidden2 = cydl.layers.Dense(units, activation=activation)
        self.main_output = cydl.layers.Dense(1)
        self.aux_output = cydl.layers.Dense(1)

    def call(self, inputs):
        input_wide, input_deep = inputs
        norm_wide = self.norm_layer_wide(input_wide)
        norm_deep = self.norm_layer_deep(input_deep)
        hidden1 = self.hidden1(norm_deep)
        hidden2 = self.hidden2(hidden1)
        concat = cydl.layers.concatenate([norm_wide, hidden2])
        output = self.main_output(concat)
        aux_output = self.aux_output(hidden2)
        return output, aux_output

def functional():
    input_wide = cydl.layers.Input(shape=[5])
    input_deep = cydl.layers.Input(shape=[6])
    norm_layer_wide = cydl.layers.Normalization()
    norm_layer_deep = cydl.layers.Normalization()
    norm_wide = norm_layer_wide(input_wide)
    norm_deep = norm_layer_deep(input_deep)
    hidden1 = cydl.layers.Dense(30, activation="relu")(norm_deep)
    hidden2 = cydl.layers.Dense(30, activation="relu")(hidden1)
    concat = cydl.layers.concatenate([norm_wide, hidden2])
    output = cydl.layers.Dense(1)(concat)
    aux_output = cydl.layers.Dense(1)(hidden2)
    model = cydl.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])
    return model, norm_layer_wide, norm_layer_deep

for kind in ("functional", "subclass"):
    cydl.utils.set_random_seed(42)
    if kind == "functional":
        model, nw, nd = functional()
    else:
        model = WideAndDeepModel(30, activation="relu", name="my_cool_model")
        nw, nd = model.norm_layer_wide, model.norm_layer_deep
    optimizer = cydl.optimizers.Adam(learning_rate=1e-3)
    model.compile(loss="mse", loss_weights=[0.9, 0.1], optimizer=optimizer, metrics=["RootMeanSquaredError"])
    nw.adapt(X_train_wide); nd.adapt(X_train_deep)
    t = time.perf_counter()
    history = model.fit((X_train_wide, X_train_deep), (y_train, y_train), epochs=10,
                        validation_data=((X_valid_wide, X_valid_deep), (y_valid, y_valid)), verbose=0)
    dt = time.perf_counter() - t
    eval_results = model.evaluate((X_test_wide, X_test_deep), (y_test, y_test), verbose=0)
    print(kind, "fused" if model._runner(train=True).fused else "general", f"{dt:.2f}s", np.round(eval_results, 4), round(history.history["val_loss"][-1], 4))

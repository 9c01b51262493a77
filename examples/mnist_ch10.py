"""Hands-On ML ch. 10, exercise 10: MNIST with the book's learning-rate finder,
then 100 epochs at the chosen rate with ModelCheckpoint, EarlyStopping and
TensorBoard, rolling back to the best checkpoint. The book's code with `tf.keras`
replaced by `cydl` (and "my_mnist_model" given a .keras extension). Book: test
accuracy 0.9799. Needs the MNIST files (CYDL_DATA_DIR or ../shared/data);
TensorBoard logging needs the tensorboard extra and is skipped without it.
"""
import sys
import time
from pathlib import Path

import numpy as np

import cydl

(X_train_full, y_train_full), (X_test, y_test) = cydl.datasets.mnist.load_data()
X_valid, X_train = X_train_full[:5000] / 255., X_train_full[5000:] / 255.
y_valid, y_train = y_train_full[:5000], y_train_full[5000:]
X_test = X_test / 255.

K = cydl.backend


class ExponentialLearningRate(cydl.callbacks.Callback):
    def __init__(self, factor):
        self.factor = factor
        self.rates = []
        self.losses = []

    def on_epoch_begin(self, epoch, logs=None):
        self.sum_of_epoch_losses = 0

    def on_batch_end(self, batch, logs=None):
        mean_epoch_loss = logs["loss"]  # the epoch's mean loss so far
        new_sum_of_epoch_losses = mean_epoch_loss * (batch + 1)
        batch_loss = new_sum_of_epoch_losses - self.sum_of_epoch_losses
        self.sum_of_epoch_losses = new_sum_of_epoch_losses
        self.rates.append(K.get_value(self.model.optimizer.learning_rate))
        self.losses.append(batch_loss)
        K.set_value(self.model.optimizer.learning_rate,
                    self.model.optimizer.learning_rate * self.factor)


def build_model():
    return cydl.Sequential([
        cydl.layers.Flatten(input_shape=[28, 28]),
        cydl.layers.Dense(300, activation="relu"),
        cydl.layers.Dense(100, activation="relu"),
        cydl.layers.Dense(10, activation="softmax")
    ])


K.clear_session()
np.random.seed(42)
cydl.utils.set_random_seed(42)
model = build_model()
optimizer = cydl.optimizers.SGD(learning_rate=1e-3)
model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
              metrics=["accuracy"])
expon_lr = ExponentialLearningRate(factor=1.005)
history = model.fit(X_train, y_train, epochs=1, validation_data=(X_valid, y_valid),
                    callbacks=[expon_lr], verbose=0)
rates, losses = np.array(expon_lr.rates), np.array(expon_lr.losses)
# The book reads the plot: past its minimum the loss shoots back up, violently beyond
# about 6e-1 (then it diverges: NaN), so it takes half of that. Here: where the
# smoothed loss, after its minimum, first exceeds twice that minimum.
smooth = np.convolve(np.where(np.isfinite(losses), losses, np.inf), np.ones(25) / 25,
                     mode="valid")
low = int(np.argmin(smooth))
above = np.nonzero(smooth[low:] > 2 * smooth[low])[0]
blowup = rates[low + above[0] + 12] if above.size else float("nan")
print(f"learning-rate finder: {len(rates)} batches, rates {rates[0]:.2e} .. {rates[-1]:.2e}; "
      f"lowest loss at lr {rates[low + 12]:.2e}, twice that at lr {blowup:.2e} "
      f"(book: shoots up past about 6e-1)")

K.clear_session()
np.random.seed(42)
cydl.utils.set_random_seed(42)
model = build_model()
optimizer = cydl.optimizers.SGD(learning_rate=3e-1)
model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
              metrics=["accuracy"])

run_index = 1  # increment this at every run
run_logdir = Path() / "my_mnist_logs" / "run_{:03d}".format(run_index)
early_stopping_cb = cydl.callbacks.EarlyStopping(patience=20)
checkpoint_cb = cydl.callbacks.ModelCheckpoint("my_mnist_model.keras", save_best_only=True)
callbacks = [checkpoint_cb, early_stopping_cb]
try:
    callbacks.append(cydl.callbacks.TensorBoard(run_logdir))
except ImportError as e:
    print(f"TensorBoard logging skipped: {e}", file=sys.stderr)

t0 = time.perf_counter()
history = model.fit(X_train, y_train, epochs=100, validation_data=(X_valid, y_valid),
                    callbacks=callbacks, verbose=0)
seconds = time.perf_counter() - t0
model = cydl.models.load_model("my_mnist_model.keras")  # rollback to best model
loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
print(f"{len(history.history['loss'])} epochs in {seconds:.1f} s; best val_accuracy "
      f"{max(history.history['val_accuracy']):.4f}")
print(f"MNIST test accuracy {accuracy:.4f} (book: 0.9799)")

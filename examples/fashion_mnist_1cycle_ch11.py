"""Hands-On ML ch. 11: 1cycle scheduling with the book's OneCycleScheduler callback
(it sets the learning rate in on_batch_begin), on Fashion-MNIST, 25 epochs, batch
128. The book's code with `tf.keras` replaced by `cydl`. Book: final validation
accuracy 0.8920. Needs the Fashion-MNIST files (CYDL_DATA_DIR or ../shared/data).
"""
import math
import time

import cydl

(X_train_full, y_train_full), (X_test, y_test) = cydl.datasets.fashion_mnist.load_data()
X_train_full = X_train_full / 255
X_train, X_valid = X_train_full[:-5000], X_train_full[-5000:]
y_train, y_valid = y_train_full[:-5000], y_train_full[-5000:]
X_test = X_test / 255

K = cydl.backend


class OneCycleScheduler(cydl.callbacks.Callback):
    def __init__(self, iterations, max_lr=1e-3, start_lr=None,
                 last_iterations=None, last_lr=None):
        self.iterations = iterations
        self.max_lr = max_lr
        self.start_lr = start_lr or max_lr / 10
        self.last_iterations = last_iterations or iterations // 10 + 1
        self.half_iteration = (iterations - self.last_iterations) // 2
        self.last_lr = last_lr or self.start_lr / 1000
        self.iteration = 0

    def _interpolate(self, iter1, iter2, lr1, lr2):
        return (lr2 - lr1) * (self.iteration - iter1) / (iter2 - iter1) + lr1

    def on_batch_begin(self, batch, logs):
        if self.iteration < self.half_iteration:
            lr = self._interpolate(0, self.half_iteration, self.start_lr, self.max_lr)
        elif self.iteration < 2 * self.half_iteration:
            lr = self._interpolate(self.half_iteration, 2 * self.half_iteration,
                                   self.max_lr, self.start_lr)
        else:
            lr = self._interpolate(2 * self.half_iteration, self.iterations,
                                   self.start_lr, self.last_lr)
        self.iteration += 1
        K.set_value(self.model.optimizer.learning_rate, lr)


def build_model(seed=42):
    cydl.utils.set_random_seed(seed)
    return cydl.Sequential([
        cydl.layers.Flatten(input_shape=[28, 28]),
        cydl.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
        cydl.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
        cydl.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
        cydl.layers.Dense(10, activation="softmax")
    ])


model = build_model()
model.compile(loss="sparse_categorical_crossentropy", optimizer=cydl.optimizers.SGD(),
              metrics=["accuracy"])
batch_size = 128
n_epochs = 25
onecycle = OneCycleScheduler(math.ceil(len(X_train) / batch_size) * n_epochs, max_lr=0.1)
t0 = time.perf_counter()
history = model.fit(X_train, y_train, epochs=n_epochs, batch_size=batch_size,
                    validation_data=(X_valid, y_valid), callbacks=[onecycle], verbose=0)
seconds = time.perf_counter() - t0
lr_end = float(K.get_value(model.optimizer.learning_rate))
print(f"{n_epochs} epochs in {seconds:.1f} s; learning rate after the last step {lr_end:.2e} "
      f"(the schedule ends near {onecycle.last_lr:.0e})")
print(f"1cycle val accuracy {history.history['val_accuracy'][-1]:.4f} (book: 0.8920)")

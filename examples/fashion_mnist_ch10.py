"""Hands-On ML ch. 10: an MLP classifier for Fashion-MNIST, with tf.keras replaced
by cydl. Needs the Fashion-MNIST files (CYDL_DATA_DIR or ../shared/data)."""
import cydl
from cydl import layers

(X_train_full, y_train_full), (X_test, y_test) = cydl.datasets.fashion_mnist.load_data()
X_train, y_train = X_train_full[:-5000] / 255., y_train_full[:-5000]
X_valid, y_valid = X_train_full[-5000:] / 255., y_train_full[-5000:]
X_test = X_test / 255.

cydl.utils.set_random_seed(42)
model = cydl.Sequential([
    layers.Input(shape=(28, 28)),
    layers.Flatten(),
    layers.Dense(300, activation="relu"),
    layers.Dense(100, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.summary()
model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
history = model.fit(X_train, y_train, epochs=30, validation_data=(X_valid, y_valid))
print(history.history["val_accuracy"][-1])
print(model.evaluate(X_test, y_test))
print(model.predict(X_test[:3]).round(2))

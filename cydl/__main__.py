"""`python -m cydl`: a real training run.

Trains an MLP on the handwritten digits that ship with cydl, then, when the
Fashion-MNIST files are found (CYDL_DATA_DIR or ../shared/data), runs the
Hands-On ML ch. 10 example: 784-300-100-10, SGD, 30 epochs, batch 32.
"""
import argparse
import sys
import time

import cydl
from cydl import layers


def train_digits(epochs):
    print("== Handwritten digits (UCI, ships with cydl): 64-64-10 MLP ==")
    (x, y), (xt, yt) = cydl.datasets.digits.load_data()
    cydl.utils.set_random_seed(42)
    model = cydl.Sequential([layers.Input(shape=(8, 8)), layers.Flatten(),
                             layers.Dense(64, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x / 16.0, y, epochs=epochs, validation_split=0.1, verbose=2)
    loss, acc = model.evaluate(xt / 16.0, yt, verbose=0)
    print(f"digits: test accuracy {acc:.4f}, loss {loss:.4f} "
          f"({time.perf_counter() - t0:.1f}s)\n")
    return acc


def train_fashion(epochs):
    try:
        (x_full, y_full), (x_test, y_test) = cydl.datasets.fashion_mnist.load_data()
    except FileNotFoundError as e:
        print(f"Fashion-MNIST skipped: {e}")
        return None
    print("== Fashion-MNIST, Hands-On ML ch. 10: 784-300-100-10, SGD, batch 32 ==")
    x_train, y_train = x_full[:-5000] / 255.0, y_full[:-5000]
    x_valid, y_valid = x_full[-5000:] / 255.0, y_full[-5000:]
    cydl.utils.set_random_seed(42)
    model = cydl.Sequential([layers.Input(shape=(28, 28)), layers.Flatten(),
                             layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    model.summary()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
                  metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, validation_data=(x_valid, y_valid), verbose=2)
    elapsed = time.perf_counter() - t0
    loss, acc = model.evaluate(x_test / 255.0, y_test, verbose=0)
    print(f"fashion-mnist: test accuracy {acc:.4f}, loss {loss:.4f}; "
          f"{epochs} epochs in {elapsed:.1f}s on {cydl.get_num_threads()} threads")
    print("first 3 test predictions:\n", model.predict(x_test[:3] / 255.0).round(2))
    return acc


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cydl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30, help="Fashion-MNIST epochs (30)")
    parser.add_argument("--digits-epochs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        cydl.set_num_threads(args.threads)
    cydl.show_config()
    print()
    acc = train_digits(args.digits_epochs)
    if acc < 0.9:
        print("digits accuracy is below 0.9: something is wrong", file=sys.stderr)
        return 1
    train_fashion(args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

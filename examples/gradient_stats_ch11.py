"""Hands-On ML ch. 11: the vanishing gradients problem, watched with GradientStats.

Three deep nets (30 hidden layers of 100 units) on Fashion-MNIST, trained the same
way (SGD(0.001, momentum=0.9), standardized inputs, as the book's SELU run):

* sigmoid with Keras' default initialization (Glorot uniform): the gradient shrinks
  by up to 4x per layer going backward, so the first layers hardly learn;
* ReLU with He initialization;
* SELU with LeCun normal initialization (self-normalizing).

For each, the ratio of the first hidden layer's gradient norm to the output layer's
(GradientStats' `gradient_ratio`, on a fixed probe batch) at the start and after
each epoch, then the validation accuracy. A few minutes on 2 cores with the
defaults; `--layers 10 --train-size 5000 --epochs 1` for a quick look. Needs the
Fashion-MNIST files (CYDL_DATA_DIR or ../shared/data).
"""
import argparse
import time
import warnings

import cydl
from cydl import layers

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--layers", type=int, default=30)
parser.add_argument("--units", type=int, default=100)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--train-size", type=int, default=20000)
args = parser.parse_args()

try:
    (X_train_full, y_train_full), _ = cydl.datasets.fashion_mnist.load_data()
except FileNotFoundError as e:
    print(f"Fashion-MNIST not found, example skipped: {e}")
    raise SystemExit(0)
X_train_full = X_train_full.reshape(len(X_train_full), -1) / 255.0
X_train, y_train = X_train_full[:-5000][:args.train_size], y_train_full[:-5000][:args.train_size]
X_valid, y_valid = X_train_full[-5000:], y_train_full[-5000:]
# the book standardizes the inputs for SELU; all three nets get the same data
mean, std = X_train.mean(axis=0), X_train.std(axis=0) + 1e-7
X_train, X_valid = (X_train - mean) / std, (X_valid - mean) / std

NETS = [("sigmoid, Glorot (default)", "sigmoid", "glorot_uniform"),
        ("ReLU, He normal", "relu", "he_normal"),
        ("SELU, LeCun normal", "selu", "lecun_normal")]

rows = []
for title, activation, init in NETS:
    cydl.utils.set_random_seed(42)
    model = cydl.Sequential(
        [layers.Input(shape=(784,))] +
        [layers.Dense(args.units, activation=activation, kernel_initializer=init)
         for _ in range(args.layers)] +
        [layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=cydl.optimizers.SGD(learning_rate=0.001, momentum=0.9),
                  metrics=["accuracy"])
    stats = cydl.callbacks.GradientStats(X_valid[:256], y_valid[:256])
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(X_train, y_train, epochs=args.epochs, verbose=0,
                            validation_data=(X_valid, y_valid), callbacks=[stats])
    seconds = time.perf_counter() - t0
    ratios = [stats.initial["gradient_ratio"]] + stats.history["gradient_ratio"]
    first, last = model.layers[0].name, model.layers[-1].name
    print(f"== {title}: {args.layers} x {args.units}, {args.epochs} epochs, {seconds:.1f} s")
    print("   gradient norm, first hidden layer / output layer: "
          + ", ".join(f"{r:.2e}" for r in ratios) + "  (start, then after each epoch)")
    print(f"   at the start: |grad| {first} {stats.initial[f'gradient_norm/{first}']:.2e}, "
          f"{last} {stats.initial[f'gradient_norm/{last}']:.2e}")
    for w in caught:
        if "GradientStats" in str(w.message):
            print(f"   warning: {str(w.message)[:110]}...")
    rows.append((title, ratios[0], ratios[-1], history.history["val_accuracy"][-1]))

print(f"\n{'net':<28} {'ratio at start':>14} {'ratio at end':>12} {'val accuracy':>12}")
for title, start, end, acc in rows:
    print(f"{title:<28} {start:14.2e} {end:12.2e} {acc:12.4f}")
print("The sigmoid net's first layers get a vanishing share of the gradient and it learns "
      "least;\nHe-initialized ReLU and self-normalizing SELU keep the ratio within a small "
      "factor of 1 (book, ch. 11).")

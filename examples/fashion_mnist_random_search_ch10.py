"""Hands-On ML ch. 10: fine-tuning the MLP's hyper-parameters with Keras Tuner's
random search, with `import cydl.tuner as kt` and cydl in place of tf.keras.
Needs the Fashion-MNIST files (CYDL_DATA_DIR or ../shared/data) and Optuna
(pip install "cydl[tuner]").

    python examples/fashion_mnist_random_search_ch10.py              # 5 trials x 10 epochs
    python examples/fashion_mnist_random_search_ch10.py --workers 2  # 2 processes share them
    python examples/fashion_mnist_random_search_ch10.py --quick      # 2 trials x 1 epoch

With --workers N the script creates the study, then starts N processes that run
this script's search on it: they split the trials (each one thread while the others
run), and this process prints the results when they are done."""
import argparse
import os
import subprocess
import sys
import time

import cydl
import cydl.tuner as kt

BOOK_BEST_VAL_ACCURACY = 0.8736


def build_model(hp):
    n_hidden = hp.Int("n_hidden", min_value=0, max_value=8, default=2)
    n_neurons = hp.Int("n_neurons", min_value=16, max_value=256)
    learning_rate = hp.Float("learning_rate", min_value=1e-4, max_value=1e-2,
                             sampling="log")
    optimizer = hp.Choice("optimizer", values=["sgd", "adam"])
    if optimizer == "sgd":
        optimizer = cydl.optimizers.SGD(learning_rate=learning_rate)
    else:
        optimizer = cydl.optimizers.Adam(learning_rate=learning_rate)

    model = cydl.Sequential()
    model.add(cydl.layers.Flatten())
    for _ in range(n_hidden):
        model.add(cydl.layers.Dense(n_neurons, activation="relu"))
    model.add(cydl.layers.Dense(10, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                  metrics=["accuracy"])
    return model


def load():
    (X_train_full, y_train_full), (X_test, y_test) = cydl.datasets.fashion_mnist.load_data()
    X_train_full, X_test = X_train_full / 255., X_test / 255.
    return (X_train_full, y_train_full), (X_test, y_test)


def make_tuner(args, overwrite):
    return kt.RandomSearch(build_model, objective="val_accuracy", max_trials=args.trials,
                           overwrite=overwrite, directory=args.directory,
                           project_name="my_rnd_search", seed=42)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the study")
    parser.add_argument("--quick", action="store_true", help="2 trials x 1 epoch")
    parser.add_argument("--directory", default="my_fashion_mnist")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.trials, args.epochs = (2, 1) if args.quick else (5, 10)

    (X_train_full, y_train_full), (X_test, y_test) = load()
    X_train, y_train = X_train_full[:-5000], y_train_full[:-5000]
    X_valid, y_valid = X_train_full[-5000:], y_train_full[-5000:]

    start = time.perf_counter()
    if args.worker:          # one of --workers N: search the study the parent created
        make_tuner(args, overwrite=False).search(X_train, y_train, epochs=args.epochs,
                                                 validation_data=(X_valid, y_valid), verbose=0)
        return
    if args.workers > 1:
        tuner = make_tuner(args, overwrite=True)          # a fresh study, searched by:
        command = [sys.executable, os.path.abspath(__file__), "--worker",
                   "--directory", args.directory] + (["--quick"] if args.quick else [])
        workers = [subprocess.Popen(command) for _ in range(args.workers)]
        if any(w.wait() for w in workers):
            sys.exit("a worker failed")
    else:
        tuner = make_tuner(args, overwrite=True)
        tuner.search(X_train, y_train, epochs=args.epochs, validation_data=(X_valid, y_valid))
    elapsed = time.perf_counter() - start

    tuner.results_summary(num_trials=3)
    top3_params = tuner.get_best_hyperparameters(num_trials=3)
    print("best hyper-parameters:", top3_params[0].values)
    best_trial = tuner.oracle.get_best_trials(num_trials=1)[0]
    best_trial.summary()
    best_val = best_trial.metrics.get_last_value("val_accuracy")
    print(f"\nbest val_accuracy: {best_val:.4f} (book: {BOOK_BEST_VAL_ACCURACY}), "
          f"{args.trials} trials x {args.epochs} epochs on {args.workers} process(es) "
          f"in {elapsed:.1f} s")
    best_model = tuner.get_best_models(num_models=1)[0]
    print("best model, validation [loss, accuracy]:",
          best_model.evaluate(X_valid, y_valid, verbose=0))
    best_model.fit(X_train_full, y_train_full, epochs=args.epochs, verbose=0)
    print("retrained on the full training set, test [loss, accuracy]:",
          best_model.evaluate(X_test, y_test, verbose=0))


if __name__ == "__main__":
    main()

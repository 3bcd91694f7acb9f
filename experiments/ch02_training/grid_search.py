"""
Title: Hyperparameter grid search: learning rate x minibatch size
Book: Chapter 2, "Test Sets, Validation Sets, and Overfitting" (seed lines 761-765)
Description: The chapter-3 MLP on MNIST for every (epsilon, batch) pair; select on validation.
Expected result: no book number; cpu preset selects eps 0.1, batch 16: 95.6% test (seed 0).

The book's example grid is epsilon in {0.001, 0.01, 0.1} x batch in {16, 64, 128, ...}
(line 765): train one model per pair, pick the pair with the best *validation* accuracy and
only then measure the *test* accuracy of that one model (spec ch01-03 C2-15, E2.10). The book
names no model or data; this port uses the chapter-3 MLP (784-256-256-10, SGD) on MNIST with
short runs, since only the ranking matters. Each setting is trained with `model.fit`.
Measured (seed 0): "book" (5 epochs, 55,000 images; 73 s) selects eps 0.1, batch 64, 97.21%
test; "cpu" (2 epochs, 20,000 images; 23 s) selects eps 0.1, batch 16, 95.57% test.
"""

import dataclasses
import itertools
import time

import keras
import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.data import mnist
from fdl_tf2.models import feedforward
from fdl_tf2.training import runs
from fdl_tf2.viz import model_selection

EXPERIMENT_ID = "ch02.grid_search"

FIGURES = ("grid_search_validation_accuracy",)


@dataclasses.dataclass(frozen=True)
class Config(config_lib.RunConfig):
    """Defaults are the "book" preset: the book's grid, full training set, short runs."""

    learning_rates: tuple = (0.001, 0.01, 0.1)  # Epsilon values of line 765.
    batch_sizes: tuple = (16, 64, 128)  # Minibatch sizes of line 765.
    epochs: int = 5  # Per setting; the book gives none.
    train_subset: int = 0  # Use only the first N training images; 0 means all 55,000.
    hidden_units: tuple = (256, 256)  # The chapter-3 MLP.
    dataset: str = "mnist"  # Also "fashion_mnist", or "synthetic" (no files; for tests).


CONFIGS = {
    # Seconds on CPU; used by tests: a 2 x 2 grid on synthetic data.
    "smoke": dict(
        dataset="synthetic",
        learning_rates=(0.01, 0.1),
        batch_sizes=(16, 128),
        epochs=1,
        train_subset=512,
        hidden_units=(32,),
    ),
    "book": dict(),
    # 2 epochs on 20,000 training images per setting: the whole grid in about a minute.
    "cpu": dict(epochs=2, train_subset=20_000),
}


def _flat_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 `(N, 28, 28)` -> float32 `(N, 784)` in [0, 1], as `mnist.preprocess_images_fn`."""
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def main(config: Config) -> dict:
    """Trains every grid point, selects by validation accuracy, tests the selected model."""
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    splits = {}
    for split in mnist.SPLITS:
        images, labels = mnist.load_arrays(split, dataset=config.dataset, data_dir=config.data_dir)
        splits[split] = (_flat_pixels(images), labels.astype(np.int32))
    if config.train_subset:
        images, labels = splits["train"]
        splits["train"] = (images[: config.train_subset], labels[: config.train_subset])
    train_images, train_labels = splits["train"]

    accuracy = np.zeros((len(config.learning_rates), len(config.batch_sizes)))
    best_accuracy, best_index, best_model = -1.0, (0, 0), None
    rows = []
    for step, ((row, learning_rate), (column, batch_size)) in enumerate(
        itertools.product(enumerate(config.learning_rates), enumerate(config.batch_sizes))
    ):
        start = time.time()
        keras.utils.set_random_seed(config.seed)  # Same initial weights for every setting.
        model = feedforward.build_mlp(config.hidden_units, seed=config.seed)
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            steps_per_execution=50,
        )
        history = model.fit(
            train_images, train_labels, batch_size=batch_size, epochs=config.epochs, verbose=0
        )
        _, validation_accuracy = model.evaluate(*splits["validation"], batch_size=1000, verbose=0)
        accuracy[row, column] = validation_accuracy
        train_cost = history.history["loss"][-1]
        run_log.scalars(
            step,
            "validation",
            learning_rate=learning_rate,
            batch_size=batch_size,
            accuracy=validation_accuracy,
            train_cost=train_cost,
        )
        rows.append((learning_rate, batch_size, train_cost, validation_accuracy))
        run_log.print(
            f"epsilon {learning_rate:<6g} batch {batch_size:4d}  train cost {train_cost:.4f}  "
            f"validation accuracy {validation_accuracy:.4f}  ({time.time() - start:.1f} s)"
        )
        if validation_accuracy > best_accuracy:
            best_accuracy, best_index, best_model = validation_accuracy, (row, column), model
    # --- Test only the selected setting ---
    test_cost, test_accuracy = best_model.evaluate(*splits["test"], batch_size=1000, verbose=0)
    best_learning_rate = config.learning_rates[best_index[0]]
    best_batch_size = config.batch_sizes[best_index[1]]
    run_log.scalars(len(rows), "test", cost=test_cost, accuracy=test_accuracy)

    table = ["| epsilon | batch | train cost | validation accuracy |", "|---|---|---|---|"]
    for learning_rate, batch_size, train_cost, validation_accuracy in rows:
        selected = (
            " (selected)"
            if (learning_rate, batch_size)
            == (
                best_learning_rate,
                best_batch_size,
            )
            else ""
        )
        table.append(
            f"| {learning_rate:g} | {batch_size} | {train_cost:.4f} | "
            f"{validation_accuracy:.4f}{selected} |"
        )
    for line in table:
        run_log.print(line)
    run_log.print(
        f"Selected epsilon {best_learning_rate:g}, batch {best_batch_size}: "
        f"test accuracy {test_accuracy:.4f}"
    )
    path = run_log.figure_path("grid_search_validation_accuracy")
    model_selection.plot_grid_search(
        accuracy, config.learning_rates, config.batch_sizes, best_index, path
    )
    return runs.finish_run(
        context,
        config,
        {
            "selected_learning_rate": float(best_learning_rate),
            "selected_batch_size": int(best_batch_size),
            "validation_accuracy": float(best_accuracy),
            "test_accuracy": float(test_accuracy),
            "test_cost": float(test_cost),
            "grid": [
                dict(learning_rate=lr, batch_size=b, train_cost=c, validation_accuracy=v)
                for lr, b, c, v in rows
            ],
        },
    )


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))

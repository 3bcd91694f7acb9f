"""
Title: Logistic regression on MNIST
Book: Chapter 3, "Logistic regression in TensorFlow" (seed lines 1253-1436, listings L3.14-L3.16)
Description: 784 -> 10 softmax regression, zero init, plain SGD 0.01, batch 100 (7,850 parameters).
Expected result: book 91.9% test "within 100 epochs"; measured 92.23% (seed 0); FDL-ja 92.11%.

The book's listing says 1000 epochs, its text ties 91.9% to 100 epochs, and the repository
runs 60 (spec ch01-03 §5.4): the default is 100, and `--epochs` takes the other values.
Validation error is measured on the true 5,000-image validation split every epoch (the book's
TensorBoard "validation error" was a training-minibatch number, spec §5.2 item 10).
"""

import dataclasses

import keras

from fdl_tf2 import config as config_lib
from fdl_tf2.data import mnist
from fdl_tf2.models import feedforward
from fdl_tf2.training import classifier

EXPERIMENT_ID = "ch03.logistic_regression"

FIGURES = ("learning_curves",)  # Written to figures/ by every run (checked by the smoke tests).
TRAINS_CLASSIFIER = True  # Exports a classifier; the smoke tests check export and resume.


@dataclasses.dataclass(frozen=True)
class Config(config_lib.ExportConfig):
    """Defaults are the "book" preset."""

    learning_rate: float = 0.01  # GradientDescentOptimizer(0.01), line 1327.
    batch_size: int = 100  # Line 1330: 550 steps per epoch.
    epochs: int = 100  # The epochs behind the book's 91.9% (line 1400).
    dataset: str = "mnist"  # Also "fashion_mnist", or "synthetic" (no files; for tests).
    train_subset: int = 0  # Use only the first N training images; 0 means all 55,000.


CONFIGS = {
    # Seconds; used by tests. ch03.mlp's smoke run verifies the classifier endpoint in a fresh
    # process; this export is reloaded by the smoke test itself.
    "smoke": dict(verify_export=False, epochs=2, dataset="synthetic", batch_size=50),
    "book": dict(),
    "cpu": dict(),  # The book run already takes about a minute on 2 CPU cores.
}


def main(config: Config) -> dict:
    """Trains, tests and exports; returns the final metrics (also in results.json)."""
    data = mnist.classification_data(
        dataset=config.dataset,
        view="flat",
        num_train_examples=config.train_subset,
        data_dir=config.data_dir,
    )
    return classifier.run_classifier(
        config,
        experiment_id=EXPERIMENT_ID,
        model_name="mnist_logistic_regression",
        build_model=feedforward.build_logistic_regression,
        build_optimizer=lambda total_steps: keras.optimizers.SGD(config.learning_rate),
        data=data,
        epochs=config.epochs,
        batch_size=config.batch_size,
        reference={"book_test_accuracy": 0.919, "fdl_ja_test_accuracy": 0.9211},
    )


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))

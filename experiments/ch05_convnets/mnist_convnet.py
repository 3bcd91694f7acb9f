"""
Title: Convolutional network on MNIST
Book: Chapter 5, "Full Architectural Description of Convolution Networks" (seed lines 2148-2211)
Description: conv5x5x32-pool-conv5x5x64-pool-fc1024-dropout-10, Adam 1e-4, batch 100.
Expected result: book 99.4% test (line 2150); keras-io mnist_convnet 99.22%.

The book gives no schedule ("several epochs"); its repository (`convnet_mnist.py`) trains with
Adam 1e-4, batch 100, for 1000 epochs, which is the `book` preset. The `cpu` preset keeps the
model and batch but starts Adam at 1e-3 with a cosine decay to 0 over 20 epochs, so that it
reaches the book's 99.4% within the hour a 2-core CPU allows; see experiments/README.md for
the measured figures. As in chapter 3, the logits are linear by default and
`--output_relu=True` restores the book's ReLU on them.
"""

import dataclasses

import keras

from fdl_tf2 import config as config_lib
from fdl_tf2.data import mnist
from fdl_tf2.models import convnet
from fdl_tf2.training import classifier, schedules

EXPERIMENT_ID = "ch05.mnist_convnet"

FIGURES = ("learning_curves",)  # Written to figures/ by every run (checked by the smoke tests).
TRAINS_CLASSIFIER = True  # Exports a classifier; the smoke tests check export and resume.


@dataclasses.dataclass(frozen=True)
class Config(config_lib.ExportConfig):
    """Defaults are the "book" preset (the repository's `convnet_mnist.py`)."""

    learning_rate: float = 1e-4  # Adam, other settings at their defaults.
    lr_schedule: str = "constant"  # Or "cosine": decay to 0 over the run.
    batch_size: int = 100
    epochs: int = 1000  # The repository's training_epochs.
    dropout_rate: float = 0.5  # keep_prob 0.5 in training.
    output_relu: bool = False  # True reproduces the book's ReLU on the logits.
    dataset: str = "mnist"  # Also "fashion_mnist", or "synthetic" (no files; for tests).
    train_subset: int = 0  # Use only the first N training images; 0 means all 55,000.


CONFIGS = {
    # Seconds; used by tests. ch03.mlp's smoke run verifies the classifier endpoint in a fresh
    # process; this export is reloaded by the smoke test itself.
    "smoke": dict(verify_export=False, epochs=2, dataset="synthetic", batch_size=50),
    "book": dict(),
    "cpu": dict(learning_rate=1e-3, lr_schedule="cosine", epochs=20),
    # `make ch05`: real data, about a minute: 10,000 images, 3 epochs.
    "quick": dict(
        learning_rate=1e-3, lr_schedule="cosine", epochs=3, train_subset=10_000, export=False
    ),
}


def main(config: Config) -> dict:
    """Trains, tests and exports; returns the final metrics (also in results.json)."""
    data = mnist.classification_data(
        dataset=config.dataset,
        view="image",
        num_train_examples=config.train_subset,
        data_dir=config.data_dir,
    )
    return classifier.run_classifier(
        config,
        experiment_id=EXPERIMENT_ID,
        model_name="mnist_convnet",
        build_model=lambda: convnet.build_mnist_convnet(
            dropout_rate=config.dropout_rate, output_relu=config.output_relu, seed=config.seed
        ),
        build_optimizer=lambda total_steps: keras.optimizers.Adam(
            schedules.learning_rate(config.lr_schedule, config.learning_rate, total_steps)
        ),
        data=data,
        epochs=config.epochs,
        batch_size=config.batch_size,
        reference={"book_test_accuracy": 0.994, "keras_io_mnist_convnet": 0.9922},
    )


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))

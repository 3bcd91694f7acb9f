"""
Title: The chapter-3 MLP trained with one of the book's optimisers (optimizer_mlp.py)
Book: Chapter 4, "Momentum-based optimization" to "Adam" (seed lines 1769-1922)
Description: `--optimizer=sgd|momentum|nesterov|adagrad|rmsprop|adam`, written from the book.
Expected result: all five of the book's choices train; see ch04.optimizer_race for the comparison.

The counterpart of the book's `$ python optimizer_mlp.py <sgd, momentum, adagrad, rmsprop,
adam>` (line 1919); its repository implemented only sgd and momentum. Hyperparameters are the
book's listings (`fdl_tf2.training.optimizers` defaults in "book" epsilon placement); the book
gives no learning rate for AdaGrad and RMSProp, so they use 0.01 and 0.001 (spec ch04-05 C4-6).
"""

import dataclasses

from fdl_tf2 import config as config_lib
from fdl_tf2.data import mnist
from fdl_tf2.models import feedforward
from fdl_tf2.training import classifier, optimizers

EXPERIMENT_ID = "ch04.optimizer_mlp"
FIGURES = ("learning_curves",)  # Written to figures/ by every run (checked by the smoke tests).
TRAINS_CLASSIFIER = True  # Exports a classifier; the smoke tests check export and resume.


@dataclasses.dataclass(frozen=True)
class Config(config_lib.ExportConfig):
    """Defaults are the "book" preset."""

    optimizer: str = "momentum"  # One of fdl_tf2.training.optimizers.OPTIMIZERS.
    learning_rate: float = 0.0  # 0 means the optimiser's book default.
    epsilon_placement: str = "book"  # "book" (delta outside the root, TF1 accumulators) or "keras".
    batch_size: int = 100
    epochs: int = 500  # The repository's training_epochs.
    dataset: str = "mnist"
    train_subset: int = 0


CONFIGS = {
    # Seconds; used by tests. ch03.mlp's smoke run verifies the classifier endpoint in a fresh
    # process; this export is reloaded by the smoke test itself.
    "smoke": dict(verify_export=False, epochs=2, dataset="synthetic", batch_size=50),
    "book": dict(),
    "cpu": dict(epochs=20),  # About 30 s per optimiser on 2 CPU cores.
}


def build_optimizer(config: Config):
    """The configured optimiser from `fdl_tf2.training.optimizers`.

    Raises:
      ValueError: an unknown optimiser name.
    """
    if config.optimizer not in optimizers.OPTIMIZERS:
        names = list(optimizers.OPTIMIZERS)
        raise ValueError(f"Unknown optimizer {config.optimizer!r}; expected one of {names}.")
    kwargs = {"epsilon_placement": config.epsilon_placement}
    if config.learning_rate:
        kwargs["learning_rate"] = config.learning_rate
    return optimizers.OPTIMIZERS[config.optimizer](**kwargs)


def main(config: Config) -> dict:
    """Trains, tests and exports; returns the final metrics (also in results.json)."""
    build_optimizer(config)  # Fail fast on a bad name, before loading data.
    data = mnist.classification_data(
        dataset=config.dataset, num_train_examples=config.train_subset, data_dir=config.data_dir
    )
    return classifier.run_classifier(
        config,
        experiment_id=EXPERIMENT_ID,
        model_name=f"mnist_mlp_{config.optimizer}",
        build_model=feedforward.build_mlp,
        build_optimizer=lambda total_steps: build_optimizer(config),
        data=data,
        epochs=config.epochs,
        batch_size=config.batch_size,
    )


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))

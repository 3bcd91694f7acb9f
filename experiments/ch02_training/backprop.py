"""
Title: Backpropagation from scratch (NumPy) on a non-linear 2-D task
Book: Chapter 2, "The Backpropagation Algorithm" and minibatch GD (seed lines 644-709)
Description: 2-8-1 sigmoid MLP, squared error, hand-written backprop, minibatch GD; gradient check.
Expected result: measured (seed 0, circle) 98% train / 96% test; gradient check error ~2e-10.

The book derives backpropagation (lines 660-681) but trains nothing; the task (the
ConvNetJS-style "circle" set, spec ch01-03 §2.1 E2.7), the architecture and the
hyperparameters are choices of this port. Gradients SUM over the minibatch, as in the book
(line 707; chapter 3 averages, spec §5.2 item 6).
"""

import dataclasses

import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.foundations import backprop as bp
from fdl_tf2.foundations import toy_data
from fdl_tf2.training import runs
from fdl_tf2.viz import curves, decision_regions

EXPERIMENT_ID = "ch02.backprop"

FIGURES = ("decision_regions", "loss_curve")


@dataclasses.dataclass(frozen=True)
class Config(config_lib.RunConfig):
    """Defaults are the "book" preset (the book sets no numbers; these are the port's)."""

    task: str = "circle"  # toy_data.two_d_classes: "circle", "xor" or "spiral".
    num_per_class: int = 100  # Training points per class; the test set has twice as many.
    hidden_units: int = 8
    learning_rate: float = 0.3  # Summed over the minibatch.
    batch_size: int = 10  # The minibatch size of the book's ConvNetJS figures (line 731).
    epochs: int = 300
    gradient_check_examples: int = 10  # Examples in the finite-difference gradient check.


CONFIGS = {
    "smoke": dict(epochs=100),
    "book": dict(),
    "cpu": dict(),  # About a second of training.
}


def main(config: Config) -> dict:
    """Gradient-checks, trains and evaluates the NumPy network; returns the final metrics."""
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    inputs, labels = toy_data.two_d_classes(config.task, config.num_per_class, seed=config.seed)
    test_inputs, test_labels = toy_data.two_d_classes(
        config.task, 2 * config.num_per_class, seed=config.seed + 1
    )
    targets, test_targets = labels[:, None].astype(np.float64), test_labels[:, None]
    params = bp.init_mlp((2, config.hidden_units, 1), seed=config.seed)

    # --- Gradient check: backprop vs central finite differences ---
    check = slice(0, config.gradient_check_examples)
    gradient_error = bp.max_gradient_error(params, inputs[check], targets[check])
    run_log.print(f"Max |backprop - finite differences| = {gradient_error:.2e}")

    # --- Minibatch gradient descent with backprop (line 707) ---
    losses = []

    def on_epoch_end(epoch: int, current: list) -> None:
        loss = bp.loss(current, inputs, targets)
        losses.append(loss)
        run_log.scalars(
            epoch,
            "train",
            epoch=epoch,
            squared_error=loss,
            accuracy=bp.accuracy(current, inputs, labels),
        )
        if epoch % 10 == 0 or epoch == config.epochs:
            run_log.scalars(
                epoch,
                "test",
                epoch=epoch,
                squared_error=bp.loss(current, test_inputs, test_targets),
                accuracy=bp.accuracy(current, test_inputs, test_labels),
            )

    params = bp.train_mlp(
        params,
        inputs,
        targets,
        learning_rate=config.learning_rate,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        on_epoch_end=on_epoch_end,
    )
    metrics = {
        "gradient_check_max_error": gradient_error,
        "train_accuracy": bp.accuracy(params, inputs, labels),
        "test_accuracy": bp.accuracy(params, test_inputs, test_labels),
        "train_squared_error": losses[-1] if losses else bp.loss(params, inputs, targets),
    }
    run_log.print(
        f"Train accuracy {metrics['train_accuracy']:.3f}, test {metrics['test_accuracy']:.3f}"
    )

    decision_regions.plot_output_regions(
        lambda points: bp.predict(params, points),
        test_inputs,
        test_labels,
        run_log.figure_path("decision_regions"),
        f"NumPy backprop, 2-{config.hidden_units}-1 sigmoid net\n"
        f"{config.task} test points: accuracy {metrics['test_accuracy']:.1%} "
        f"after {config.epochs} epochs",
    )
    curves.plot_training_error(losses, run_log.figure_path("loss_curve"))
    return runs.finish_run(context, config, metrics)


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))

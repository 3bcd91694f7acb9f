"""
Title: The optimiser race on MNIST, and SGD vs momentum (Fig. 4.9)
Book: Chapter 4, "Momentum-based optimization" to "Adam" (seed lines 1769-1922)
Description: The chapter-3 MLP trained by each of the book's optimisers and Keras extras.
Expected result: momentum reaches smoothed cost 0.1 in ~1/9 of SGD's steps (book: 2,000 vs 18,000).

Every optimiser trains the same initial MLP (784-256-256-10, batch 100) for the same number of
steps, each in its own run directory and TensorBoard run under this run's folder. The book's
optimisers come from `fdl_tf2.training.optimizers` (written from its equations,
`epsilon_placement="book"`); Adadelta, Nadam and AdamW are Keras's, which the book said
TensorFlow lacked.
Steps-to-threshold use the per-step training cost (logged every `log_every_steps` steps) with
TensorBoard-style exponential smoothing.
"""

import dataclasses
import time
import typing

import keras
import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.data import mnist
from fdl_tf2.models import feedforward
from fdl_tf2.training import classifier, optimizers, records, runs
from fdl_tf2.viz import curves

EXPERIMENT_ID = "ch04.optimizer_race"
FIGURES = ("optimizer_race", "fig4_9_sgd_vs_momentum")

# Learning rates: the book's 0.01 for SGD and momentum (line 1771), Adam's default 0.001
# (line 1905); the book gives none for AdaGrad and RMSProp, so these use common defaults.
_OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.01),
    "momentum": lambda: optimizers.Momentum(0.01, momentum=0.9),
    "nesterov": lambda: optimizers.NesterovMomentum(0.01, momentum=0.9),
    "adagrad": lambda: optimizers.AdaGrad(0.01),
    "rmsprop": lambda: optimizers.RMSProp(0.001),
    "adam": lambda: optimizers.Adam(0.001),
    "keras_adadelta": lambda: keras.optimizers.Adadelta(1.0),
    "keras_nadam": lambda: keras.optimizers.Nadam(0.001),
    "keras_adamw": lambda: keras.optimizers.AdamW(0.001),
}


@dataclasses.dataclass(frozen=True)
class Config(config_lib.EngineConfig):
    """Defaults are the "book" preset."""

    UNSUPPORTED: typing.ClassVar = {
        "mixed_precision": "the race compares the book's optimisers in float32.",
    }

    optimizers: tuple = tuple(_OPTIMIZERS)  # Names from the table above.
    epochs: int = 50  # Enough for SGD to reach the 0.1 threshold (book: ~18,000 steps).
    batch_size: int = 100
    loss_threshold: float = 0.1  # Line 1782.
    smoothing: float = 0.6  # TensorBoard's default smoothing weight.
    dataset: str = "mnist"
    train_subset: int = 0
    log_every_steps: int = 10
    histogram_every: int = 0  # Nine models: no weight histograms.


CONFIGS = {
    "smoke": dict(
        epochs=2, dataset="synthetic", batch_size=50, optimizers=("sgd", "momentum", "adam")
    ),
    "book": dict(),
    "cpu": dict(epochs=40),  # About 8 minutes for all nine optimisers on 2 CPU cores.
}


def smoothed(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's exponential moving average: s_t = w * s_(t-1) + (1 - w) * v_t, s_0 = v_0."""
    result = np.empty(len(values))
    last = values[0]
    for index, value in enumerate(values):
        last = weight * last + (1 - weight) * value
        result[index] = last
    return result


def first_step_below(steps: np.ndarray, values: np.ndarray, threshold: float) -> int | None:
    below = np.nonzero(values < threshold)[0]
    return int(steps[below[0]]) if len(below) else None


def main(config: Config) -> dict:
    """Trains the MLP once per optimiser; returns final accuracies and steps-to-threshold."""
    context = runs.start_run(config, EXPERIMENT_ID)
    data = mnist.classification_data(
        dataset=config.dataset, num_train_examples=config.train_subset, data_dir=config.data_dir
    )
    initial_weights = feedforward.build_mlp(seed=config.seed).get_weights()
    rows, smoothed_costs, accuracies = {}, {}, {}
    for name in config.optimizers:
        if name not in _OPTIMIZERS:
            raise ValueError(f"Unknown optimiser {name!r}; expected one of {list(_OPTIMIZERS)}.")
        with context.strategy.scope():
            model = feedforward.build_mlp(seed=config.seed)
            model.set_weights(initial_weights)
            optimizer = _OPTIMIZERS[name]()
        start = time.perf_counter()
        with runs.sub_run(context, name, tensorboard=True, quiet=True) as optimizer_run:
            summary = classifier.train_classifier(
                config,
                optimizer_run,
                model,
                optimizer,
                data,
                epochs=config.epochs,
                batch_size=config.batch_size,
            )
        # The per-step training cost: of a step's two values, the in-graph per-step one comes
        # before the epoch mean.
        steps, costs = records.event_curve(context.workdir / name / "tensorboard" / "train", "cost")
        smoothed_costs[name] = (steps, smoothed(costs, config.smoothing))
        accuracies[name] = records.metric_curve(
            context.workdir / name / "metrics.jsonl", "validation", "accuracy"
        )
        threshold_step = first_step_below(*smoothed_costs[name], config.loss_threshold)
        rows[name] = {
            "validation_accuracy": summary["validation"]["accuracy"],
            "train_cost": summary["train"]["cost"],
            "wall_seconds": time.perf_counter() - start,
            "steps_to_threshold": threshold_step,
        }
        context.run_log.scalars(
            summary["steps"],
            name,
            validation_accuracy=rows[name]["validation_accuracy"],
            wall_seconds=rows[name]["wall_seconds"],
            steps_to_threshold=float(threshold_step or np.nan),
        )
        context.run_log.print(
            f"{name:15s} validation accuracy {rows[name]['validation_accuracy']:.4f}  "
            f"steps to smoothed cost < {config.loss_threshold}: {threshold_step}  "
            f"({rows[name]['wall_seconds']:.1f} s)"
        )
    curves.plot_optimizer_race(
        smoothed_costs, accuracies, context.run_log.figure_path("optimizer_race")
    )
    curves.plot_sgd_vs_momentum(
        smoothed_costs,
        config.loss_threshold,
        context.run_log.figure_path("fig4_9_sgd_vs_momentum"),
    )
    table = [
        "| optimiser | validation accuracy | steps to cost < threshold | wall time (s) |",
        "|---|---|---|---|",
    ]
    table += [
        f"| {name} | {row['validation_accuracy']:.4f} | {row['steps_to_threshold']} | "
        f"{row['wall_seconds']:.1f} |"
        for name, row in rows.items()
    ]
    context.run_log.print("\n".join(table))
    metrics = {
        f"{name}_validation_accuracy": row["validation_accuracy"] for name, row in rows.items()
    }
    metrics.update(
        {f"{name}_steps_to_threshold": row["steps_to_threshold"] for name, row in rows.items()}
    )
    if rows.get("sgd", {}).get("steps_to_threshold") and rows.get("momentum", {}).get(
        "steps_to_threshold"
    ):
        metrics["momentum_speedup"] = (
            rows["sgd"]["steps_to_threshold"] / rows["momentum"]["steps_to_threshold"]
        )
    return runs.finish_run(context, config, {**metrics, "table": rows})


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))

"""
Title: The exam perceptron, neurons, activations and softmax (chapter 1 figures)
Book: Chapter 1, "The Neural Network" (seed lines 310-528)
Description: Perceptron theta = [-24, 3, 4] on exam data, linear-stack collapse, softmax, bill.
Expected result: 100% exam accuracy (lines 379-381); collapse error ~1e-15; exact bills.

The book has no code for chapter 1 (spec ch01-03 §2.1, E1.1-E1.2). This run checks its claims
numerically and draws Figs. 1.1, 1.3, 1.4, 1.5 and 1.11-1.13. The exam data and the fast-food
prices are this port's choices (`fdl_tf2.foundations.toy_data`). Figs. 1.1 and 1.3 use real
MNIST (`dataset="mnist"`, which fails with the missing file names when it is absent) or, for
tests, synthetic MNIST-shaped images.
"""

import dataclasses

import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.data import mnist
from fdl_tf2.foundations import neurons, toy_data
from fdl_tf2.training import runs
from fdl_tf2.viz import activations, decision_regions, samples

EXPERIMENT_ID = "ch01.neurons"

FIGURES = (
    "fig1_1_mnist_digits",
    "fig1_3_image_as_vector",
    "fig1_4_exam_perceptron",
    "fig1_5_nonlinear_data",
    "fig1_11_sigmoid",
    "fig1_12_tanh",
    "fig1_13_relu",
)  # Written to figures/ by every run (checked by the smoke tests).

_IMAGE_SOURCES = {
    "mnist": "MNIST handwritten digits",
    "fashion_mnist": "Fashion-MNIST",
    "synthetic": "synthetic MNIST-shaped images (not digits)",
}


@dataclasses.dataclass(frozen=True)
class Config(config_lib.RunConfig):
    """Defaults are the "book" preset."""

    dataset: str = "mnist"  # Images of Figs. 1.1 and 1.3; "synthetic" needs no files (tests).
    digits_per_row: int = 10  # Fig. 1.1: samples per digit.
    num_exam_examples: int = 60  # Fig. 1.4: the book's plot shows a few dozen students.
    num_orders: int = 50  # Random fast-food orders whose bills the linear neuron computes.
    num_toy_points: int = 100  # Fig. 1.5: points per class of each non-linear set.
    toy_noise: float = 0.05  # Fig. 1.5: Gaussian noise; lower than the sets' default, for clarity.


CONFIGS = {
    "smoke": dict(dataset="synthetic"),  # Seconds, no files; used by tests.
    "book": dict(),
    "cpu": dict(),  # The book run takes seconds.
}


def _collapse_max_error(rng: np.random.Generator) -> float:
    """Largest difference between a 784-30-30-10 linear stack and its collapsed single layer."""
    widths = (784, 30, 30, 10)
    layers = [
        (rng.normal(0.0, 0.1, (n, m)), rng.normal(0.0, 0.1, m))
        for n, m in zip(widths[:-1], widths[1:], strict=True)
    ]
    inputs = rng.uniform(0.0, 1.0, (256, widths[0]))
    stacked = inputs
    for weights, bias in layers:
        stacked = neurons.dense_layer(stacked, weights, bias, neurons.linear)
    weights, bias = neurons.collapse_linear_layers(layers)
    return float(np.max(np.abs(neurons.dense_layer(inputs, weights, bias) - stacked)))


def main(config: Config) -> dict:
    """Checks the chapter's claims, writes its figures; returns the metrics (also results.json)."""
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    rng = np.random.default_rng(config.seed)

    # --- Exam perceptron (E1.1, Fig. 1.4) ---
    exam_inputs, exam_labels = toy_data.exam_data(config.num_exam_examples, seed=config.seed)
    predictions = neurons.perceptron(exam_inputs, toy_data.EXAM_THETA)
    exam_accuracy = float(np.mean(predictions == exam_labels))
    step_neuron = neurons.neuron(
        exam_inputs, toy_data.EXAM_THETA[1:], toy_data.EXAM_THETA[0], activation=neurons.step
    )

    # --- Linear neurons collapse (line 474); softmax stability (line 522) ---
    collapse_max_error = _collapse_max_error(rng)
    stable_softmax = neurons.softmax(np.array([1000.0, 1000.0]))

    # --- Fast-food neuron (E1.2) ---
    orders, bills = toy_data.fast_food_orders(config.num_orders, seed=config.seed)
    neuron_bills = neurons.fast_food_bill(orders, toy_data.FAST_FOOD_PRICES)

    metrics = {
        "exam_accuracy": exam_accuracy,
        "step_neuron_agreement": float(np.mean(step_neuron == predictions)),
        "collapse_max_error": collapse_max_error,
        "softmax_1000_1000_first": float(stable_softmax[0]),
        "softmax_has_nan": float(np.any(np.isnan(stable_softmax))),
        "fast_food_max_bill_error": float(np.max(np.abs(neuron_bills - bills))),
        "fast_food_example_bill": float(
            neurons.fast_food_bill([2, 1, 3], toy_data.FAST_FOOD_PRICES)
        ),
    }
    run_log.scalars(0, "test", **metrics)
    run_log.print(
        f"Exam perceptron accuracy: {exam_accuracy:.1%} on {len(exam_labels)} students; "
        f"linear-stack collapse max error: {collapse_max_error:.2e}; "
        f"softmax([1000, 1000]) = {stable_softmax}; "
        f"bill of 2 burgers + 1 fries + 3 sodas = {metrics['fast_food_example_bill']:g}"
    )

    # --- Figures ---
    images, labels = mnist.load_arrays("train", dataset=config.dataset, data_dir=config.data_dir)
    samples.plot_mnist_grid(
        images,
        labels,
        run_log.figure_path(FIGURES[0]),
        per_class=config.digits_per_row,
        source=_IMAGE_SOURCES.get(config.dataset, config.dataset),
    )
    grid = samples.class_grid(images, labels, config.digits_per_row)
    tiled = samples.tile_grid(grid)  # (10 * 28, digits_per_row * 28).
    run_log.images(0, FIGURES[0], tiled[None, :, :, None], max_outputs=1)
    samples.plot_image_as_vector(images[0], int(labels[0]), run_log.figure_path(FIGURES[1]))
    decision_regions.plot_exam_data(
        exam_inputs, exam_labels, toy_data.EXAM_THETA, run_log.figure_path(FIGURES[2])
    )
    toy_sets = {
        name: toy_data.two_d_classes(
            name, config.num_toy_points, seed=config.seed, noise=config.toy_noise
        )
        for name in ("circle", "xor", "spiral")
    }
    decision_regions.plot_nonlinear_sets(toy_sets, run_log.figure_path(FIGURES[3]))
    for name, figure_name in zip(("sigmoid", "tanh", "relu"), FIGURES[4:], strict=True):
        activations.plot_activation(name, run_log.figure_path(figure_name))
    run_log.print(f"Figures: {', '.join(FIGURES)}")

    return runs.finish_run(
        context,
        config,
        {
            **metrics,
            "dataset": config.dataset,
            "mnist_files": mnist.files_read(dataset=config.dataset, data_dir=config.data_dir),
        },
    )


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))

"""
Title: ConvNetJS 2-D classifier sweeps: hidden width, depth and L2 strength
Book: Chapter 2, "Overfitting" and "Regularization" (seed lines 731-746 and 805-810)
Description: 2 -> tanh hidden -> 2 softmax on a 2-D spiral, batch 10; decision regions per setting.
Expected result: wider nets fit more (cpu: 3/6/20 units 83/87/100% train); lambda = 1 underfits.

Figs. 2.10, 2.11 and 2.15: more hidden units carve more complex regions; a larger lambda gives
smaller weights and smoother regions.

The book ran these in the ConvNetJS classify2d browser demo and gives only the sizes, lambda
and the minibatch of 10 (spec ch01-03 §2.1 E2.7-E2.9). Choices of this port:
- data: the demo's spiral (two arms, 50 points each, Gaussian noise 0.05), scaled by 4 to the
  demo's coordinate range of about +-5;
- network: tanh hidden layers, linear 2-way logits with the softmax in the loss;
- optimiser: the demo's SGD (lr 0.01, momentum 0.1) in the "book" preset with 10,000 epochs
  (about 5 min on 2 CPU cores; 3/6/20 units reach 82/85/100% train, 4 x 3 layers 93%);
  the "cpu" preset uses lr 0.03 and momentum 0.9 so 500 epochs converge in seconds per model;
- L2: ConvNetJS adds `l2_decay * w` to the gradient *summed* over the minibatch, so its
  lambda acts as lambda / batch_size on the mean loss (`convnetjs_l2_scaling=True`, default);
  the width and depth sweeps keep the demo's default l2_decay of 0.001.
"""

import dataclasses
import time

from fdl_tf2 import config as config_lib
from fdl_tf2.foundations import toy_data
from fdl_tf2.models import toy_classifier
from fdl_tf2.training import runs
from fdl_tf2.viz import decision_regions, figure

EXPERIMENT_ID = "ch02.classifier_sweeps"

FIGURES = ("fig2_10_hidden_width", "fig2_11_depth", "fig2_15_l2_strength")


@dataclasses.dataclass(frozen=True)
class Config(config_lib.RunConfig):
    """Defaults are the "book" preset: the ConvNetJS classify2d demo's settings."""

    dataset: str = "spiral"  # Also "circle" or "xor" (fdl_tf2.foundations.toy_data).
    points_per_class: int = 50
    noise: float = 0.05  # Gaussian noise on the points, before scaling.
    input_scale: float = 4.0  # The demo's coordinates span about +-5.
    activation: str = "tanh"  # The demo's hidden activation.
    learning_rate: float = 0.01  # The demo's SGD learning rate.
    momentum: float = 0.1  # The demo's momentum.
    batch_size: int = 10  # The book's minibatch (line 731).
    epochs: int = 10_000  # The demo trains until stopped; its slow SGD needs ~10,000 passes.
    default_l2: float = 0.001  # The demo's l2_decay, used in the width and depth sweeps.
    convnetjs_l2_scaling: bool = True  # lambda acts as lambda / batch_size (see header).
    hidden_widths: tuple = (3, 6, 20)  # Fig. 2.10 (line 742).
    depths: tuple = (1, 2, 4)  # Fig. 2.11: hidden layers of `depth_units` units (line 746).
    depth_units: int = 3
    l2_lambdas: tuple = (0.01, 0.1, 1.0)  # Fig. 2.15 (lines 805, 810).
    l2_hidden_units: int = 20
    grid_resolution: int = 150  # Grid points per axis of the decision-region plots.


CONFIGS = {
    # Seconds on CPU; used by tests. Two settings per sweep, a few epochs.
    "smoke": dict(
        epochs=3,
        points_per_class=20,
        hidden_widths=(3, 20),
        depths=(1, 2),
        l2_lambdas=(0.01, 1.0),
        grid_resolution=60,
    ),
    "book": dict(),
    # Faster SGD so 500 epochs converge: about 30 s for the nine models on 2 CPU cores.
    "cpu": dict(learning_rate=0.03, momentum=0.9, epochs=500),
}


def _sweeps(config: Config) -> list[tuple[str, str, list[tuple[str, str, tuple, float]]]]:
    """(figure name, figure title, [(key, panel title, hidden layers, book lambda), ...])."""
    return [
        (
            "fig2_10_hidden_width",
            "Fig. 2.10: one hidden layer of 3, 6 or 20 units",
            [
                (f"hidden_{width}", f"{width} hidden units", (width,), config.default_l2)
                for width in config.hidden_widths
            ],
        ),
        (
            "fig2_11_depth",
            f"Fig. 2.11: 1, 2 or 4 hidden layers of {config.depth_units} units",
            [
                (
                    f"depth_{depth}",
                    f"{depth} hidden layer{'s' if depth > 1 else ''} x {config.depth_units}",
                    (config.depth_units,) * depth,
                    config.default_l2,
                )
                for depth in config.depths
            ],
        ),
        (
            "fig2_15_l2_strength",
            f"Fig. 2.15: L2, {config.l2_hidden_units} hidden units",
            [
                (f"lambda_{lam:g}", f"lambda = {lam:g}", (config.l2_hidden_units,), lam)
                for lam in config.l2_lambdas
            ],
        ),
    ]


def main(config: Config) -> dict:
    """Trains every setting, draws one decision-region figure per sweep; returns accuracies."""
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    inputs, labels = toy_data.two_d_classes(
        config.dataset, config.points_per_class, seed=config.seed, noise=config.noise
    )
    inputs = inputs * config.input_scale
    grid_x, grid_y = toy_classifier.decision_grid(
        inputs, config.grid_resolution, margin=0.1 * config.input_scale
    )
    l2_divisor = config.batch_size if config.convnetjs_l2_scaling else 1.0
    metrics = {}
    step = 0
    for figure_name, figure_title, settings in _sweeps(config):
        panels = []
        for key, panel_title, hidden_layers, lam in settings:
            start = time.time()
            model = toy_classifier.build_toy_classifier(
                hidden_layers, config.activation, l2=lam / l2_divisor, seed=config.seed
            )
            accuracy = toy_classifier.train_toy_classifier(
                model,
                inputs,
                labels,
                epochs=config.epochs,
                learning_rate=config.learning_rate,
                momentum=config.momentum,
                batch_size=config.batch_size,
                seed=config.seed,
            )
            weight_norm = toy_classifier.kernel_norm(model)
            run_log.scalars(step, "train", setting=key, accuracy=accuracy, kernel_norm=weight_norm)
            run_log.print(
                f"{figure_name:21s} {key:11s} train accuracy {accuracy:.3f}  "
                f"kernel norm {weight_norm:7.3f}  ({time.time() - start:.1f} s)"
            )
            metrics[f"{key}_train_accuracy"] = accuracy
            metrics[f"{key}_kernel_norm"] = weight_norm
            regions = toy_classifier.decision_regions(model, grid_x, grid_y)
            panels.append(
                dict(
                    grid_x=grid_x,
                    grid_y=grid_y,
                    regions=regions,
                    title=f"{panel_title}\ntrain accuracy {accuracy:.2f}",
                )
            )
            step += 1
        path = run_log.figure_path(figure_name)
        decision_regions.plot_decision_regions(panels, inputs, labels, figure_title, path)
        run_log.images(step, figure_name, figure.png_to_array(path), max_outputs=1)
    return runs.finish_run(context, config, metrics)


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))

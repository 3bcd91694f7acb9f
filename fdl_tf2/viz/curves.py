"""Training curves: learning curves, TensorBoard scalars, optimiser races, the BN comparison.

Book: chapter 3's learning curves and TensorBoard's Scalars tab (seed lines 1400-1420, Figs.
3.5/3.6) and the He vs uniform initialisation claim (line 1472); chapter 2's backprop training
error; chapter 4's optimiser comparison (Fig. 4.9, lines 1769-1922); chapter 5's training
progress without and with batch normalization (Fig. 5.17, lines 2427-2433; spec ch04-05 §2.8,
checklist C5-7).

Curves are read with `fdl_tf2.training.records` (metrics.jsonl and event files); each `plot_*`
function writes one PNG and returns its path.
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fdl_tf2.training import records
from fdl_tf2.viz.figure import save_figure

# --- Learning curves (Figs. 3.5/3.6) ------------------------------------------------------------


def plot_learning_curves(metrics_file: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Per-epoch training cost and validation error (or cost) against the epoch.

    Args:
      metrics_file: a run's `metrics.jsonl`.
      output: the PNG to write.

    Returns:
      The path written.
    """
    epochs = [r for r in records.read_metrics(metrics_file) if "epoch" in r]
    train = [r for r in epochs if r["split"] == "train"]
    validation = [r for r in epochs if r["split"] == "validation"]
    figure = Figure(figsize=(10, 4))
    cost_axis, error_axis = figure.subplots(1, 2)
    cost_axis.plot([r["epoch"] for r in train], [r["cost"] for r in train], label="train")
    if validation:
        cost_axis.plot(
            [r["epoch"] for r in validation], [r["cost"] for r in validation], label="validation"
        )
    cost_axis.set(xlabel="epoch", ylabel="cost", title="Cost", yscale="log")
    cost_axis.legend()
    for split, rows in (("train", train), ("validation", validation)):
        if rows and "error" in rows[0]:
            error_axis.plot([r["epoch"] for r in rows], [r["error"] for r in rows], label=split)
    error_axis.set(xlabel="epoch", ylabel="error", title="Classification error", yscale="log")
    error_axis.legend()
    return save_figure(figure, output)


def plot_tensorboard_curves(
    tensorboard_dir: str | os.PathLike,
    output: str | os.PathLike,
    *,
    tags: Sequence[str] = ("cost", "error"),
    title: str = "",
    figure_name: str = "Fig. 3.5",
) -> Path:
    """Fig. 3.5 as a PNG: `cost` and `error` from `<tensorboard_dir>/{train,validation}` events.

    The book shows TensorBoard's Scalars tab (line 1420); this draws the same curves with
    matplotlib, one panel per tag, one line per split, against the training step. Of a step
    logged twice under one tag (the per-step cost and the epoch mean), the first value is drawn
    (`records.first_value_per_step`).

    Args:
      tensorboard_dir: a run's `tensorboard/` folder.
      output: the PNG to write.
      tags: the scalar tags to plot, one panel each.
      title: a figure title (e.g. the experiment id).
      figure_name: the book figure named in each panel title (Fig. 6.7 for autoencoders).

    Returns:
      The path written.

    Raises:
      ValueError: none of `tags` occurs in the train or validation events.
    """
    splits = ("train", "validation")
    curves = {}
    for split in splits:
        scalars = records.read_event_scalars(Path(tensorboard_dir) / split)
        for tag in tags:
            curves[split, tag] = records.first_value_per_step(scalars.get(tag, []))
    if not any(len(steps) for steps, _ in curves.values()):
        raise ValueError(f"no scalar tagged {list(tags)} under {tensorboard_dir}/train|validation")
    figure = Figure(figsize=(5 * len(tags), 4))
    axes = figure.subplots(1, len(tags), squeeze=False)
    for axis, tag in zip(axes[0], tags, strict=True):
        for split in splits:
            steps, values = curves[split, tag]
            if len(steps):
                axis.plot(steps, values, label=split, marker="." if len(steps) < 30 else None)
        axis.set(xlabel="training step", ylabel=tag, title=f"{tag} ({figure_name})")
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    return save_figure(figure, output)


def plot_initialization_ablation(
    curves: Mapping[str, list[dict]], output: str | os.PathLike, relu_output: bool
) -> Path:
    """Validation accuracy and cost per epoch of the He-normal and uniform(-1, 1) MLPs (l. 1472).

    Args:
      curves: "he_normal" / "uniform" -> the validation lines of `metrics.jsonl` that carry an
        "epoch", in order.
      output: the PNG to write.
      relu_output: whether the MLPs had the book's ReLU on the logits (for the title).

    Returns:
      The path written.
    """
    figure = Figure(figsize=(11, 4))
    accuracy_axis, cost_axis = figure.subplots(1, 2)
    labels = {"he_normal": "He normal N(0, sqrt(2/fan_in))", "uniform": "uniform(-1, 1)"}
    for name, lines in curves.items():
        epochs = [line["epoch"] for line in lines]
        accuracy_axis.plot(epochs, [r["accuracy"] for r in lines], marker="o", label=labels[name])
        cost_axis.plot(epochs, [r["cost"] for r in lines], marker="o", label=labels[name])
    accuracy_axis.set(xlabel="epoch", ylabel="validation accuracy", title="Validation accuracy")
    cost_axis.set(xlabel="epoch", ylabel="validation cost", title="Validation cost", yscale="log")
    for axis in (accuracy_axis, cost_axis):
        axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend()
    logits = "ReLU'd logits as in the book" if relu_output else "linear logits"
    figure.suptitle(f"MLP 784-256-256-10 initialisation (book line 1472), {logits}")
    return save_figure(figure, output)


def plot_training_error(losses: Sequence[float], output: str | os.PathLike) -> Path:
    """The chapter-2 NumPy backprop network's squared error on the training set, per epoch.

    Args:
      losses: `(epochs,)` the error after each epoch.
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    axis.plot(np.arange(1, len(losses) + 1), losses)
    axis.set(
        xlabel="epoch",
        ylabel="E = 1/2 sum (t - y)^2 (training set)",
        yscale="log",
        title="Training error of the NumPy backprop network",
    )
    return save_figure(figure, output)


# --- The chapter-4 optimiser race (Fig. 4.9) ----------------------------------------------------


def plot_optimizer_race(
    costs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    accuracies: Mapping[str, tuple[np.ndarray, np.ndarray]],
    output: str | os.PathLike,
) -> Path:
    """Every optimiser's smoothed training cost and validation accuracy, overlaid.

    Args:
      costs: optimiser name -> `(steps, smoothed training cost)`, 1-D arrays.
      accuracies: optimiser name -> `(steps, validation accuracy)`, 1-D arrays.
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(12, 4.5))
    loss_axis, accuracy_axis = figure.subplots(1, 2)
    for name, (steps, values) in costs.items():
        loss_axis.plot(steps, values, label=name, linewidth=1)
        accuracy_axis.plot(*accuracies[name], label=name, linewidth=1)
    loss_axis.set(
        xlabel="step", ylabel="training cost (smoothed)", yscale="log", title="Training cost"
    )
    accuracy_axis.set(xlabel="step", ylabel="validation accuracy", title="Validation accuracy")
    accuracy_axis.legend(fontsize=8)
    figure.suptitle("Chapter 4 optimiser race: MLP 784-256-256-10 on MNIST, batch 100")
    return save_figure(figure, output)


def plot_sgd_vs_momentum(
    costs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    threshold: float,
    output: str | os.PathLike,
) -> Path:
    """Fig. 4.9: the smoothed training cost of SGD and momentum, with the cost threshold.

    Args:
      costs: optimiser name -> `(steps, smoothed training cost)`; "sgd" and "momentum" are
        drawn when present.
      threshold: the cost level of the book's comparison (0.1, line 1782), drawn dashed.
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(7, 4.5))
    axis = figure.subplots()
    for name in ("sgd", "momentum"):
        if name in costs:
            axis.plot(*costs[name], label=name)
    axis.axhline(threshold, color="k", linestyle="--", linewidth=1, label=f"cost = {threshold}")
    axis.set(
        xlabel="step",
        ylabel="training cost (smoothed)",
        yscale="log",
        title="Fig. 4.9: SGD vs momentum (lr 0.01, momentum 0.9)",
    )
    axis.legend()
    return save_figure(figure, output)


# --- Fig. 5.17: training curves without / with batch normalization ----------------------------


def steps_to_threshold(
    steps: Sequence[int] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    threshold: float,
    *,
    higher_is_better: bool = True,
) -> int | None:
    """The first step at which a curve reaches `threshold` (the book's "steps to 90 %").

    Reaching means `value >= threshold` (or `value <= threshold` when `higher_is_better` is
    False, for a loss or an error rate). NaN never reaches.

    Args:
      steps: `(n,)` non-decreasing training steps.
      values: `(n,)` the metric at those steps.
      threshold: the level to reach, e.g. 0.9 for the book's 90 % accuracy.
      higher_is_better: True for accuracies, False for losses and errors.

    Returns:
      The step as an int, or None if the curve never reaches `threshold`.
    """
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    if steps.ndim != 1 or steps.shape != values.shape:
        raise ValueError(
            f"steps and values must be 1-D of one length; got {steps.shape} and {values.shape}"
        )
    if np.any(np.diff(steps) < 0):
        raise ValueError("steps must be non-decreasing")
    reached = values >= threshold if higher_is_better else values <= threshold
    (indices,) = np.nonzero(reached)
    return int(steps[indices[0]]) if len(indices) else None


def _as_curve(curve, label: str) -> tuple[np.ndarray, np.ndarray]:
    """A `(steps, values)` pair of 1-D arrays, or `(n, 2)` rows of (step, value)."""
    if (
        isinstance(curve, tuple)
        and len(curve) == 2
        and all(isinstance(part, np.ndarray) and part.ndim == 1 for part in curve)
    ):
        steps, values = curve
    else:
        rows = np.asarray(curve, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != 2:
            raise ValueError(
                f"curve {label!r} must be (n, 2) rows of (step, value) or a (steps, values) "
                f"tuple of 1-D arrays; got shape {rows.shape}"
            )
        steps, values = rows[:, 0], rows[:, 1]
    if len(steps) != len(values) or len(steps) == 0:
        raise ValueError(f"curve {label!r} needs equally many steps and values, at least one")
    return np.asarray(steps), np.asarray(values, dtype=np.float64)


def _draw_curves(
    axis: Axes,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    colors: Mapping[str, str],
    threshold: float | None,
    higher_is_better: bool,
) -> None:
    """Plots each curve; marks where it first reaches `threshold` with a dotted line."""
    marks = []  # (step, colour) of each curve that reaches the threshold.
    for label, (steps, values) in curves.items():
        legend = label
        if threshold is not None:
            reached = steps_to_threshold(
                steps, values, threshold, higher_is_better=higher_is_better
            )
            if reached is None:
                legend = f"{label}: never reaches {threshold:g}"
            else:
                legend = f"{label}: {threshold:g} at step {reached:,}"
                marks.append((reached, colors[label]))
                axis.axvline(reached, color=colors[label], linestyle=":", linewidth=1.5)
        axis.plot(steps, values, color=colors[label], linewidth=1.4, label=legend)
    if threshold is not None:
        axis.axhline(threshold, color="0.5", linestyle="--", linewidth=0.8)
    if marks:
        # The step counts label the dotted lines on a top axis, outside the data, where no
        # curve can hide them.
        top = axis.secondary_xaxis("top")
        top.set_xticks([step for step, _ in marks], labels=[f"{step:,}" for step, _ in marks])
        top.tick_params(labelsize=9, length=4)
        for tick_label, (_, color) in zip(top.get_xticklabels(), marks, strict=True):
            tick_label.set_color(color)


def plot_bn_comparison(
    curves: Mapping[str, object],
    output: str | os.PathLike,
    metric: str = "accuracy",
    threshold: float = 0.7,
    *,
    losses: Mapping[str, object] | None = None,
    higher_is_better: bool = True,
    title: str = "Fig. 5.17: CIFAR-10 convnet without vs with batch normalization",
) -> Path:
    """Fig. 5.17: a validation metric of several runs against the minibatch step, overlaid.

    The book shows the two runs in two panels; overlaying them on shared axes makes the
    speed-up readable at a glance. Each curve gets a dotted vertical line (and its step count,
    also in the legend) where it first reaches `threshold`, as in the book's "90 % after about
    80,000 minibatches without BN and 14,000 with it" (line 2433). With two runs that both
    reach it, the title gives the ratio first/second. With `losses`, a second panel shows the
    training loss (log scale).

    Args:
      curves: label (e.g. "without BN", "with BN") -> the validation metric, either as
        `(n, 2)` rows of (step, value) or as the `(steps, values)` tuple that
        `records.metric_curve` returns.
      output: the PNG to write.
      metric: the metric's name for the axis label, e.g. "accuracy".
      threshold: the level marked on each curve (`steps_to_threshold`).
      losses: optional label -> training loss in the same formats.
      higher_is_better: False when `metric` is a loss or an error rate.
      title: the figure title.

    Returns:
      The path written.
    """
    if not curves:
        raise ValueError("curves must hold at least one labelled curve")
    metric_curves = {label: _as_curve(curve, label) for label, curve in curves.items()}
    loss_curves = {label: _as_curve(curve, label) for label, curve in (losses or {}).items()}
    labels = list(dict.fromkeys([*metric_curves, *loss_curves]))
    palette = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = {label: palette[index % len(palette)] for index, label in enumerate(labels)}

    panels = 2 if loss_curves else 1
    figure = Figure(figsize=(6.5 * panels, 5.2))
    axes = figure.subplots(1, panels, squeeze=False)
    metric_axis = axes[0, 0]
    _draw_curves(metric_axis, metric_curves, colors, threshold, higher_is_better)
    metric_axis.set(xlabel="minibatch step", ylabel=f"validation {metric}")
    metric_axis.set_title(
        f"Validation {metric} (dashed: {threshold:g}; dotted: first step to reach it)", fontsize=11
    )
    # Below the axes: inside, it would cover a curve or a step annotation sooner or later.
    metric_axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=9)
    metric_axis.grid(alpha=0.3)
    if loss_curves:
        loss_axis = axes[0, 1]
        _draw_curves(loss_axis, loss_curves, colors, None, True)
        loss_axis.set(xlabel="minibatch step", ylabel="training loss", yscale="log")
        loss_axis.set_title("Training loss", fontsize=11)
        loss_axis.legend(loc="upper right", fontsize=9)
        loss_axis.grid(alpha=0.3)

    reached = {
        label: steps_to_threshold(*curve, threshold, higher_is_better=higher_is_better)
        for label, curve in metric_curves.items()
    }
    if len(reached) == 2 and None not in reached.values() and min(reached.values()) > 0:
        (first, first_steps), (second, second_steps) = reached.items()
        title += (
            f"\nsteps to {metric} {threshold:g}: {first} {first_steps:,}, {second} "
            f"{second_steps:,} ({first_steps / second_steps:.1f}x)"
        )
    for axis in axes[0]:
        axis.xaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    figure.suptitle(title, fontsize=12)
    figure.tight_layout()
    return save_figure(figure, output, tight_layout=False)

"""Two-class data in the plane and the regions classifiers carve out of it (chapters 1-2).

Book: chapter 1: the exam perceptron's straight boundary (Fig. 1.4, seed line 377) and data no
line separates (Fig. 1.5, line 396); chapter 2: the decision regions of the NumPy backprop
network and of the ConvNetJS-style classifiers over hidden width, depth and L2 strength (Figs.
2.10, 2.11 and 2.15, lines 731-746 and 805-810). The classifiers themselves, and the grids of
predictions these figures draw, are in `fdl_tf2.foundations` and
`fdl_tf2.models.toy_classifier`. Each `plot_*` function writes one PNG and returns its path.
"""

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from fdl_tf2.viz.figure import save_figure

_REGION_COLORS = ListedColormap(["#f4b6b6", "#b6e3b6"])  # Light red / green, as ConvNetJS.
_POINT_COLORS = ListedColormap(["#d62728", "#2ca02c"])


def plot_exam_data(
    inputs: np.ndarray, labels: np.ndarray, theta: np.ndarray, output: str | os.PathLike
) -> Path:
    """Fig. 1.4: exam data (sleep, study) and the perceptron's line `3 x1 + 4 x2 = 24`.

    Args:
      inputs: `(N, 2)` hours of sleep and of study.
      labels: `(N,)` in {-1, +1}.
      theta: `(3,)`, `[theta_0, theta_1, theta_2]`; the line is `theta_1 x1 + theta_2 x2 +
        theta_0 = 0`.
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(6.5, 6.5))
    axis = figure.subplots()
    for label, marker, color, name in (
        (1, "o", "tab:blue", "+1: above average"),
        (-1, "x", "tab:red", "-1: below average"),
    ):
        selected = inputs[labels == label]
        axis.scatter(selected[:, 0], selected[:, 1], marker=marker, color=color, label=name)
    low, high = 0.0, 8.0
    sleep = np.linspace(low - 0.3, high + 0.3, 2)
    axis.plot(
        sleep,
        -(theta[0] + theta[1] * sleep) / theta[2],
        "k-",
        label=f"{theta[1]:g} x1 + {theta[2]:g} x2 = {-theta[0]:g}",
    )
    axis.set(
        xlim=(low - 0.3, high + 0.3),
        ylim=(low - 0.3, high + 0.3),
        xlabel="x1: hours of sleep",
        ylabel="x2: hours of study",
        title="Fig. 1.4: exam results and the perceptron's boundary",
        aspect="equal",
    )
    # Below the axes, so no point is hidden.
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize="small")
    return save_figure(figure, output)


def plot_nonlinear_sets(
    datasets: Mapping[str, tuple[np.ndarray, np.ndarray]], output: str | os.PathLike
) -> Path:
    """Fig. 1.5: two-class data sets that no straight line separates.

    Args:
      datasets: name -> (`inputs` `(N, 2)`, `labels` `(N,)` in {0, 1}).
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(4 * len(datasets), 4.7))
    axes = figure.subplots(1, len(datasets))
    for axis, (name, (inputs, labels)) in zip(np.atleast_1d(axes), datasets.items(), strict=True):
        for label, marker, color in ((0, "o", "tab:blue"), (1, "x", "tab:red")):
            selected = inputs[labels == label]
            axis.scatter(
                selected[:, 0],
                selected[:, 1],
                s=12,
                marker=marker,
                color=color,
                label=f"class {label}",
            )
        axis.set(title=name, aspect="equal", xlabel="x1", ylabel="x2")
    handles, names = axis.get_legend_handles_labels()
    figure.legend(handles, names, loc="lower center", ncol=2)  # One legend, below the panels.
    figure.suptitle("Fig. 1.5: data a linear classifier cannot separate")
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    return save_figure(figure, output, tight_layout=False)


def plot_output_regions(
    predict: Callable[[np.ndarray], np.ndarray],
    inputs: np.ndarray,
    labels: np.ndarray,
    output: str | os.PathLike,
    title: str,
    limit: float = 1.4,
) -> Path:
    """A sigmoid network's output over the plane, its 0.5 contour and the labelled points.

    Args:
      predict: points `(n, 2)` -> outputs in [0, 1], `(n,)` or `(n, 1)`, e.g.
        `lambda x: backprop.predict(params, x)`.
      inputs: `(N, 2)` points to show.
      labels: `(N,)` their classes in {0, 1}.
      output: the PNG to write.
      title: the axes title.
      limit: the plane shown is `[-limit, limit]^2`, sampled on a 200 x 200 grid.

    Returns:
      The path written.
    """
    grid = np.linspace(-limit, limit, 200)
    x1, x2 = np.meshgrid(grid, grid)
    outputs = np.asarray(predict(np.stack([x1.ravel(), x2.ravel()], axis=1))).reshape(x1.shape)
    figure = Figure(figsize=(6, 5.5))
    axis = figure.subplots()
    regions = axis.contourf(x1, x2, outputs, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    axis.contour(x1, x2, outputs, levels=[0.5], colors="k", linewidths=1.5)
    for label, marker, color in ((0, "o", "tab:blue"), (1, "s", "tab:red")):
        chosen = labels == label
        axis.scatter(
            *inputs[chosen].T, marker=marker, s=14, c=color, edgecolors="k", label=f"class {label}"
        )
    figure.colorbar(regions, ax=axis, label="network output y")
    axis.set(xlabel="x1", ylabel="x2", title=title, aspect="equal")
    axis.legend(loc="upper right")
    return save_figure(figure, output)


def plot_decision_regions(
    panels: list[dict], inputs: np.ndarray, labels: np.ndarray, title: str, output
) -> Path:
    """One panel per setting: predicted regions plus the training points (Figs. 2.10/2.11/2.15).

    Args:
      panels: dicts with `grid_x`, `grid_y`, `regions` (from
        `toy_classifier.decision_regions`) and `title`.
      inputs: training points `(num_points, 2)`.
      labels: their classes `(num_points,)` in {0, 1}.
      title: the figure's title (cites the book's figure).
      output: the PNG path.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(4.2 * len(panels), 4.8))
    axes = figure.subplots(1, len(panels), squeeze=False)
    for axis, panel in zip(axes[0], panels, strict=True):
        axis.pcolormesh(
            panel["grid_x"],
            panel["grid_y"],
            panel["regions"],
            cmap=_REGION_COLORS,
            vmin=0,
            vmax=1,
            shading="auto",
        )
        axis.scatter(
            inputs[:, 0],
            inputs[:, 1],
            c=labels,
            cmap=_POINT_COLORS,
            vmin=0,
            vmax=1,
            s=14,
            edgecolors="black",
            linewidths=0.4,
        )
        axis.set_title(panel["title"], fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_aspect("equal")
    figure.suptitle(title, fontsize=12)
    figure.tight_layout(rect=(0.0, 0.0, 1.0, 0.94))  # Room for the title above the panels.
    return save_figure(figure, output, tight_layout=False)

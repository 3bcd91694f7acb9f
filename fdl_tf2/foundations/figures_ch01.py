"""Figures 1.1, 1.3, 1.4, 1.5 and 1.11-1.13 of chapter 1, drawn with matplotlib.

Book: Chapter 1, "The Neural Network" (seed lines 310-528): MNIST digits (Fig. 1.1, line 330),
an image as a vector (Fig. 1.3, line 362), the exam perceptron (Fig. 1.4, line 377), data a
line cannot separate (Fig. 1.5, line 396) and the sigmoid, tanh and ReLU curves (Figs.
1.11-1.13, lines 498, 502, 508). Each function writes one PNG and returns its path.
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Files only; never a window.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fdl_tf2.foundations import neurons  # noqa: E402
from fdl_tf2.training import figures  # noqa: E402

ACTIVATION_FIGURES = {
    "sigmoid": ("1.11", neurons.sigmoid, "f(z) = 1 / (1 + exp(-z)), range (0, 1)"),
    "tanh": ("1.12", neurons.tanh, "f(z) = tanh(z), range (-1, 1)"),
    "relu": ("1.13", neurons.relu, "f(z) = max(0, z)"),
}
"""Activation name -> (book figure number, function, formula shown in the title)."""


def _save(figure: plt.Figure, output: str | os.PathLike) -> Path:
    return figures.save_figure(figure, output, dpi=100, tight_layout=False)


def digit_grid(
    images: np.ndarray, labels: np.ndarray, per_class: int = 10, num_classes: int = 10
) -> np.ndarray:
    """The first `per_class` images of each class, one row per class (the layout of Fig. 1.1).

    Args:
      images: `(N, height, width)`.
      labels: `(N,)` integers in `[0, num_classes)`.
      per_class: columns of the grid.
      num_classes: rows of the grid.

    Returns:
      `(num_classes, per_class, height, width)`, same dtype as `images`.

    Raises:
      ValueError: a class has fewer than `per_class` examples.
    """
    labels = np.asarray(labels)
    rows = []
    for digit in range(num_classes):
        (indices,) = np.nonzero(labels == digit)
        if len(indices) < per_class:
            raise ValueError(
                f"Class {digit} has {len(indices)} examples; per_class={per_class} needs more."
            )
        rows.append(images[indices[:per_class]])
    return np.stack(rows)


def tile_grid(grid: np.ndarray) -> np.ndarray:
    """`(rows, columns, height, width)` -> one image `(rows * height, columns * width)`."""
    rows, columns, height, width = grid.shape
    return grid.transpose(0, 2, 1, 3).reshape(rows * height, columns * width)


def plot_mnist_grid(
    images: np.ndarray,
    labels: np.ndarray,
    output: str | os.PathLike,
    per_class: int = 10,
    source: str = "MNIST handwritten digits",
) -> Path:
    """Fig. 1.1: MNIST samples, a row of 0s, a row of 1s, and so on.

    Args:
      images: uint8 `(N, 28, 28)`.
      labels: `(N,)` digits 0-9.
      output: the PNG to write.
      per_class: samples per row.
      source: what the images are, for the title (e.g. synthetic stand-ins in tests).
    """
    grid = digit_grid(images, labels, per_class)
    height, width = grid.shape[2:]
    # One image of the tiled grid: far faster to draw than 100 separate axes.
    figure, axis = plt.subplots(figsize=(per_class * 0.6 + 0.6, 10 * 0.6 + 0.6))
    axis.imshow(tile_grid(grid), cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
    for row in range(1, 10):
        axis.axhline(row * height - 0.5, color="0.7", lw=0.8)
    for column in range(1, per_class):
        axis.axvline(column * width - 0.5, color="0.7", lw=0.8)
    axis.set_xticks([])
    axis.set_yticks(np.arange(10) * height + (height - 1) / 2, [str(digit) for digit in range(10)])
    axis.tick_params(left=False)
    figure.suptitle(f"Fig. 1.1: {source}, one row per class")
    figure.tight_layout(pad=0.5)
    return _save(figure, output)


def plot_image_as_vector(image: np.ndarray, label: int, output: str | os.PathLike) -> Path:
    """Fig. 1.3: a 28x28 digit next to the 784-vector of its pixel intensities.

    Args:
      image: uint8 `(28, 28)`.
      label: its digit (for the title).
      output: the PNG to write.
    """
    vector = image.reshape(-1).astype(np.float64) / 255.0  # (784,), row by row.
    figure = plt.figure(figsize=(11, 4))
    grid_spec = figure.add_gridspec(1, 3, width_ratios=(1.2, 0.35, 3.0))
    image_axis = figure.add_subplot(grid_spec[0])
    image_axis.imshow(image, cmap="gray_r", vmin=0, vmax=255)
    image_axis.set_title(f"28 x 28 image of a {label}")
    strip_axis = figure.add_subplot(grid_spec[1])
    strip_axis.imshow(vector[:, None], cmap="gray_r", aspect="auto", vmin=0, vmax=1)
    strip_axis.set(xticks=[], ylabel="pixel index", title="x (784)")
    line_axis = figure.add_subplot(grid_spec[2])
    line_axis.plot(np.arange(784), vector, lw=0.8)
    for row in range(1, 28):
        line_axis.axvline(row * 28, color="0.9", lw=0.5, zorder=0)  # Image-row boundaries.
    line_axis.set(
        xlim=(0, 783),
        xlabel="pixel index i = 28 * row + column",
        ylabel="intensity x_i in [0, 1]",
        title="The same image as a vector x = [x_0 ... x_783]",
    )
    figure.suptitle("Fig. 1.3: an image is flattened into a vector of pixel intensities")
    figure.tight_layout()
    return _save(figure, output)


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
    """
    figure, axis = plt.subplots(figsize=(6.5, 6.5))
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
    figure.tight_layout()
    return _save(figure, output)


def plot_nonlinear_sets(
    datasets: dict[str, tuple[np.ndarray, np.ndarray]], output: str | os.PathLike
) -> Path:
    """Fig. 1.5: two-class data sets that no straight line separates.

    Args:
      datasets: name -> (`inputs` `(N, 2)`, `labels` `(N,)` in {0, 1}).
      output: the PNG to write.
    """
    figure, axes = plt.subplots(1, len(datasets), figsize=(4 * len(datasets), 4.7))
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
    return _save(figure, output)


def plot_activation(name: str, output: str | os.PathLike, limit: float = 10.0) -> Path:
    """Figs. 1.11-1.13: the sigmoid, tanh or ReLU curve on `[-limit, limit]`.

    Args:
      name: "sigmoid", "tanh" or "relu".
      output: the PNG to write.
      limit: half-width of the z range.

    Raises:
      ValueError: an unknown name.
    """
    if name not in ACTIVATION_FIGURES:
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {list(ACTIVATION_FIGURES)}."
        )
    number, function, formula = ACTIVATION_FIGURES[name]
    z = np.linspace(-limit, limit, 1001)
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(z, function(z), lw=2)
    axis.axhline(0.0, color="0.6", lw=0.8)
    axis.axvline(0.0, color="0.6", lw=0.8)
    axis.grid(alpha=0.3)
    axis.set(xlabel="z", ylabel="f(z)", title=f"Fig. {number}: {name}, {formula}")
    figure.tight_layout()
    return _save(figure, output)

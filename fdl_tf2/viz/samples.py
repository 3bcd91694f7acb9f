"""Dataset samples: class-by-class grids (Figs. 1.1, 5.16) and an image as a vector (Fig. 1.3).

Book: chapter 1, "The Neural Network": MNIST digits (Fig. 1.1, seed line 330) and an image as
a vector of pixel intensities (Fig. 1.3, line 362); chapter 5: CIFAR-10 training images (Fig.
5.16, lines 2336-2344). `class_grid` and `tile_grid` also give the arrays that go to
TensorBoard image summaries; the `plot_*` functions write one PNG each and return its path.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fdl_tf2.viz.figure import save_figure


def class_grid(
    images: np.ndarray, labels: np.ndarray, per_class: int = 10, num_classes: int = 10
) -> np.ndarray:
    """The first `per_class` images of each class, one row per class (the layout of Fig. 1.1).

    Args:
      images: `(N, height, width)` or `(N, height, width, channels)`.
      labels: `(N,)` integers in `[0, num_classes)`.
      per_class: columns of the grid.
      num_classes: rows of the grid.

    Returns:
      `(num_classes, per_class, height, width[, channels])`, same dtype as `images`.

    Raises:
      ValueError: a class has fewer than `per_class` examples.
    """
    labels = np.asarray(labels)
    rows = []
    for label in range(num_classes):
        (indices,) = np.nonzero(labels == label)
        if len(indices) < per_class:
            raise ValueError(
                f"Class {label} has {len(indices)} examples; per_class={per_class} needs more."
            )
        rows.append(images[indices[:per_class]])
    return np.stack(rows)


def tile_grid(grid: np.ndarray) -> np.ndarray:
    """`(rows, columns, height, width[, channels])` -> one image `(rows * height, columns *
    width[, channels])`."""
    rows, columns, height, width = grid.shape[:4]
    channels = grid.shape[4:]
    tiled = grid.transpose(0, 2, 1, 3, *range(4, grid.ndim))  # (rows, height, columns, width, ...)
    return tiled.reshape(rows * height, columns * width, *channels)


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

    Returns:
      The path written.
    """
    grid = class_grid(images, labels, per_class)
    height, width = grid.shape[2:]
    # One image of the tiled grid: far faster to draw than 100 separate axes.
    figure = Figure(figsize=(per_class * 0.6 + 0.6, 10 * 0.6 + 0.6))
    axis = figure.subplots()
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
    return save_figure(figure, output, tight_layout=False)


def plot_image_as_vector(image: np.ndarray, label: int, output: str | os.PathLike) -> Path:
    """Fig. 1.3: a 28x28 digit next to the 784-vector of its pixel intensities.

    Args:
      image: uint8 `(28, 28)`.
      label: its digit (for the title).
      output: the PNG to write.

    Returns:
      The path written.
    """
    vector = image.reshape(-1).astype(np.float64) / 255.0  # (784,), row by row.
    figure = Figure(figsize=(11, 4))
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
    return save_figure(figure, output)


def plot_cifar_samples(
    grid: np.ndarray,
    class_names: Sequence[str],
    source: str,
    output: str | os.PathLike,
    highlight_row: int | None = None,
) -> Path:
    """Fig. 5.16: CIFAR-10 training images, one row per class, one small axis per image.

    Args:
      grid: uint8 `(classes, per_class, 32, 32, 3)` from `class_grid`.
      class_names: the row labels, e.g. `cifar10.label_names()`.
      source: what the images are, for the title (the offline copy, or synthetic stand-ins).
      output: the PNG to write.
      highlight_row: a class whose row is framed in red (the book shows a dog), or None.

    Returns:
      The path written.
    """
    num_classes, per_class = grid.shape[:2]
    figure = Figure(figsize=(1.2 * per_class + 1.4, 1.2 * num_classes))
    axes = figure.subplots(num_classes, per_class, squeeze=False)
    for row in range(num_classes):
        for column in range(per_class):
            axis = axes[row, column]
            axis.imshow(grid[row, column], interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == highlight_row:
                for spine in axis.spines.values():
                    spine.set_edgecolor("tab:red")
                    spine.set_linewidth(2)
        axes[row, 0].set_ylabel(
            class_names[row], rotation=0, ha="right", va="center", fontsize=11, labelpad=8
        )
    title = f"Fig. 5.16: CIFAR-10 training images, 32x32x3 ({source})"
    if highlight_row is not None:
        title += f"; {class_names[highlight_row]} row in red"
    figure.suptitle(title)
    return save_figure(figure, output)

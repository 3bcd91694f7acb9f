"""First-layer convolution filters as images (Fig. 5.18) and as TensorBoard summaries.

Book: chapter 5, "Visualizing Learning in Convolutional Networks" (seed lines 2435-2443): the
learned 5x5x3 filters of the first conv layer of the CIFAR-10 network, each normalised on its
own, as the book repository's `filter_summary` shows them (spec ch04-05 §2.8, checklist C5-8).

Everything takes and returns NumPy arrays; `plot_filter_grid` writes one PNG and returns its
path.
"""

import math
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fdl_tf2.viz.figure import save_figure


def _check_kernel(kernel: np.ndarray) -> np.ndarray:
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 4 or kernel.shape[2] not in (1, 3):
        raise ValueError(
            "kernel must be a Conv2D kernel (height, width, in_channels, filters) with 1 or 3 "
            f"input channels, e.g. (5, 5, 3, 64); got shape {kernel.shape}"
        )
    if not np.all(np.isfinite(kernel)):
        raise ValueError("kernel holds NaN or infinite values")
    return kernel


def normalize_filters(kernel: np.ndarray) -> np.ndarray:
    """Each filter min-max scaled to [0, 1] on its own, filters first (the repo's transpose).

    `(e, e, d_in, k) -> (k, e, e, d_in)`: the repo's `filter_summary` transposes W to
    `(64, 5, 5, 3)`. Filter j becomes `(W_j - min W_j) / (max W_j - min W_j)`, with min and max
    over all its pixels and channels together (so its colours keep their ratios); a constant
    filter becomes 0.5 grey.

    Args:
      kernel: `(e, e, d_in, k)` with d_in 1 (grey) or 3 (RGB).

    Returns:
      float64 `(k, e, e, d_in)` in [0, 1].
    """
    kernel = _check_kernel(kernel)
    filters = np.transpose(kernel, (3, 0, 1, 2))  # (k, e, e, d_in)
    low = filters.min(axis=(1, 2, 3), keepdims=True)
    span = filters.max(axis=(1, 2, 3), keepdims=True) - low
    scaled = (filters - low) / np.where(span > 0, span, 1.0)
    return np.where(span > 0, scaled, 0.5)


def filters_for_summary(kernel: np.ndarray) -> np.ndarray:
    """The filters as images for `tf.summary.image("filters", images, max_outputs=64)`.

    TF1's `tf.image_summary` rescaled each float image itself; TF2's `tf.summary.image` expects
    floats in [0, 1], hence the per-filter normalisation of `normalize_filters`.

    Args:
      kernel: `(e, e, d_in, k)`, e.g. conv_1's `(5, 5, 3, 64)`.

    Returns:
      float32 `(k, e, e, d_in)` in [0, 1], e.g. `(64, 5, 5, 3)`.
    """
    return normalize_filters(kernel).astype(np.float32)


def filter_grid(
    kernel: np.ndarray,
    columns: int = 8,
    scale: int = 4,
    border: int = 1,
    border_value: int = 255,
) -> np.ndarray:
    """Fig. 5.18 as one RGB image: the normalised filters tiled row by row.

    Filter j goes to row `j // columns`, column `j % columns`; each is upscaled by `scale` with
    nearest neighbour (each weight becomes a `scale x scale` block) and separated from its
    neighbours and the image edge by `border` pixels of `border_value`. Cells left over in the
    last row stay `border_value`. Grey (d_in = 1) filters are repeated into three channels.

    Args:
      kernel: `(e, e, d_in, k)`, e.g. `(5, 5, 3, 64)` gives an 8 x 8 grid.
      columns: filters per row.
      scale: nearest-neighbour upscaling factor.
      border: separating lines, in pixels.
      border_value: their grey level, 0-255.

    Returns:
      uint8 `(rows * e * scale + (rows + 1) * border, columns * e * scale + (columns + 1) *
      border, 3)` with `rows = ceil(k / columns)`; `(169, 169, 3)` for the defaults and 64
      filters of 5 x 5.
    """
    for name, value, minimum in (
        ("columns", columns, 1),
        ("scale", scale, 1),
        ("border", border, 0),
    ):
        if int(value) != value or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    if not 0 <= border_value <= 255:
        raise ValueError(f"border_value must be in [0, 255]; got {border_value}")
    filters = normalize_filters(kernel)  # (k, e, e, d_in)
    if filters.shape[-1] == 1:
        filters = np.repeat(filters, 3, axis=-1)
    count, height, width = filters.shape[:3]
    pixels = np.round(filters * 255.0).astype(np.uint8)
    pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)  # (k, e*scale, e*scale, 3)
    cell_height, cell_width = height * scale, width * scale
    rows = math.ceil(count / columns)
    grid = np.full(
        (
            rows * cell_height + (rows + 1) * border,
            columns * cell_width + (columns + 1) * border,
            3,
        ),
        border_value,
        dtype=np.uint8,
    )
    for index in range(count):
        top = border + (index // columns) * (cell_height + border)
        left = border + (index % columns) * (cell_width + border)
        grid[top : top + cell_height, left : left + cell_width] = pixels[index]
    return grid


def plot_filter_grid(
    kernel: np.ndarray,
    output: str | os.PathLike,
    title: str = "Fig. 5.18: first-layer filters",
    columns: int = 8,
) -> Path:
    """Fig. 5.18: writes `filter_grid(kernel, columns)` as a PNG with a title.

    Args:
      kernel: `(e, e, d_in, k)`, e.g. conv_1's `(5, 5, 3, 64)`.
      output: the PNG to write.
      title: the figure title (e.g. which network and step).
      columns: filters per row.

    Returns:
      The path written.
    """
    kernel = np.asarray(kernel)  # Also a Keras variable or a tf.Tensor.
    grid = filter_grid(kernel, columns=columns, scale=8, border=2)
    height, width = grid.shape[:2]
    figure = Figure(figsize=(width / 80 + 0.4, height / 80 + 0.9))
    axis = figure.subplots()
    axis.imshow(grid, interpolation="nearest")
    axis.set_axis_off()
    size = kernel.shape[0], kernel.shape[1], kernel.shape[2]
    axis.set_title(
        f"{title}\n{kernel.shape[3]} filters of {size[0]}x{size[1]}x{size[2]}, "
        "each min-max normalised",
        fontsize=10,
    )
    figure.tight_layout(pad=0.4)
    return save_figure(figure, output, tight_layout=False)

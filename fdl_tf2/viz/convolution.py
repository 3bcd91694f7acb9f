"""Convolution basics of chapter 5 as figures: feature maps, the Fig. 5.11 layer, pooling.

Book: chapter 5, "Convolutional Neural Networks": filters and feature maps (seed lines
1998-2053, Figs. 5.5-5.6), the worked example of a convolutional layer (lines 2055-2107, Figs.
5.11-5.12) and max / fractional max pooling (lines 2109-2134). The numbers are computed by
`fdl_tf2.foundations.convolution`; each `plot_*` function writes one PNG and returns its path.
"""

import os
from pathlib import Path

import numpy as np
from matplotlib import patches
from matplotlib.figure import Figure

from fdl_tf2.foundations import convolution
from fdl_tf2.viz.figure import save_figure


def plot_feature_maps(
    image: np.ndarray, maps: np.ndarray, found: np.ndarray, output: str | os.PathLike
) -> Path:
    """Figs. 5.5-5.6: a binary drawing, the two 3x3 line detectors, their maps, the lines found.

    Args:
      image: `(size, size)` binary drawing (`convolution.line_drawing`).
      maps: `(size, size, 2)` vertical and horizontal feature maps
        (`convolution.line_feature_maps`).
      found: `(size, size, 2)` bool, where each map exceeds the detection threshold
        (`convolution.detect_lines`).
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(15, 7.5))
    grid = figure.add_gridspec(
        2, 5, width_ratios=(1.6, 1, 1, 0.06, 1), wspace=0.25, hspace=0.25, left=0.02, right=0.98
    )
    image_axis = figure.add_subplot(grid[:, 0])
    image_axis.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    image_axis.set_title(f"Fig. 5.5: binary input image\n{image.shape[0]}x{image.shape[1]}")
    limit = convolution.LINE_MATCH_RESPONSE
    kernels = (convolution.VERTICAL_LINE_KERNEL, convolution.HORIZONTAL_LINE_KERNEL)
    axes = [image_axis]
    for row, (label, kernel) in enumerate(zip(("Vertical", "Horizontal"), kernels, strict=True)):
        kernel_axis = figure.add_subplot(grid[row, 1])
        kernel_axis.imshow(kernel, cmap="RdBu_r", vmin=-4, vmax=4)
        for (i, j), value in np.ndenumerate(kernel):
            kernel_axis.text(j, i, f"{value:+.0f}", ha="center", va="center", fontsize=16)
        kernel_axis.set_title(f"{label} line detector\n(3x3 filter)")
        map_axis = figure.add_subplot(grid[row, 2])
        shown = map_axis.imshow(maps[..., row], cmap="RdBu_r", vmin=-limit, vmax=limit)
        map_axis.set_title(f"{label} feature map\n(Conv2D output)")
        figure.colorbar(shown, cax=figure.add_subplot(grid[row, 3]))
        found_axis = figure.add_subplot(grid[row, 4])
        # Found pixels black over the input in light grey, so misses would show.
        found_axis.imshow(np.maximum(0.2 * image, found[..., row]), cmap="gray_r", vmin=0, vmax=1)
        found_axis.set_title(
            f"{label} lines found: response > {convolution.LINE_DETECTION_THRESHOLD:g}\n"
            "(black; the input in grey)"
        )
        axes += [kernel_axis, map_axis, found_axis]
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(
        "Figs. 5.5-5.6: two fixed filters in Conv2D(2, 3, use_bias=False, padding='same'); "
        "the diagonal stroke excites neither",
        fontsize=13,
    )
    return save_figure(figure, output, tight_layout=False, bbox_inches="tight")


def _number_grid(axis, values, *, title, cmap="RdBu_r", limit=None, padding=0) -> None:
    """Draws a 2-D array as a grid of cells showing their values.

    Cells are coloured by value on `cmap` in [-limit, limit] (white when `limit` is None);
    the `padding` outer rings are hatched grey.
    """
    if limit is None:
        axis.imshow(np.zeros(values.shape), cmap="Greys", vmin=0, vmax=1)
    else:
        axis.imshow(values, cmap=cmap, vmin=-limit, vmax=limit)
    rows, columns = values.shape
    for (i, j), value in np.ndenumerate(values):
        if padding and not (padding <= i < rows - padding and padding <= j < columns - padding):
            axis.add_patch(
                patches.Rectangle(
                    (j - 0.5, i - 0.5), 1, 1, facecolor="0.88", hatch="//", ec="0.7", lw=0
                )
            )
        axis.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=12)
    axis.set_xticks(np.arange(columns + 1) - 0.5, minor=True)
    axis.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
    axis.grid(which="minor", color="0.45", lw=0.7)
    axis.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    axis.set_title(title, fontsize=11)


def plot_conv_example(
    inputs: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray,
    outputs: np.ndarray,
    output: str | os.PathLike,
) -> Path:
    """Figs. 5.11-5.12: the worked example as grids of numbers, windows of two outputs marked.

    Args:
      inputs: `(5, 5, 3)` the input volume (before its zero padding of 1).
      kernel: `(3, 3, 3, 2)` the two filters.
      bias: `(2,)` their biases.
      outputs: `(3, 3, 2)` the layer's output (stride 2).
      output: the PNG to write.

    Returns:
      The path written.
    """
    padded = np.pad(inputs, ((1, 1), (1, 1), (0, 0)))  # (7, 7, 3).
    # Rows: input, W0, W1, output; their heights follow the grid sizes so all cells match.
    figure = Figure(figsize=(12, 12.5))
    grid = figure.add_gridspec(4, 3, height_ratios=(7, 3, 3, 3), hspace=0.35, wspace=0.1, top=0.9)
    window_colors = ("tab:red", "tab:blue")  # Output (0, 0) as in Fig. 5.11, (0, 1) Fig. 5.12.
    row_labels = (
        "input volume\n5x5x3, p = 1\n(padding\nhatched)",
        f"filter W0\n3x3x3\nbias b0 = {bias[0]:.0f}",
        f"filter W1\n3x3x3\nbias b1 = {bias[1]:.0f}",
        "output\nvolume\n3x3x2",
    )
    for depth in range(3):
        axis = figure.add_subplot(grid[0, depth])
        _number_grid(axis, padded[..., depth], title=f"x[:, :, {depth}]", padding=1)
        for column, color in enumerate(window_colors):
            corner = (2 * column - 0.5, -0.5)  # Stride 2: windows start at columns 0 and 2.
            axis.add_patch(patches.Rectangle(corner, 3, 3, fill=False, ec=color, lw=3))
        if depth == 0:
            axis.set_ylabel(row_labels[0], rotation=0, ha="right", va="center", fontsize=12)
        for filter_index in range(2):
            axis = figure.add_subplot(grid[1 + filter_index, depth])
            _number_grid(
                axis,
                kernel[:, :, depth, filter_index],
                title=f"W{filter_index}[:, :, {depth}]",
                limit=3,
            )
            if depth == 0:
                axis.set_ylabel(
                    row_labels[1 + filter_index], rotation=0, ha="right", va="center", fontsize=12
                )
    for filter_index in range(2):
        axis = figure.add_subplot(grid[3, filter_index])
        _number_grid(axis, outputs[..., filter_index], title=f"o[:, :, {filter_index}]")
        if filter_index == 0:
            axis.set_ylabel(row_labels[3], rotation=0, ha="right", va="center", fontsize=12)
            for column, color in enumerate(window_colors):
                axis.add_patch(
                    patches.Rectangle((column - 0.5, -0.5), 1, 1, fill=False, ec=color, lw=3)
                )
    text_axis = figure.add_subplot(grid[3, 2])
    text_axis.axis("off")
    for column, color in enumerate(window_colors):
        window = padded[0:3, 2 * column : 2 * column + 3]  # (3, 3, 3).
        products = float(np.sum(window * kernel[..., 0]))
        figure_number = "5.11" if column == 0 else "5.12"
        text_axis.text(
            0.0,
            0.95 - 0.5 * column,
            f"Fig. {figure_number}: o[0, {column}, 0]\n= sum(window * W0) + b0\n"
            f"= {products:.0f} + {bias[0]:.0f} = {outputs[0, column, 0]:.0f}",
            color=color,
            fontsize=12,
            va="top",
            transform=text_axis.transAxes,
        )
    figure.suptitle(
        "Figs. 5.11-5.12: 5x5x3 input, zero padding 1, two 3x3x3 filters, stride 2, linear\n"
        f"-> 3x3x2 output; {convolution.conv_parameter_count(3, 3, 2)} parameters "
        "(2 x 27 weights + 2 biases)",
        fontsize=13,
    )
    return save_figure(figure, output, tight_layout=False, bbox_inches="tight")


def plot_pooling(
    image: np.ndarray,
    pooled: dict[str, np.ndarray],
    rows: np.ndarray,
    columns: np.ndarray,
    ratio: float,
    output: str | os.PathLike,
) -> Path:
    """Max pooling 2x2/2 and 3x3/2 of one image, and fractional max pooling with its regions.

    Args:
      image: `(h, w, 3)` float pixels in 0-255.
      pooled: "2x2/2", "3x3/2" and "fractional" -> the pooled images `(h', w', 3)`.
      rows, columns: the fractional pooling's region boundaries
        (`convolution.fractional_max_pool`), `(h' + 1,)` and `(w' + 1,)`.
      ratio: the fractional pooling ratio alpha.
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(20, 4.6))
    axes = figure.subplots(1, 5)
    panels = [
        (image, f"input {image.shape[0]}x{image.shape[1]}"),
        (
            pooled["2x2/2"],
            f"max pool 2x2, stride 2: {pooled['2x2/2'].shape[0]}x{pooled['2x2/2'].shape[1]}",
        ),
        (
            pooled["3x3/2"],
            f"max pool 3x3, stride 2: {pooled['3x3/2'].shape[0]}x{pooled['3x3/2'].shape[1]}",
        ),
        (image, f"fractional regions (alpha = {ratio:.3f}), shaded"),
        (
            pooled["fractional"],
            f"fractional max pool: {pooled['fractional'].shape[0]}x{pooled['fractional'].shape[1]}",
        ),
    ]
    for axis, (picture, title) in zip(axes, panels, strict=True):
        axis.imshow(np.clip(picture, 0, 255).astype(np.uint8), interpolation="nearest")
        axis.set_title(title, fontsize=11)
        axis.set_xticks([])
        axis.set_yticks([])
    # Alternate pooling regions shaded dark and light: 1- and 2-pixel regions show up.
    region_rows = np.searchsorted(rows, np.arange(image.shape[0]), side="right") - 1
    region_columns = np.searchsorted(columns, np.arange(image.shape[1]), side="right") - 1
    checkerboard = (region_rows[:, None] + region_columns[None, :]) % 2  # (h, w).
    axes[3].imshow(checkerboard, cmap="gray", vmin=0, vmax=1, alpha=0.45, interpolation="nearest")
    figure.suptitle(
        "Max pooling (the book's 2x2/2 and 3x3/2 variants) and fractional max pooling "
        "(regions of 1 or 2 pixels at pseudo-random places)"
    )
    return save_figure(figure, output)

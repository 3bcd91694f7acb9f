"""Image grids of autoencoder and PCA outputs: Figs. 6.9, 6.10, 6.12, 6.14 and decoder features.

Book: chapter 6, "Implementing an Autoencoder in TensorFlow" (seed lines 2773 and 2789-2791,
Fig. 6.9: inputs and their reconstructions after 5, 100 and 200 epochs; lines 2809-2819, Fig.
6.10: PCA against autoencoder reconstructions, 2-D and 30-D codes), "Denoising to Force Robust
Representations" (lines 2898-2945, Figs. 6.12 and 6.14: originals, half-pixel-corrupted inputs,
and their reconstructions) and "Sparsity in Autoencoders" (lines 2947-2985: features of dense
vs sparse autoencoders, here the decoder's weight vectors); spec ch06-07 §2.1.2-§2.1.5,
checklist items 6, 7 and 10.

Images are `(n, 784)` or `(n, 28, 28)` floats in [0, 1]; they are drawn unclipped with the
grey scale fixed to [0, 1] (`cmap="gray"`, as the book's `plt.cm.gray`), so a reconstruction
that leaves [0, 1] (PCA's do) saturates instead of being rescaled. Each `*_figure` function
returns a `matplotlib.figure.Figure`; each `plot_*` function writes one PNG and returns it.
"""

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fdl_tf2.viz.figure import save_figure


def as_square_images(images: np.ndarray, name: str = "images") -> np.ndarray:
    """`(n, side * side)` or `(n, side, side)` -> float64 `(n, side, side)`."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(f"{name}: {images.shape[1]} pixels is not a square image")
        images = images.reshape(len(images), side, side)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"{name} must be (n, 784) or (n, 28, 28); got shape {images.shape}")
    return images


def image_rows_figure(rows: Mapping[str, np.ndarray], title: str = "") -> Figure:
    """One row of images per entry, labelled on the left, `n` columns.

    Axis `figure.axes[row * n + column]` shows `rows[name][column]` (names in order).

    Args:
      rows: `{row label: (n, 784) or (n, 28, 28)}`, every row with the same n.
      title: the figure title.
    """
    if not rows:
        raise ValueError("rows is empty")
    arrays = {name: as_square_images(images, name) for name, images in rows.items()}
    counts = {len(images) for images in arrays.values()}
    if len(counts) != 1 or 0 in counts:
        sizes = {name: len(images) for name, images in arrays.items()}
        raise ValueError(f"every row needs the same number (> 0) of images; got {sizes}")
    columns = counts.pop()
    figure = Figure(figsize=(1.0 * columns + 1.6, 1.05 * len(arrays) + 0.6))
    axes = figure.subplots(len(arrays), columns, squeeze=False)
    for row, (name, images) in enumerate(arrays.items()):
        for column, image in enumerate(images):
            axis = axes[row, column]
            axis.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure


def reconstructions_figure(
    originals: np.ndarray,
    reconstructions: Mapping[str, np.ndarray],
    title: str = "Inputs and their reconstructions",
) -> Figure:
    """Figs. 6.9 / 6.10: the originals' row over one row per reconstruction.

    Args:
      originals: `(n, 784)` or `(n, 28, 28)`.
      reconstructions: e.g. `{"epoch 5": ..., "epoch 100": ..., "epoch 200": ...}` (Fig. 6.9)
        or `{"PCA, k = 2": ..., "PCA, k = 30": ..., "autoencoder, k = 2": ...}` (Fig. 6.10),
        each the same shape as `originals`.
      title: the figure title.
    """
    if "original" in reconstructions:
        raise ValueError('"original" is the label of the first row; rename that reconstruction')
    return image_rows_figure({"original": originals, **reconstructions}, title)


def plot_reconstructions(
    originals: np.ndarray,
    reconstructions: Mapping[str, np.ndarray],
    output: str | os.PathLike,
    title: str = "Inputs and their reconstructions",
) -> Path:
    """Writes `reconstructions_figure(originals, reconstructions, title)`; returns the path."""
    return save_figure(reconstructions_figure(originals, reconstructions, title), output)


def denoising_figure(
    originals: np.ndarray,
    corrupted: np.ndarray,
    reconstructions: np.ndarray | None = None,
    title: str = "",
) -> Figure:
    """Figs. 6.12 / 6.14: originals, corrupted inputs and (if given) their reconstructions.

    Args:
      originals: `(n, 784)` or `(n, 28, 28)`.
      corrupted: the same images with half of their pixels zeroed, same shape.
      reconstructions: the denoising autoencoder's outputs for `corrupted`, or None for Fig.
        6.12 (two rows).
      title: the figure title; by default the book's figure number.
    """
    rows = {"original": originals, "corrupted": corrupted}
    if reconstructions is not None:
        rows["reconstruction"] = reconstructions
    default = (
        "Fig. 6.14: corrupted inputs and their denoised reconstructions"
        if reconstructions is not None
        else "Fig. 6.12: originals (top) and half of their pixels zeroed (bottom)"
    )
    return image_rows_figure(rows, title or default)


def plot_denoising(
    originals: np.ndarray,
    corrupted: np.ndarray,
    output: str | os.PathLike,
    reconstructions: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """Writes `denoising_figure(originals, corrupted, reconstructions, title)`."""
    return save_figure(denoising_figure(originals, corrupted, reconstructions, title), output)


def decoder_feature_images(weights: np.ndarray, count: int = 64) -> np.ndarray:
    """The first `count` decoder weight vectors as images, each min-max scaled to [0, 1].

    Row i of the output layer's Keras kernel `(units, 784)` is what hidden unit i adds to the
    output image: its "feature". Each is scaled on its own, `(w - min w) / (max w - min w)`
    (a constant one becomes 0.5 grey), as `viz.filters` does for conv filters.

    Args:
      weights: `(units, 784)`, e.g. `decoder.get_layer("output").kernel` of shape (1000, 784).
      count: features to keep, at most `units`.

    Returns:
      float64 `(count, 28, 28)` in [0, 1].
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(f"weights must be (units, 784); got shape {weights.shape}")
    if not 1 <= count <= len(weights):
        raise ValueError(f"count must be in [1, {len(weights)}]; got {count}")
    features = as_square_images(weights[:count], "weights")  # (count, 28, 28)
    low = features.min(axis=(1, 2), keepdims=True)
    span = features.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (features - low) / np.where(span > 0, span, 1.0), 0.5)


def tile_images(images: np.ndarray, columns: int, border: int = 1) -> np.ndarray:
    """`(n, h, w)` -> one `(rows * (h + border) + border, columns * (w + border) + border)`.

    Image j goes to row `j // columns`, column `j % columns`, its top-left pixel at
    `(border + row * (h + border), border + column * (w + border))`; borders and empty cells
    are 1.0 (white).
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or columns < 1 or border < 0:
        raise ValueError(f"need (n, h, w) images, columns >= 1, border >= 0; got {images.shape}")
    count, height, width = images.shape
    rows = math.ceil(count / columns)
    tiled = np.ones((rows * (height + border) + border, columns * (width + border) + border))
    for index, image in enumerate(images):
        top = border + (index // columns) * (height + border)
        left = border + (index % columns) * (width + border)
        tiled[top : top + height, left : left + width] = image
    return tiled


def decoder_features_figure(
    weights_by_title: Mapping[str, np.ndarray],
    count: int = 64,
    columns: int = 8,
    title: str = "Decoder features: the first output-layer weight vectors, each normalised",
) -> Figure:
    """Side-by-side grids of `decoder_feature_images`, e.g. dense vs sparse autoencoder.

    Panel p (`figure.axes[p]`) shows `tile_images(decoder_feature_images(w_p, count), columns)`.

    Args:
      weights_by_title: `{panel title: (units, 784)}`, e.g. `{"dense": ..., "sparse": ...}`.
      count: features per panel.
      columns: features per grid row.
      title: the figure title.
    """
    if not weights_by_title:
        raise ValueError("weights_by_title is empty")
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(4.6 * len(weights_by_title), 4.6 * rows / columns + 0.9))
    axes = figure.subplots(1, len(weights_by_title), squeeze=False)[0]
    for axis, (name, weights) in zip(axes, weights_by_title.items(), strict=True):
        tiled = tile_images(decoder_feature_images(weights, count), columns)
        axis.imshow(tiled, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        axis.set_axis_off()
        axis.set_title(f"{name} ({count} of {len(weights)} units)", fontsize=10)
    figure.suptitle(title, fontsize=11)
    return figure


def plot_decoder_features(
    weights_by_title: Mapping[str, np.ndarray],
    output: str | os.PathLike,
    count: int = 64,
    columns: int = 8,
) -> Path:
    """Writes `decoder_features_figure(weights_by_title, count, columns)`; returns the path."""
    return save_figure(decoder_features_figure(weights_by_title, count, columns), output)

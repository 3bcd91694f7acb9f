"""Low-dimensional codes: PCA demos (Figs. 6.2, 6.3), code scatters (Fig. 6.11), Fig. 6.8.

Book: chapter 6, "Principal Component Analysis" (seed lines 2521-2542: PCA keeps the axis of
largest variance, Fig. 6.2; on two concentric circles no linear direction helps, polar
coordinates do, Fig. 6.3) and "Implementing an Autoencoder in TensorFlow" (lines 2769-2771,
Fig. 6.8: a "1" against the mean image of each class, labelled with its mean L2 distance;
lines 2832-2887, Fig. 6.11: the 2-D test codes of PCA (left) and the autoencoder (right),
drawn by the book's `scatter` with its colour/marker table); spec ch06-07 §2.1.1, §2.1.3,
checklist items 1, 5 and 8.

Each `*_figure` function returns a `matplotlib.figure.Figure` (inspectable in tests); each
`plot_*` function writes it as one PNG and returns the path.
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from fdl_tf2.models import pca
from fdl_tf2.viz.figure import save_figure

DIGIT_STYLES = (
    ("#27ae60", "o"),
    ("#2980b9", "o"),
    ("#8e44ad", "o"),
    ("#f39c12", "o"),
    ("#c0392b", "o"),
    ("#27ae60", "x"),
    ("#2980b9", "x"),
    ("#8e44ad", "x"),
    ("#c0392b", "x"),
    ("#f39c12", "x"),
)
"""The book's `scatter` table (line 2833): `(colour, marker)` of digits 0-9."""

MARKER_SIZE = 7
"""The book's `plt.scatter(..., 7, ...)`: marker area in points²."""

CIRCLE_COLOURS = ("#2980b9", "#c0392b")
"""Fig. 6.3: outer circle (label 0) blue, inner circle (label 1) red."""


def scatter_codes(axes: Axes, codes: np.ndarray, labels: np.ndarray) -> list[PathCollection]:
    """The book's `scatter(codes, labels)`: one series per digit, then a legend.

    Digit j is drawn at `codes[labels == j]` with colour and marker `DIGIT_STYLES[j]`, size
    `MARKER_SIZE` and label `str(j)`, in the order 0-9 (a digit without codes gets an empty
    series, so the legend always lists ten entries).

    Args:
      axes: the matplotlib axes to draw on.
      codes: `(n, 2)`, e.g. the 2-D PCA or autoencoder codes of the 10,000 test images.
      labels: `(n,)` digits 0-9.

    Returns:
      The ten `PathCollection`s, digit 0 first.
    """
    codes, labels = np.asarray(codes), np.asarray(labels)
    if codes.ndim != 2 or codes.shape[1] != 2 or labels.shape != codes.shape[:1]:
        raise ValueError(f"codes must be (n, 2) and labels (n,); got {codes.shape}, {labels.shape}")
    series = []
    for digit, (colour, marker) in enumerate(DIGIT_STYLES):
        chosen = labels == digit
        series.append(
            axes.scatter(
                codes[chosen, 0],
                codes[chosen, 1],
                MARKER_SIZE,
                label=str(digit),
                color=colour,
                marker=marker,
            )
        )
    axes.legend(loc="best", fontsize=8, markerscale=2.0)
    return series


def codes_figure(
    codes_by_title: Mapping[str, np.ndarray],
    labels: np.ndarray,
    title: str = "Fig. 6.11: 2-D codes of the MNIST test images",
) -> Figure:
    """Fig. 6.11: one `scatter_codes` panel per entry, left to right (PCA first in the book)."""
    if not codes_by_title:
        raise ValueError("codes_by_title is empty")
    figure = Figure(figsize=(6.2 * len(codes_by_title), 6.0))
    axes = figure.subplots(1, len(codes_by_title), squeeze=False)[0]
    for axis, (name, codes) in zip(axes, codes_by_title.items(), strict=True):
        scatter_codes(axis, codes, labels)
        axis.set(title=f"{name} ({len(codes):,} codes)", xlabel="code 1", ylabel="code 2")
    figure.suptitle(title)
    return figure


def plot_codes(
    codes_by_title: Mapping[str, np.ndarray],
    labels: np.ndarray,
    output: str | os.PathLike,
    title: str = "Fig. 6.11: 2-D codes of the MNIST test images",
) -> Path:
    """Writes `codes_figure(codes_by_title, labels, title)`; returns the path."""
    return save_figure(codes_figure(codes_by_title, labels, title), output)


def plot_pca_vs_autoencoder_codes(
    pca_codes: np.ndarray,
    autoencoder_codes: np.ndarray,
    labels: np.ndarray,
    output: str | os.PathLike,
) -> Path:
    """Fig. 6.11: PCA codes (left) and autoencoder codes (right), both `(n, 2)`, same labels."""
    panels = {"PCA": pca_codes, "autoencoder": autoencoder_codes}
    return plot_codes(panels, labels, output)


def gaussian_pca_figure(points: np.ndarray) -> Figure:
    """Fig. 6.2: a 2-D cloud with its principal axes, and the 1-D codes PCA keeps (d=2, m=1).

    Left: the points, their mean, each principal axis drawn as an arrow of two standard
    deviations, and the projections of the points on the first axis (`inverse_transform` of
    the 1-D codes). Right: the histogram of the kept codes `T = (X - mean) w_1`.

    Args:
      points: `(n, 2)`, e.g. `pca.gaussian_cloud()`.
    """
    points = np.asarray(points, dtype=np.float64)
    full = pca.PCA(2, solver="svd").fit(points)
    line = pca.PCA(1, solver="svd").fit(points)
    codes = line.transform(points)  # (n, 1)
    projections = line.inverse_transform(codes)  # (n, 2), on the first axis.
    figure = Figure(figsize=(12, 5.2))
    data_axis, code_axis = figure.subplots(1, 2, gridspec_kw=dict(width_ratios=(1.25, 1)))
    data_axis.scatter(points[:, 0], points[:, 1], s=10, color="#2980b9", alpha=0.5, label="x")
    data_axis.scatter(
        projections[:, 0], projections[:, 1], s=6, color="#c0392b", label="projection on axis 1"
    )
    for point, projection in zip(points[::10], projections[::10], strict=True):
        data_axis.plot(*np.stack([point, projection]).T, color="0.6", lw=0.6, zorder=0)
    for index, (component, variance, ratio) in enumerate(
        zip(full.components, full.explained_variance, full.explained_variance_ratio, strict=True)
    ):
        tip = full.mean + 2.0 * np.sqrt(variance) * component
        data_axis.annotate(
            "",
            xy=tip,
            xytext=full.mean,
            arrowprops=dict(arrowstyle="->", color="k", lw=2),
        )
        data_axis.text(
            *tip,
            f"  axis {index + 1}: {ratio:.0%} of the variance",
            fontsize=9,
            bbox=dict(facecolor="white", alpha=0.8, edgecolor="none"),
        )
    data_axis.set(title="Data and principal axes (2 std. dev.)", xlabel="x_1", ylabel="x_2")
    data_axis.set_aspect("equal", adjustable="datalim")
    data_axis.legend(loc="lower right", fontsize=8)
    code_axis.hist(codes[:, 0], bins=30, color="#c0392b", alpha=0.8)
    code_axis.set(
        title="The kept dimension: 1-D codes T = (X - mean) w_1",
        xlabel="code on axis 1",
        ylabel="points",
    )
    figure.suptitle("Fig. 6.2: PCA keeps the direction of largest variance (d = 2, m = 1)")
    return figure


def plot_gaussian_pca(points: np.ndarray, output: str | os.PathLike) -> Path:
    """Writes `gaussian_pca_figure(points)` (Fig. 6.2); returns the path."""
    return save_figure(gaussian_pca_figure(points), output)


def circles_figure(points: np.ndarray, labels: np.ndarray) -> Figure:
    """Fig. 6.3: concentric circles; their 1-D PCA codes overlap, polar coordinates separate.

    Panels: the points (outer circle blue, inner red, `CIRCLE_COLOURS`); the histograms of the
    1-D PCA codes per circle; `pca.to_polar(points)` with the radius on the horizontal axis
    and the angle on the vertical one (the book's layout).

    Args:
      points: `(n, 2)`, e.g. from `pca.concentric_circles()`.
      labels: `(n,)`: 0 for the outer circle, 1 for the inner one.
    """
    points, labels = np.asarray(points, dtype=np.float64), np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or labels.shape != points.shape[:1]:
        raise ValueError(f"points must be (n, 2), labels (n,); got {points.shape}, {labels.shape}")
    line = pca.PCA(1, solver="svd").fit(points)
    codes = line.transform(points)[:, 0]  # (n,)
    polar = pca.to_polar(points)  # (n, 2): radius, angle.
    names = ("outer circle", "inner circle")
    figure = Figure(figsize=(15, 4.8))
    data_axis, code_axis, polar_axis = figure.subplots(1, 3)
    bins = np.linspace(codes.min(), codes.max(), 31)
    for label, (colour, name) in enumerate(zip(CIRCLE_COLOURS, names, strict=True)):
        chosen = labels == label
        data_axis.scatter(*points[chosen].T, s=8, color=colour, label=name)
        code_axis.hist(codes[chosen], bins=bins, color=colour, alpha=0.55, label=name)
        polar_axis.scatter(*polar[chosen].T, s=8, color=colour, label=name)
    data_axis.set(title="Two concentric circles", xlabel="x", ylabel="y")
    data_axis.set_aspect("equal", adjustable="datalim")
    ratio = line.explained_variance_ratio[0]
    code_axis.set(
        title=f"PCA, 1-D codes: the classes overlap\n(axis 1 keeps {ratio:.0%} of the variance)",
        xlabel="code on axis 1",
        ylabel="points",
    )
    polar_axis.set(
        title="Polar coordinates separate them",
        xlabel="radius (distance from the centre)",
        ylabel="angle from the x axis (radians)",
    )
    data_axis.legend(loc="upper right", fontsize=8)
    code_axis.legend(loc="upper right", fontsize=8)
    polar_axis.legend(loc="center", fontsize=8)  # In the gap between the two radii.
    figure.suptitle("Fig. 6.3: a non-linear structure that PCA cannot keep")
    return figure


def plot_circles(points: np.ndarray, labels: np.ndarray, output: str | os.PathLike) -> Path:
    """Writes `circles_figure(points, labels)` (Fig. 6.3); returns the path."""
    return save_figure(circles_figure(points, labels), output)


def class_distances_figure(
    image: np.ndarray,
    class_means: np.ndarray,
    distances: np.ndarray,
    image_label: str = "X",
    class_names: Sequence[str] | None = None,
) -> Figure:
    """Fig. 6.8: image X, then each class's mean image with X's mean L2 distance under it.

    Args:
      image: `(784,)` or `(28, 28)` in [0, 1].
      class_means: `(num_classes, 784)` or `(num_classes, 28, 28)`, from
        `pca.class_mean_images`.
      distances: `(num_classes,)`, from `pca.mean_class_distances`.
      image_label: what X is, for its title (e.g. "a 1 (train #3)").
      class_names: the column titles; the class indices by default.
    """
    class_means, distances = np.asarray(class_means), np.asarray(distances)
    count = len(class_means)
    if distances.shape != (count,):
        raise ValueError(f"{count} class means but distances of shape {distances.shape}")
    side = int(round(np.sqrt(np.asarray(image).size)))
    class_names = [str(index) for index in range(count)] if class_names is None else class_names
    figure = Figure(figsize=(1.3 * (count + 1.5), 2.3))
    grid = figure.add_gridspec(1, count + 2, width_ratios=(1, 0.4, *([1] * count)))
    axes = [figure.add_subplot(grid[0])] + [figure.add_subplot(grid[i + 2]) for i in range(count)]
    axes[0].imshow(np.reshape(image, (side, side)), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"X = {image_label}", fontsize=9)
    for axis, mean_image, distance, name in zip(
        axes[1:], class_means, distances, class_names, strict=True
    ):
        axis.imshow(np.reshape(mean_image, (side, side)), cmap="gray", vmin=0, vmax=1)
        axis.set_title(f"class {name}", fontsize=9)
        axis.set_xlabel(f"{distance:.2f}", fontsize=10)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("Fig. 6.8: mean L2 distance from X to the examples of each class", fontsize=11)
    return figure


def plot_class_distances(
    image: np.ndarray,
    class_means: np.ndarray,
    distances: np.ndarray,
    output: str | os.PathLike,
    image_label: str = "X",
) -> Path:
    """Writes `class_distances_figure(...)` (Fig. 6.8); returns the path."""
    return save_figure(class_distances_figure(image, class_means, distances, image_label), output)

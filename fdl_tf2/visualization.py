"""Chapter-5 visualisations: BN training curves, first-layer filters, t-SNE scatter and mosaic.

Book: chapter 5, "Convolutional Neural Networks", section "Visualizing Learning in
Convolutional Networks" (seed lines 2424-2457): training progress without and with batch
normalization (Fig. 5.17, lines 2427-2433), the learned 5x5x3 filters of the first conv layer
(Fig. 5.18, lines 2435-2443) and a t-SNE embedding of penultimate-layer features (Fig. 5.19,
lines 2445-2457; van der Maaten & Hinton 2008, the book's ref. 61). Spec ch04-05 §2.8, §3 and
checklist items C5-7 (curves), C5-8 and C5-9.

The book's Fig. 5.19 is Karpathy's embedding of ImageNet fc7 features (ref. 62), not produced
by book code; here the same two views (a class-coloured scatter and a thumbnail mosaic snapped
to a grid) are drawn for the port's own CIFAR-10 features.

Everything takes and returns NumPy arrays; the `plot_*` functions write one PNG each (matplotlib
Agg, no window) and return its path.
"""

import heapq
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Files only; never a window.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402  (a scikit-learn dependency)
from matplotlib import ticker  # noqa: E402

from fdl_tf2.training import figures  # noqa: E402

_MAX_NEIGHBOURS_PER_POINT = 64  # Candidate cells a point keeps before recomputing (snap_to_grid).


def _save(figure: plt.Figure, output: str | os.PathLike, dpi: int = 100) -> Path:
    return figures.save_figure(figure, output, dpi=dpi, tight_layout=False)


# --- Fig. 5.17: training curves without / with batch normalization ----------------------------


def read_metric_curve(
    metrics_file: str | os.PathLike, split: str, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """One scalar of one split from a run's `metrics.jsonl`, against the training step.

    `RunLog.scalars(step, split, **values)` writes lines such as
    `{"step": 390, "split": "validation", "wall_time": 12.3, "epoch": 1, "cost": 1.2,
    "accuracy": 0.55, "error": 0.45}`; the training loop logs the training loss as "cost".
    The file is append-only, so a resumed run may log a step twice: the last line wins.
    Non-finite values, which `RunLog` stores as strings ("nan", "inf"), become floats.

    Args:
      metrics_file: the run's `metrics.jsonl`.
      split: "train", "validation" or "test".
      name: the scalar, e.g. "accuracy" or "cost".

    Returns:
      `(steps, values)`: int64 `(n,)` sorted increasing and float64 `(n,)`.

    Raises:
      ValueError: no line of `split` carries `name` (the message lists the names it has).
    """
    records = [r for r in figures.read_metrics(metrics_file) if r.get("split") == split]
    by_step = {int(r["step"]): float(r[name]) for r in records if name in r}
    if not by_step:
        available = sorted({key for r in records for key in r} - {"step", "split", "wall_time"})
        raise ValueError(
            f"{metrics_file} has no {name!r} for split {split!r}; that split logs {available}"
        )
    steps = np.array(sorted(by_step), dtype=np.int64)
    return steps, np.array([by_step[step] for step in steps], dtype=np.float64)


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
    axis: plt.Axes,
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
        `read_metric_curve` returns.
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
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = {label: palette[index % len(palette)] for index, label in enumerate(labels)}

    panels = 2 if loss_curves else 1
    figure, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 5.2), squeeze=False)
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
    return _save(figure, output)


# --- Fig. 5.18: first-layer filters -------------------------------------------------------------


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
    figure, axis = plt.subplots(figsize=(width / 80 + 0.4, height / 80 + 0.9))
    axis.imshow(grid, interpolation="nearest")
    axis.set_axis_off()
    size = kernel.shape[0], kernel.shape[1], kernel.shape[2]
    axis.set_title(
        f"{title}\n{kernel.shape[3]} filters of {size[0]}x{size[1]}x{size[2]}, "
        "each min-max normalised",
        fontsize=10,
    )
    figure.tight_layout(pad=0.4)
    return _save(figure, output)


# --- Fig. 5.19: t-SNE of penultimate-layer features ---------------------------------------------


def tsne_embedding(
    features: np.ndarray,
    *,
    seed: int,
    perplexity: float = 30.0,
    max_iter: int = 1000,
    num_threads: int | None = None,
) -> np.ndarray:
    """Embeds features in 2-D with `sklearn.manifold.TSNE` (PCA init, automatic learning rate).

    t-SNE needs perplexity < N; it is clamped to `max(1, (N - 1) / 3)` with a warning when
    larger, so that about `3 * perplexity` neighbours exist (the usual rule, which
    Barnes-Hut t-SNE uses to pick its neighbour count).

    Args:
      features: `(N, d)`, e.g. the fc_2 activations `(N, 192)` of the CIFAR-10 net; N >= 2.
      seed: the random state (t-SNE is stochastic).
      perplexity: the effective number of neighbours (van der Maaten suggests 5-50).
      max_iter: optimisation iterations (sklearn's default 1000).
      num_threads: OpenMP/BLAS threads while it runs; None keeps sklearn's default (every core).
        On a machine shared with other jobs, 1 is often faster: spinning OpenMP threads that
        wait for busy cores can slow t-SNE down tenfold.

    Returns:
      float32 `(N, 2)`.
    """
    from sklearn.manifold import TSNE  # Imported here: it costs a second on first use.

    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must be (N, d) with N >= 2; got shape {features.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError("features hold NaN or infinite values")
    if perplexity <= 0:
        raise ValueError(f"perplexity must be positive; got {perplexity}")
    count = features.shape[0]
    largest = max(1.0, (count - 1) / 3)
    if perplexity > largest:
        warnings.warn(
            f"perplexity {perplexity} is too large for {count} points; using {largest:.3g}",
            stacklevel=2,
        )
        perplexity = largest
    if num_threads is not None and num_threads < 1:
        raise ValueError(f"num_threads must be None or >= 1; got {num_threads}")
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        max_iter=max_iter,
        random_state=seed,
    )
    with threadpoolctl.threadpool_limits(limits=num_threads):
        embedding = tsne.fit_transform(features)
    return np.asarray(embedding, dtype=np.float32)


def knn_class_agreement(points: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Mean fraction of each point's k nearest neighbours (itself excluded) sharing its label.

    `agreement = mean_i |{j in kNN(i) : label_j = label_i}| / k`, with exact Euclidean
    neighbours (sklearn `NearestNeighbors`). Random labels over C balanced classes give about
    1/C; separated classes give 1.

    Args:
      points: `(N, d)`, e.g. a t-SNE embedding `(N, 2)`.
      labels: `(N,)` class ids.
      k: neighbours per point, 1 <= k < N.

    Returns:
      The agreement in [0, 1].
    """
    from sklearn.neighbors import NearestNeighbors

    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    if points.ndim != 2 or labels.shape != points.shape[:1]:
        raise ValueError(
            f"points must be (N, d) and labels (N,); got {points.shape} and {labels.shape}"
        )
    if not 1 <= k < len(points):
        raise ValueError(f"k must be in [1, N) with N = {len(points)}; got {k}")
    # With no query points, kneighbors leaves each point out of its own neighbour list.
    _, neighbours = NearestNeighbors(n_neighbors=k).fit(points).kneighbors()  # (N, k)
    return float(np.mean(labels[neighbours] == labels[:, None]))


def plot_tsne_scatter(
    points: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    output: str | os.PathLike,
    title: str = "Fig. 5.19: t-SNE of penultimate-layer features",
) -> Path:
    """Fig. 5.19 (left): the embedding as a scatter, one colour per class, legend outside.

    Args:
      points: `(N, 2)`.
      labels: `(N,)` ints in `[0, len(class_names))`.
      class_names: e.g. the ten CIFAR-10 names.
      output: the PNG to write.
      title: the figure title.

    Returns:
      The path written.
    """
    points = np.asarray(points)
    labels = np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or labels.shape != points.shape[:1]:
        raise ValueError(
            f"points must be (N, 2) and labels (N,); got {points.shape}, {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"labels must lie in [0, {len(class_names)}); got {labels.min()}..")
    colormap = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    figure, axis = plt.subplots(figsize=(8.6, 6.6))
    marker_size = float(np.clip(3000 / max(len(points), 1), 3, 30))
    for index, name in enumerate(class_names):
        chosen = labels == index
        axis.scatter(
            points[chosen, 0],
            points[chosen, 1],
            s=marker_size,
            color=colormap(index % colormap.N),
            label=f"{name} ({int(chosen.sum())})",
            alpha=0.8,
            linewidths=0,
        )
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_aspect("equal", adjustable="datalim")
    axis.set_title(f"{title}\n{len(points)} points", fontsize=11)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), markerscale=2.5, fontsize=9)
    figure.tight_layout()
    return _save(figure, output)


def _grid_coordinates(points: np.ndarray, grid: int) -> np.ndarray:
    """`(N, 2)` points -> `(N, 2)` (row, column) coordinates in `[0, grid - 1]`.

    Each axis is min-max scaled on its own; the largest y goes to row 0 (the top), so the
    mosaic shows the scatter plot the right way up.
    """
    low = points.min(axis=0)
    span = points.max(axis=0) - low
    unit = np.where(span > 0, (points - low) / np.where(span > 0, span, 1.0), 0.5)  # (N, 2)
    return np.stack([(1.0 - unit[:, 1]) * (grid - 1), unit[:, 0] * (grid - 1)], axis=1)


def _nearest_cells(coordinate: np.ndarray, free_cells: np.ndarray, centres: np.ndarray):
    """The free cells nearest one point, in order of (distance, cell index), ties included."""
    distances = np.sum((centres[free_cells] - coordinate) ** 2, axis=1)
    if len(free_cells) > _MAX_NEIGHBOURS_PER_POINT:
        kth = np.partition(distances, _MAX_NEIGHBOURS_PER_POINT - 1)[_MAX_NEIGHBOURS_PER_POINT - 1]
        keep = distances <= kth  # Every cell tied with the last one kept, so none is skipped.
        free_cells, distances = free_cells[keep], distances[keep]
    order = np.lexsort((free_cells, distances))
    return free_cells[order], distances[order]


def snap_to_grid(points: np.ndarray, grid: int) -> np.ndarray:
    """Assigns each 2-D point to at most one cell of a `grid x grid` layout, one point per cell.

    The points are scaled to the grid (`_grid_coordinates`: x to columns, y to rows with the
    largest y at the top). Then, greedily in order of squared distance between a point and a
    cell centre (ties broken by point index, then cell index), the closest still-free point
    and still-free cell are paired until points or cells run out. With N < grid^2 the layout
    keeps gaps where the embedding is empty; with N > grid^2 every cell is filled by a nearby
    point and the rest are left out.

    Args:
      points: `(N, 2)`, e.g. a t-SNE embedding.
      grid: cells per side.

    Returns:
      int64 `(N,)`: the cell `row * grid + column` of each point, or -1 if it was left out.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(f"points must be (N, 2) with N >= 1; got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError("points hold NaN or infinite values")
    if int(grid) != grid or grid < 1:
        raise ValueError(f"grid must be a positive integer; got {grid}")
    coordinates = _grid_coordinates(points, grid)  # (N, 2) (row, column)
    rows, columns = np.divmod(np.arange(grid * grid), grid)
    centres = np.stack([rows, columns], axis=1).astype(np.float64)  # (grid^2, 2)
    free = np.ones(grid * grid, dtype=bool)
    assignment = np.full(len(points), -1, dtype=np.int64)

    # Lazy global greedy: a heap of each unplaced point's best candidate. A popped candidate
    # whose cell was taken meanwhile is replaced by the point's next free candidate; keys only
    # grow, so the pairs come out in global (distance, point, cell) order.
    candidates, positions, heap = [], np.zeros(len(points), dtype=np.int64), []
    all_cells = np.arange(grid * grid)
    for index, coordinate in enumerate(coordinates):
        cells, distances = _nearest_cells(coordinate, all_cells, centres)
        candidates.append((cells, distances))
        heap.append((distances[0], index, int(cells[0])))
    heapq.heapify(heap)
    placed, capacity = 0, grid * grid
    while heap and placed < capacity:
        _, index, cell = heapq.heappop(heap)
        if free[cell]:
            free[cell] = False
            assignment[index] = cell
            placed += 1
            continue
        cells, distances = candidates[index]
        position = positions[index] + 1
        while position < len(cells) and not free[cells[position]]:
            position += 1
        if position == len(cells):  # Every kept candidate is taken: look again, at free cells.
            cells, distances = _nearest_cells(coordinates[index], np.flatnonzero(free), centres)
            candidates[index], position = (cells, distances), 0
        positions[index] = position
        heapq.heappush(heap, (distances[position], index, int(cells[position])))
    return assignment


def _as_rgb_uint8(thumbnails: np.ndarray) -> np.ndarray:
    """`(N, h, w)`, `(N, h, w, 1)` or `(N, h, w, 3)`, uint8 or float in [0, 1] -> uint8 RGB."""
    thumbnails = np.asarray(thumbnails)
    if thumbnails.ndim == 3:
        thumbnails = thumbnails[..., None]
    if thumbnails.ndim != 4 or thumbnails.shape[-1] not in (1, 3):
        raise ValueError(f"thumbnails must be (N, h, w, 3) images; got shape {thumbnails.shape}")
    if thumbnails.dtype != np.uint8:
        if not np.issubdtype(thumbnails.dtype, np.floating):
            raise ValueError(f"thumbnails must be uint8 or float in [0, 1]; got {thumbnails.dtype}")
        thumbnails = np.round(np.clip(thumbnails, 0.0, 1.0) * 255.0).astype(np.uint8)
    if thumbnails.shape[-1] == 1:
        thumbnails = np.repeat(thumbnails, 3, axis=-1)
    return thumbnails


def tsne_mosaic(
    points: np.ndarray,
    thumbnails: np.ndarray,
    grid: int = 40,
    cell: int | None = None,
    background: int = 255,
) -> np.ndarray:
    """Karpathy-style mosaic (Fig. 5.19): each image pasted at its point's grid cell.

    Points are assigned to cells by `snap_to_grid` (at most one image per cell, each image at
    most once). A cell `(row, column)` covers pixels `[row * cell_h, (row + 1) * cell_h)` x
    `[column * cell_w, (column + 1) * cell_w)`; empty cells stay `background`.

    Args:
      points: `(N, 2)` t-SNE embedding.
      thumbnails: `(N, h, w, 3)` uint8 (or float in [0, 1]; grey `(N, h, w)` is allowed), e.g.
        the CIFAR-10 test images `(N, 32, 32, 3)`.
      grid: cells per side.
      cell: the side of a cell in pixels; thumbnails are resized to it by nearest neighbour.
        None keeps their own size `(h, w)`.
      background: the grey level of empty cells, 0-255.

    Returns:
      uint8 `(grid * cell_h, grid * cell_w, 3)`, e.g. `(1280, 1280, 3)` for 40 cells of 32 px.
    """
    return _paste(snap_to_grid(points, grid), thumbnails, grid, cell, background)


def _paste(
    assignment: np.ndarray, thumbnails: np.ndarray, grid: int, cell: int | None, background: int
) -> np.ndarray:
    """The mosaic of `tsne_mosaic` from a `snap_to_grid` assignment `(N,)`."""
    thumbnails = _as_rgb_uint8(thumbnails)
    if len(thumbnails) != len(assignment):
        raise ValueError(f"{len(assignment)} points but {len(thumbnails)} thumbnails")
    if not 0 <= background <= 255:
        raise ValueError(f"background must be in [0, 255]; got {background}")
    if cell is not None:
        if int(cell) != cell or cell < 1:
            raise ValueError(f"cell must be a positive integer; got {cell}")
        height, width = thumbnails.shape[1:3]
        # Nearest-neighbour resize: output pixel i samples input pixel floor(i * size / cell).
        row_index = np.arange(cell) * height // cell
        column_index = np.arange(cell) * width // cell
        thumbnails = thumbnails[:, row_index][:, :, column_index]
    cell_height, cell_width = thumbnails.shape[1:3]
    mosaic = np.full((grid * cell_height, grid * cell_width, 3), background, dtype=np.uint8)
    for index, position in enumerate(assignment):
        if position < 0:
            continue
        row, column = divmod(int(position), grid)
        mosaic[
            row * cell_height : (row + 1) * cell_height,
            column * cell_width : (column + 1) * cell_width,
        ] = thumbnails[index]
    return mosaic


def plot_tsne_mosaic(
    points: np.ndarray,
    thumbnails: np.ndarray,
    output: str | os.PathLike,
    title: str = "Fig. 5.19: t-SNE of penultimate-layer features, images snapped to a grid",
    grid: int = 40,
    cell: int | None = None,
) -> Path:
    """Fig. 5.19 (right): writes `tsne_mosaic(points, thumbnails, grid, cell)` as a PNG.

    Args:
      points: `(N, 2)` t-SNE embedding.
      thumbnails: `(N, h, w, 3)` uint8 images.
      output: the PNG to write.
      title: the figure title.
      grid: cells per side.
      cell: the side of a cell in pixels (None: the thumbnails' own size).

    Returns:
      The path written.
    """
    if len(thumbnails) != len(points):
        raise ValueError(f"{len(points)} points but {len(thumbnails)} thumbnails")
    assignment = snap_to_grid(points, grid)
    mosaic = _paste(assignment, thumbnails, grid, cell, background=255)
    height, width = mosaic.shape[:2]
    # About one figure pixel per mosaic pixel (up to 1,600), so thumbnails stay sharp.
    dpi = 100
    side = min(max(height, width), 1600) / dpi
    figure, axis = plt.subplots(
        figsize=(side * width / max(height, width), side * height / max(height, width) + 0.5)
    )
    axis.imshow(mosaic)
    axis.set_axis_off()
    placed = int(np.sum(assignment >= 0))
    axis.set_title(
        f"{title}\n{placed} of {len(points)} images on a {grid}x{grid} grid", fontsize=11
    )
    figure.tight_layout(pad=0.3)
    return _save(figure, output, dpi=dpi)

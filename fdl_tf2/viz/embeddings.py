"""t-SNE embeddings of learned features (Fig. 5.19): the map, its quality, scatter and mosaic.

Book: chapter 5, "Visualizing Learning in Convolutional Networks" (seed lines 2445-2457): a
t-SNE embedding of penultimate-layer features (van der Maaten & Hinton 2008, the book's ref.
61); spec ch04-05 §2.8, checklist C5-9. The book's Fig. 5.19 is Karpathy's embedding of
ImageNet fc7 features (ref. 62), not produced by book code; here the same two views (a
class-coloured scatter and a thumbnail mosaic snapped to a grid) are drawn for the port's own
CIFAR-10 features, and the k-NN class agreement measures how well the map separates classes.

Everything takes and returns NumPy arrays; the `plot_*` functions write one PNG each and return
its path. Chapter 6 (autoencoder codes, word2vec) can add its embedding views here.
"""

import heapq
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import threadpoolctl  # A scikit-learn dependency.
from matplotlib.figure import Figure

from fdl_tf2.viz.figure import save_figure

_MAX_NEIGHBOURS_PER_POINT = 64  # Candidate cells a point keeps before recomputing (snap_to_grid).


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
    colormap = matplotlib.colormaps["tab10" if len(class_names) <= 10 else "tab20"]
    figure = Figure(figsize=(8.6, 6.6))
    axis = figure.subplots()
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
    return save_figure(figure, output, tight_layout=False)


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
    figure = Figure(
        figsize=(side * width / max(height, width), side * height / max(height, width) + 0.5)
    )
    axis = figure.subplots()
    axis.imshow(mosaic)
    axis.set_axis_off()
    placed = int(np.sum(assignment >= 0))
    axis.set_title(
        f"{title}\n{placed} of {len(points)} images on a {grid}x{grid} grid", fontsize=11
    )
    figure.tight_layout(pad=0.3)
    return save_figure(figure, output, dpi=dpi, tight_layout=False)


# --- Word embeddings (chapter 6, Fig. 6.21) -------------------------------------------------------


def plot_with_labels(
    points: np.ndarray,
    labels: Sequence[str],
    output: str | os.PathLike,
    title: str = "Fig. 6.21: t-SNE of the skip-gram embeddings",
) -> Path:
    """Fig. 6.21: the repository's `plot_with_labels`, a labelled 2-D scatter on 18 x 18 in.

    Args:
      points: `(N, 2)` t-SNE coordinates.
      labels: N words, annotated beside their points (offset (5, 2) points, as the repo).
      output: the PNG to write (the repository's `tsne.png`).
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 2 or len(labels) != len(points):
        raise ValueError(f"points must be (N, 2) with N labels; got {points.shape}, {len(labels)}")
    figure = Figure(figsize=(18, 18))
    axis = figure.subplots()
    axis.scatter(points[:, 0], points[:, 1], s=12)
    for (x, y), label in zip(points, labels, strict=True):
        axis.annotate(
            label, xy=(x, y), xytext=(5, 2), textcoords="offset points", ha="right", va="bottom"
        )
    axis.set_title(f"{title} ({len(points)} most frequent words)", fontsize=16)
    return save_figure(figure, output)


def write_projector(
    log_dir: str | os.PathLike, embeddings: np.ndarray, words: Sequence[str], name: str
) -> Path:
    """TensorBoard's embedding projector: `embeddings (V, d)` with one word per row.

    Writes `<log_dir>/metadata.tsv`, a checkpoint holding the matrix and
    `projector_config.pbtxt`; `tensorboard --logdir <log_dir>` then shows it in the Projector
    tab. Returns `log_dir`.
    """
    import tensorflow as tf
    from tensorboard.plugins import projector

    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    if len(words) != len(embeddings):
        raise ValueError(f"{len(embeddings)} embeddings but {len(words)} words")
    (log_dir / "metadata.tsv").write_text("".join(f"{word}\n" for word in words))
    variable = tf.Variable(np.asarray(embeddings, np.float32), name=name)
    tf.train.Checkpoint(embedding=variable).save(str(log_dir / "embedding.ckpt"))
    config = projector.ProjectorConfig()
    entry = config.embeddings.add()
    entry.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    entry.metadata_path = "metadata.tsv"
    projector.visualize_embeddings(str(log_dir), config)
    return log_dir

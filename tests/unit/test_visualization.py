"""Chapter-5 visualisations (C5-7 curves, C5-8 filters, C5-9 t-SNE): exact values, invariants.

Sizes are tiny on purpose (at most a few hundred points, 10x10 grids) so that t-SNE and the
brute-force references run in well under a second each.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2 import visualization
from fdl_tf2.training.run_log import RunLog

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- Fig. 5.17: curves --------------------------------------------------------------------------


def test_steps_to_threshold_returns_the_first_step_at_or_above_the_threshold():
    steps = [0, 100, 200, 300, 400]
    values = [0.1, 0.69, 0.7, 0.65, 0.9]
    assert visualization.steps_to_threshold(steps, values, 0.7) == 200  # Equality counts.
    assert visualization.steps_to_threshold(steps, values, 0.8) == 400
    assert visualization.steps_to_threshold(steps, values, 0.05) == 0
    assert visualization.steps_to_threshold(steps, values, 0.95) is None
    assert isinstance(visualization.steps_to_threshold(np.array(steps), values, 0.7), int)


def test_steps_to_threshold_for_a_loss_looks_for_the_first_value_at_or_below():
    steps, losses = [10, 20, 30], [2.0, 0.5, 0.4]
    assert visualization.steps_to_threshold(steps, losses, 0.5, higher_is_better=False) == 20
    assert visualization.steps_to_threshold(steps, losses, 0.1, higher_is_better=False) is None


def test_steps_to_threshold_skips_nan_and_rejects_bad_input():
    assert visualization.steps_to_threshold([1, 2, 3], [math.nan, 0.2, 0.9], 0.5) == 3
    with pytest.raises(ValueError, match="non-decreasing"):
        visualization.steps_to_threshold([2, 1], [0.0, 1.0], 0.5)
    with pytest.raises(ValueError, match="one length"):
        visualization.steps_to_threshold([1, 2, 3], [0.0, 1.0], 0.5)


def test_read_metric_curve_reads_run_log_lines_and_keeps_the_last_line_of_a_step(tmp_path):
    log = RunLog(tmp_path, tensorboard=False, quiet=True)
    log.scalars(100, "train", epoch=1, cost=2.0, accuracy=0.3)
    log.scalars(100, "validation", epoch=1, cost=1.5, accuracy=0.5)
    log.scalars(200, "validation", epoch=2, cost=1.2, accuracy=0.7)
    log.close()
    # A resumed run appends to the same file and logs step 200 again.
    log = RunLog(tmp_path, tensorboard=False, quiet=True)
    log.scalars(300, "validation", epoch=3, cost=float("nan"), accuracy=0.8)
    log.scalars(200, "validation", epoch=2, cost=1.1, accuracy=0.72)
    log.close()
    metrics = tmp_path / "metrics.jsonl"

    steps, values = visualization.read_metric_curve(metrics, "validation", "accuracy")
    assert steps.dtype == np.int64
    np.testing.assert_array_equal(steps, [100, 200, 300])
    np.testing.assert_array_equal(values, [0.5, 0.72, 0.8])
    steps, costs = visualization.read_metric_curve(metrics, "validation", "cost")
    np.testing.assert_array_equal(costs[:2], [1.5, 1.1])
    assert math.isnan(costs[2])  # RunLog stores NaN as the string "nan".
    steps, costs = visualization.read_metric_curve(metrics, "train", "cost")
    np.testing.assert_array_equal(steps, [100])
    with pytest.raises(ValueError, match=r"no 'loss' for split 'train'.*'cost'"):
        visualization.read_metric_curve(metrics, "train", "loss")


def test_plot_bn_comparison_accepts_rows_and_step_value_pairs(tmp_path):
    steps = np.arange(0, 1001, 100)
    slow = np.linspace(0.1, 0.8, len(steps))
    fast = np.minimum(0.1 + steps / 300, 0.9)
    path = visualization.plot_bn_comparison(
        {"without BN": np.column_stack([steps, slow]), "with BN": (steps, fast)},
        tmp_path / "bn.png",
        threshold=0.7,
        losses={"without BN": (steps, 2.0 - slow), "with BN": [(0, 2.0), (1000, 0.3)]},
    )
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    path = visualization.plot_bn_comparison(
        {"only": (steps, slow)}, tmp_path / "one.png", threshold=0.95
    )
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="curve 'bad'"):
        visualization.plot_bn_comparison({"bad": np.zeros((3, 3))}, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="at least one"):
        visualization.plot_bn_comparison({}, tmp_path / "none.png")


# --- Fig. 5.18: filters ---------------------------------------------------------------------------


def _known_kernel(filters: int = 64, in_channels: int = 3) -> np.ndarray:
    """Filter j is ramp * (j + 1), ramp = 0, 1, ..., 74; filter 1 is -2 * ramp; 2 is constant."""
    ramp = np.arange(25 * in_channels, dtype=np.float64).reshape(5, 5, in_channels)
    kernel = ramp[..., None] * np.arange(1, filters + 1)  # (5, 5, in_channels, filters)
    kernel[..., 1] = -2.0 * ramp
    kernel[..., 2] = 3.0
    return kernel


def test_normalize_filters_scales_each_filter_to_unit_range_on_its_own():
    normalized = visualization.normalize_filters(_known_kernel())
    assert normalized.shape == (64, 5, 5, 3)
    ramp = np.arange(75.0).reshape(5, 5, 3) / 74.0
    np.testing.assert_allclose(normalized[0], ramp, rtol=0, atol=1e-15)
    np.testing.assert_allclose(normalized[63], ramp, rtol=0, atol=1e-15)  # Scale drops out.
    np.testing.assert_allclose(normalized[1], 1.0 - ramp, rtol=0, atol=1e-15)  # Sign flips.
    np.testing.assert_array_equal(normalized[2], 0.5)  # Constant: grey, not NaN.


def test_filter_grid_tiles_64_filters_8_by_8_with_borders():
    kernel = _known_kernel()
    grid = visualization.filter_grid(kernel, columns=8, scale=4, border=1)
    assert grid.shape == (8 * 20 + 9, 8 * 20 + 9, 3) == (169, 169, 3)
    assert grid.dtype == np.uint8
    expected = np.round(visualization.normalize_filters(kernel) * 255).astype(np.uint8)
    for index in (0, 1, 2, 9, 63):
        top = 1 + (index // 8) * 21
        left = 1 + (index % 8) * 21
        cell = grid[top : top + 20, left : left + 20]
        # Nearest-neighbour upscaling: every 4x4 block is one weight.
        np.testing.assert_array_equal(cell[::4, ::4], expected[index])
        np.testing.assert_array_equal(cell, expected[index].repeat(4, 0).repeat(4, 1))
    np.testing.assert_array_equal(grid[1:21, 43:63][0, 0], [128, 128, 128])  # Filter 2: grey.
    np.testing.assert_array_equal(grid[0], 255)  # The top border.
    np.testing.assert_array_equal(grid[:, 21], 255)  # The line between columns 0 and 1.


def test_filter_grid_leaves_missing_cells_blank_and_repeats_grey_filters():
    kernel = _known_kernel(filters=10, in_channels=1)
    grid = visualization.filter_grid(kernel, columns=4, scale=2, border=2, border_value=0)
    assert grid.shape == (3 * 10 + 4 * 2, 4 * 10 + 5 * 2, 3)
    np.testing.assert_array_equal(grid[..., 0], grid[..., 2])  # Grey: equal channels.
    np.testing.assert_array_equal(grid[2 + 2 * 12 :, 2 + 2 * 12 :], 0)  # Cells 10 and 11: empty.
    assert grid[2 + 2 * 12 :, 2 : 2 + 10].max() == 255  # Cell 8 holds a filter.


def test_filter_grid_rejects_kernels_it_cannot_show():
    with pytest.raises(ValueError, match=r"1 or 3 input channels.*\(5, 5, 2, 8\)"):
        visualization.filter_grid(np.zeros((5, 5, 2, 8)))
    with pytest.raises(ValueError, match="NaN"):
        visualization.filter_grid(np.full((5, 5, 3, 8), np.nan))
    with pytest.raises(ValueError, match="scale"):
        visualization.filter_grid(np.zeros((5, 5, 3, 8)), scale=0)


def test_filters_of_an_untrained_conv_layer_make_a_tensorboard_image_summary(tmp_path):
    layer = keras.layers.Conv2D(64, 5, padding="same")
    layer.build((None, 24, 24, 3))
    kernel = keras.ops.convert_to_numpy(layer.kernel)  # (5, 5, 3, 64)
    images = visualization.filters_for_summary(kernel)
    assert images.shape == (64, 5, 5, 3) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    np.testing.assert_array_equal(images[7], np.float32(visualization.normalize_filters(kernel)[7]))
    assert visualization.filter_grid(kernel).shape == (169, 169, 3)

    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(step=0):
        assert tf.summary.image("filters", images, max_outputs=64)
    writer.close()
    (event_file,) = tmp_path.iterdir()
    tags = [
        value.tag
        for event in tf.compat.v1.train.summary_iterator(str(event_file))
        for value in event.summary.value
    ]
    assert tags == ["filters"]


# --- Fig. 5.19: t-SNE, k-NN agreement ------------------------------------------------------------


def _blobs(rng, count_per_class: int, classes: int, dimension: int, spread: float = 30.0):
    centres = rng.normal(0.0, spread, size=(classes, dimension))
    labels = np.repeat(np.arange(classes), count_per_class)
    return centres[labels] + rng.normal(size=(len(labels), dimension)), labels


def _knn_reference(points: np.ndarray, labels: np.ndarray, k: int) -> float:
    distances = np.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=-1)  # (N, N)
    np.fill_diagonal(distances, np.inf)  # A point is not its own neighbour.
    neighbours = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return float(np.mean(labels[neighbours] == labels[:, None]))


@pytest.mark.parametrize("dimension", [2, 3])
def test_knn_class_agreement_equals_a_brute_force_reference(dimension):
    rng = np.random.default_rng(dimension)
    points = rng.normal(size=(80, dimension))
    labels = rng.integers(0, 3, size=80)
    for k in (1, 5, 10):
        assert visualization.knn_class_agreement(points, labels, k) == _knn_reference(
            points, labels, k
        )


def test_knn_class_agreement_is_one_for_separated_clusters_and_chance_for_random_labels():
    rng = np.random.default_rng(0)
    points, labels = _blobs(rng, count_per_class=40, classes=5, dimension=2)
    assert visualization.knn_class_agreement(points, labels, k=10) == 1.0
    points = rng.uniform(size=(3000, 2))
    labels = rng.integers(0, 10, size=3000)
    assert visualization.knn_class_agreement(points, labels, k=10) == pytest.approx(0.1, abs=0.01)


def test_knn_class_agreement_leaves_out_the_point_itself_even_among_duplicates():
    points = np.array([[0.0, 0.0]] * 3 + [[10.0, 10.0]] * 3)
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert visualization.knn_class_agreement(points, labels, k=2) == 1.0
    assert visualization.knn_class_agreement(points, labels, k=3) == pytest.approx(2 / 3)


def test_knn_class_agreement_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"k must be in \[1, N\) with N = 4; got 4"):
        visualization.knn_class_agreement(np.zeros((4, 2)), np.zeros(4), k=4)
    with pytest.raises(ValueError, match="labels"):
        visualization.knn_class_agreement(np.zeros((4, 2)), np.zeros(3), k=1)


def test_tsne_embedding_keeps_separated_classes_apart_and_is_seeded():
    rng = np.random.default_rng(0)
    features, labels = _blobs(rng, count_per_class=40, classes=3, dimension=20)
    embedding = visualization.tsne_embedding(
        features, seed=0, perplexity=10.0, max_iter=300, num_threads=1
    )
    assert embedding.shape == (120, 2) and embedding.dtype == np.float32
    assert visualization.knn_class_agreement(embedding, labels, k=10) == 1.0
    again = visualization.tsne_embedding(
        features, seed=0, perplexity=10.0, max_iter=300, num_threads=1
    )
    np.testing.assert_array_equal(embedding, again)


def test_tsne_embedding_clamps_the_perplexity_for_a_handful_of_points():
    features = np.random.default_rng(0).normal(size=(5, 8))
    with pytest.warns(UserWarning, match="perplexity 30.0 is too large for 5 points; using 1.33"):
        embedding = visualization.tsne_embedding(features, seed=0, max_iter=250, num_threads=1)
    assert embedding.shape == (5, 2) and np.all(np.isfinite(embedding))
    with pytest.raises(ValueError, match="N >= 2"):
        visualization.tsne_embedding(np.zeros((1, 8)), seed=0)
    with pytest.raises(ValueError, match="NaN"):
        visualization.tsne_embedding(np.full((5, 8), np.nan), seed=0)


# --- Fig. 5.19: grid snapping and the mosaic -----------------------------------------------------


def _greedy_reference(points: np.ndarray, grid: int) -> np.ndarray:
    """All (point, cell) pairs sorted by (squared distance, point, cell), taken when both free."""
    unit = (points - points.min(0)) / (points.max(0) - points.min(0))
    rows = (1.0 - unit[:, 1]) * (grid - 1)  # Largest y at the top.
    columns = unit[:, 0] * (grid - 1)
    cell_rows, cell_columns = np.divmod(np.arange(grid * grid), grid)
    distances = (cell_rows[None] - rows[:, None]) ** 2 + (
        cell_columns[None] - columns[:, None]
    ) ** 2
    point_of = np.repeat(np.arange(len(points)), grid * grid)
    cell_of = np.tile(np.arange(grid * grid), len(points))
    assignment = np.full(len(points), -1)
    cell_taken = np.zeros(grid * grid, dtype=bool)
    for pair in np.lexsort((cell_of, point_of, distances.ravel())):
        point, cell = point_of[pair], cell_of[pair]
        if assignment[point] < 0 and not cell_taken[cell]:
            assignment[point], cell_taken[cell] = cell, True
    return assignment


@pytest.mark.parametrize(
    "case",
    ["sparse", "crowded", "one_tight_cluster"],
)
def test_snap_to_grid_equals_the_brute_force_greedy_assignment(case):
    rng = np.random.default_rng(0)
    if case == "sparse":  # 40 points, 100 cells: every point placed.
        points, grid = rng.normal(size=(40, 2)), 10
    elif case == "crowded":  # 150 points, 100 cells: 50 left out.
        points, grid = rng.normal(size=(150, 2)), 10
    else:  # 200 points on one spot: candidate lists run out and are recomputed.
        points = np.concatenate([rng.normal(0.0, 0.01, (200, 2)), [[-1.0, -1.0], [1.0, 1.0]]])
        grid = 20
    assignment = visualization.snap_to_grid(points, grid)
    np.testing.assert_array_equal(assignment, _greedy_reference(points, grid))
    placed = assignment[assignment >= 0]
    assert len(placed) == min(len(points), grid * grid)
    assert len(np.unique(placed)) == len(placed)  # No two points in one cell.


def test_snap_to_grid_puts_points_on_cell_centres_into_their_own_cells():
    grid = 6
    rows, columns = np.divmod(np.arange(grid * grid), grid)
    order = np.random.default_rng(0).permutation(grid * grid)
    # x = column and y = -row, so the largest y is row 0 (the top).
    points = np.stack([columns[order], -rows[order]], axis=1).astype(float) * 0.37 + 5.0
    np.testing.assert_array_equal(visualization.snap_to_grid(points, grid), order)


def test_snap_to_grid_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        visualization.snap_to_grid(np.zeros((4, 3)), 5)
    with pytest.raises(ValueError, match="grid"):
        visualization.snap_to_grid(np.zeros((4, 2)), 0)


def test_tsne_mosaic_pastes_each_thumbnail_at_most_once_and_one_per_cell():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 2))
    # Thumbnail k is 4x3 (non-square, to catch a height/width mix-up) and holds the value k + 1.
    thumbnails = np.broadcast_to(
        np.arange(1, 31, dtype=np.uint8)[:, None, None, None], (30, 4, 3, 3)
    )
    mosaic = visualization.tsne_mosaic(points, thumbnails, grid=5, background=0)
    assert mosaic.shape == (20, 15, 3) and mosaic.dtype == np.uint8
    assignment = visualization.snap_to_grid(points, 5)
    cells = mosaic.reshape(5, 4, 5, 3, 3).transpose(0, 2, 1, 3, 4).reshape(25, 4, 3, 3)
    for cell in range(25):
        assert len(np.unique(cells[cell])) == 1  # One thumbnail (or background) per cell.
    for index in range(30):
        value = index + 1
        holding = [cell for cell in range(25) if cells[cell][0, 0, 0] == value]
        assert holding == ([assignment[index]] if assignment[index] >= 0 else [])
    assert np.sum(assignment >= 0) == 25


def test_tsne_mosaic_resizes_thumbnails_by_nearest_neighbour_and_keeps_the_scatter_upright():
    thumbnails = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    points = np.array([[1.0, 1.0], [0.0, 0.0]])  # Point 0 top right, point 1 bottom left.
    mosaic = visualization.tsne_mosaic(points, thumbnails, grid=2, cell=8)
    assert mosaic.shape == (16, 16, 3)
    np.testing.assert_array_equal(mosaic[:8, 8:], thumbnails[0].repeat(2, 0).repeat(2, 1))
    np.testing.assert_array_equal(mosaic[8:, :8], thumbnails[1].repeat(2, 0).repeat(2, 1))
    np.testing.assert_array_equal(mosaic[:8, :8], 255)  # Empty: background.
    small = visualization.tsne_mosaic(points, thumbnails, grid=2, cell=2)
    np.testing.assert_array_equal(small[:2, 2:], thumbnails[0][::2, ::2])
    grey = visualization.tsne_mosaic(points, thumbnails[..., 0] / 255.0, grid=2)
    np.testing.assert_array_equal(grey[4:, :4, 1], thumbnails[1, ..., 0])
    with pytest.raises(ValueError, match="2 points but 1 thumbnails"):
        visualization.tsne_mosaic(points, thumbnails[:1], grid=2)


def test_scatter_and_mosaic_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 2))
    labels = np.arange(60) % 3
    names = ["cat", "dog", "ship"]
    path = visualization.plot_tsne_scatter(points, labels, names, tmp_path / "scatter.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    thumbnails = rng.integers(0, 256, size=(60, 8, 8, 3), dtype=np.uint8)
    path = visualization.plot_tsne_mosaic(points, thumbnails, tmp_path / "mosaic.png", grid=10)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    path = visualization.plot_filter_grid(_known_kernel(), tmp_path / "filters.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        visualization.plot_tsne_scatter(points, labels, names[:2], tmp_path / "bad.png")

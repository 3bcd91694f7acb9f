"""t-SNE figures (Fig. 5.19, C5-9): k-NN agreement, snapping to a grid, the mosaic.

Sizes are tiny on purpose (at most a few hundred points, 10x10 grids) so that t-SNE and the
brute-force references run in well under a second each.
"""

import numpy as np
import pytest

from fdl_tf2.viz import embeddings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
        assert embeddings.knn_class_agreement(points, labels, k) == _knn_reference(
            points, labels, k
        )


def test_knn_class_agreement_is_one_for_separated_clusters_and_chance_for_random_labels():
    rng = np.random.default_rng(0)
    points, labels = _blobs(rng, count_per_class=40, classes=5, dimension=2)
    assert embeddings.knn_class_agreement(points, labels, k=10) == 1.0
    points = rng.uniform(size=(3000, 2))
    labels = rng.integers(0, 10, size=3000)
    assert embeddings.knn_class_agreement(points, labels, k=10) == pytest.approx(0.1, abs=0.01)


def test_knn_class_agreement_leaves_out_the_point_itself_even_among_duplicates():
    points = np.array([[0.0, 0.0]] * 3 + [[10.0, 10.0]] * 3)
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert embeddings.knn_class_agreement(points, labels, k=2) == 1.0
    assert embeddings.knn_class_agreement(points, labels, k=3) == pytest.approx(2 / 3)


def test_knn_class_agreement_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"k must be in \[1, N\) with N = 4; got 4"):
        embeddings.knn_class_agreement(np.zeros((4, 2)), np.zeros(4), k=4)
    with pytest.raises(ValueError, match="labels"):
        embeddings.knn_class_agreement(np.zeros((4, 2)), np.zeros(3), k=1)


def test_tsne_embedding_keeps_separated_classes_apart_and_is_seeded():
    rng = np.random.default_rng(0)
    features, labels = _blobs(rng, count_per_class=40, classes=3, dimension=20)
    embedding = embeddings.tsne_embedding(
        features, seed=0, perplexity=10.0, max_iter=300, num_threads=1
    )
    assert embedding.shape == (120, 2) and embedding.dtype == np.float32
    assert embeddings.knn_class_agreement(embedding, labels, k=10) == 1.0
    again = embeddings.tsne_embedding(
        features, seed=0, perplexity=10.0, max_iter=300, num_threads=1
    )
    np.testing.assert_array_equal(embedding, again)


def test_tsne_embedding_clamps_the_perplexity_for_a_handful_of_points():
    features = np.random.default_rng(0).normal(size=(5, 8))
    with pytest.warns(UserWarning, match="perplexity 30.0 is too large for 5 points; using 1.33"):
        embedding = embeddings.tsne_embedding(features, seed=0, max_iter=250, num_threads=1)
    assert embedding.shape == (5, 2) and np.all(np.isfinite(embedding))
    with pytest.raises(ValueError, match="N >= 2"):
        embeddings.tsne_embedding(np.zeros((1, 8)), seed=0)
    with pytest.raises(ValueError, match="NaN"):
        embeddings.tsne_embedding(np.full((5, 8), np.nan), seed=0)


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
    assignment = embeddings.snap_to_grid(points, grid)
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
    np.testing.assert_array_equal(embeddings.snap_to_grid(points, grid), order)


def test_snap_to_grid_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        embeddings.snap_to_grid(np.zeros((4, 3)), 5)
    with pytest.raises(ValueError, match="grid"):
        embeddings.snap_to_grid(np.zeros((4, 2)), 0)


def test_tsne_mosaic_pastes_each_thumbnail_at_most_once_and_one_per_cell():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 2))
    # Thumbnail k is 4x3 (non-square, to catch a height/width mix-up) and holds the value k + 1.
    thumbnails = np.broadcast_to(
        np.arange(1, 31, dtype=np.uint8)[:, None, None, None], (30, 4, 3, 3)
    )
    mosaic = embeddings.tsne_mosaic(points, thumbnails, grid=5, background=0)
    assert mosaic.shape == (20, 15, 3) and mosaic.dtype == np.uint8
    assignment = embeddings.snap_to_grid(points, 5)
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
    mosaic = embeddings.tsne_mosaic(points, thumbnails, grid=2, cell=8)
    assert mosaic.shape == (16, 16, 3)
    np.testing.assert_array_equal(mosaic[:8, 8:], thumbnails[0].repeat(2, 0).repeat(2, 1))
    np.testing.assert_array_equal(mosaic[8:, :8], thumbnails[1].repeat(2, 0).repeat(2, 1))
    np.testing.assert_array_equal(mosaic[:8, :8], 255)  # Empty: background.
    small = embeddings.tsne_mosaic(points, thumbnails, grid=2, cell=2)
    np.testing.assert_array_equal(small[:2, 2:], thumbnails[0][::2, ::2])
    grey = embeddings.tsne_mosaic(points, thumbnails[..., 0] / 255.0, grid=2)
    np.testing.assert_array_equal(grey[4:, :4, 1], thumbnails[1, ..., 0])
    with pytest.raises(ValueError, match="2 points but 1 thumbnails"):
        embeddings.tsne_mosaic(points, thumbnails[:1], grid=2)


def test_scatter_and_mosaic_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 2))
    labels = np.arange(60) % 3
    names = ["cat", "dog", "ship"]
    path = embeddings.plot_tsne_scatter(points, labels, names, tmp_path / "scatter.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    thumbnails = rng.integers(0, 256, size=(60, 8, 8, 3), dtype=np.uint8)
    path = embeddings.plot_tsne_mosaic(points, thumbnails, tmp_path / "mosaic.png", grid=10)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        embeddings.plot_tsne_scatter(points, labels, names[:2], tmp_path / "bad.png")

"""Code figures (Figs. 6.2, 6.3, 6.8, 6.11; checklist items 1, 5, 8): series styles and data.

The figures are inspected through their `Figure` objects (series colours, markers, sizes,
labels, plotted coordinates, image data); each `plot_*` also writes a PNG once.
"""

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.markers import MarkerStyle

from fdl_tf2.models import pca
from fdl_tf2.viz import codes

BOOK_TABLE = [
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
]  # Line 2833, retyped here so that a change to the module's table fails the test.


def _marker_vertices(marker: str) -> np.ndarray:
    style = MarkerStyle(marker)
    return style.get_path().transformed(style.get_transform()).vertices


def _codes(count=300, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, 2)), rng.integers(0, 10, count)


def test_scatter_codes_draws_ten_series_in_the_books_colours_markers_and_size():
    from matplotlib.figure import Figure

    points, labels = _codes()
    axis = Figure().subplots()
    series = codes.scatter_codes(axis, points, labels)
    assert len(series) == 10 and list(axis.collections) == series
    for digit, (collection, (colour, marker)) in enumerate(zip(series, BOOK_TABLE, strict=True)):
        assert collection.get_label() == str(digit)
        assert to_hex(collection.get_facecolor()[0]) == colour
        assert to_hex(collection.get_edgecolor()[0]) == colour
        np.testing.assert_array_equal(collection.get_sizes(), [7])
        np.testing.assert_allclose(collection.get_paths()[0].vertices, _marker_vertices(marker))
        np.testing.assert_array_equal(collection.get_offsets(), points[labels == digit])
    legend = axis.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [str(d) for d in range(10)]


def test_scatter_codes_keeps_an_empty_series_for_a_missing_digit_and_checks_shapes():
    from matplotlib.figure import Figure

    points, labels = _codes()
    labels[labels == 4] = 3
    series = codes.scatter_codes(Figure().subplots(), points, labels)
    assert len(series) == 10 and len(series[4].get_offsets()) == 0
    with pytest.raises(ValueError, match=r"codes must be \(n, 2\)"):
        codes.scatter_codes(Figure().subplots(), np.zeros((5, 3)), np.zeros(5))


def test_pca_vs_autoencoder_figure_puts_pca_left_and_writes_a_png(tmp_path):
    pca_codes, labels = _codes(seed=1)
    autoencoder_codes = pca_codes * 3.0
    figure = codes.codes_figure({"PCA": pca_codes, "autoencoder": autoencoder_codes}, labels)
    left, right = figure.axes
    assert left.get_title().startswith("PCA") and right.get_title().startswith("autoencoder")
    np.testing.assert_array_equal(left.collections[0].get_offsets(), pca_codes[labels == 0])
    np.testing.assert_array_equal(
        right.collections[9].get_offsets(), autoencoder_codes[labels == 9]
    )
    path = codes.plot_pca_vs_autoencoder_codes(
        pca_codes, autoencoder_codes, labels, tmp_path / "fig6_11.png"
    )
    assert path.stat().st_size > 5_000


def test_gaussian_figure_projects_every_point_on_the_first_principal_axis(tmp_path):
    cloud = pca.gaussian_cloud(200, seed=0)
    figure = codes.gaussian_pca_figure(cloud)
    data_axis, code_axis = figure.axes
    np.testing.assert_array_equal(data_axis.collections[0].get_offsets(), cloud)
    projections = np.asarray(data_axis.collections[1].get_offsets())
    fit = pca.PCA(1).fit(cloud)
    offsets = projections - fit.mean
    # Collinear with axis 1: no component orthogonal to it.
    residual = offsets - (offsets @ fit.components[0])[:, None] * fit.components[0]
    np.testing.assert_allclose(residual, 0.0, atol=1e-12)
    labels = [text.get_text() for text in data_axis.texts if text.get_text()]  # Not arrows.
    ratios = pca.PCA(2).fit(cloud).explained_variance_ratio
    assert [label.strip() for label in labels] == [
        f"axis 1: {ratios[0]:.0%} of the variance",
        f"axis 2: {ratios[1]:.0%} of the variance",
    ]
    assert sum(patch.get_height() for patch in code_axis.patches) == 200  # Histogram counts.
    assert codes.plot_gaussian_pca(cloud, tmp_path / "fig6_2.png").stat().st_size > 5_000


def test_circles_figure_draws_polar_coordinates_in_red_and_blue(tmp_path):
    points, labels = pca.concentric_circles(300, seed=0)
    figure = codes.circles_figure(points, labels)
    data_axis, code_axis, polar_axis = figure.axes
    polar = pca.to_polar(points)
    for label, colour in enumerate(("#2980b9", "#c0392b")):  # Outer blue, inner red.
        np.testing.assert_array_equal(
            data_axis.collections[label].get_offsets(), points[labels == label]
        )
        np.testing.assert_allclose(
            polar_axis.collections[label].get_offsets(), polar[labels == label]
        )
        assert to_hex(polar_axis.collections[label].get_facecolor()[0]) == colour
    assert polar_axis.get_xlabel().startswith("radius")
    assert codes.plot_circles(points, labels, tmp_path / "fig6_3.png").stat().st_size > 5_000


def test_class_distances_figure_shows_the_image_the_means_and_their_distances(tmp_path):
    rng = np.random.default_rng(0)
    image, means = rng.uniform(size=784), rng.uniform(size=(10, 28, 28))
    distances = np.array([11.05, 5.75, 9.0, 9.1, 9.2, 9.3, 9.4, 8.94, 9.5, 9.6])
    figure = codes.class_distances_figure(image, means, distances, image_label="a 1")
    assert len(figure.axes) == 11
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array(), image.reshape(28, 28))
    assert figure.axes[0].get_title() == "X = a 1"
    for axis, mean_image, distance in zip(figure.axes[1:], means, distances, strict=True):
        np.testing.assert_array_equal(axis.images[0].get_array(), mean_image)
        assert axis.get_xlabel() == f"{distance:.2f}"
    assert [axis.get_title() for axis in figure.axes[1:3]] == ["class 0", "class 1"]
    with pytest.raises(ValueError, match="10 class means but distances of shape"):
        codes.class_distances_figure(image, means, distances[:9])
    path = codes.plot_class_distances(image, means, distances, tmp_path / "fig6_8.png")
    assert path.stat().st_size > 5_000

"""Every figure function of the plot-only `fdl_tf2.viz` modules writes a PNG from small inputs.

The numbers behind these figures are tested with their library modules (`foundations`,
`models`); here each function runs once on tiny inputs. The experiments' smoke tests check the
same figures end to end.
"""

import numpy as np
import pytest

from fdl_tf2.foundations import convolution, gradient_descent, landscape, toy_data
from fdl_tf2.viz import (
    activations,
    decision_regions,
    error_surfaces,
    figure,
    initializers,
    model_selection,
    style_transfer,
)
from fdl_tf2.viz import convolution as convolution_figures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chapter_1(tmp_path):
    inputs, labels = toy_data.exam_data(20)
    yield decision_regions.plot_exam_data(
        inputs, labels, toy_data.EXAM_THETA, tmp_path / "exam.png"
    )
    yield decision_regions.plot_nonlinear_sets(
        {"xor": toy_data.two_d_classes("xor", 20)}, tmp_path / "toy.png"
    )
    for name in ("sigmoid", "tanh", "relu"):
        yield activations.plot_activation(name, tmp_path / f"{name}.png")


def _chapter_2(tmp_path):
    inputs, labels = toy_data.two_d_classes("circle", 20)
    yield decision_regions.plot_output_regions(
        lambda points: 1 / (1 + np.exp(-points[:, :1])), inputs, labels, tmp_path / "out.png", "x"
    )
    grid_x, grid_y = np.meshgrid(np.linspace(-1, 1, 20), np.linspace(-1, 1, 20))
    panels = [dict(grid_x=grid_x, grid_y=grid_y, regions=(grid_x > 0).astype(int), title="t")]
    yield decision_regions.plot_decision_regions(
        panels * 2, inputs, labels, "Fig. 2.10 test", tmp_path / "regions.png"
    )
    bowl = gradient_descent.DEMO_BOWL
    path = gradient_descent.bowl_trajectory(bowl, np.array([-2.0, 4.5]), 0.1, 10)
    yield error_surfaces.plot_error_surface(bowl, path, tmp_path / "surface.png")
    yield error_surfaces.plot_contours_and_path(bowl, path, 0.1, tmp_path / "contours.png")
    yield error_surfaces.plot_learning_rates(bowl, [(0.1, path), (0.2, path)], tmp_path / "lr.png")
    plateau = gradient_descent.PlateauLoss.make(5, seed=0)
    batch = plateau.descend(2.5, batch_size=5, learning_rate=0.3, epochs=3, seed=0)
    stochastic = plateau.descend(2.5, batch_size=1, learning_rate=0.3, epochs=3, seed=0)
    yield error_surfaces.plot_batch_vs_stochastic(plateau, batch, stochastic, tmp_path / "sgd.png")
    x, y = toy_data.noisy_line(10, seed=0)
    fits = {"linear": gradient_descent.polynomial_fit(x, y, 1)}
    yield model_selection.plot_polynomial_fits(
        (x, y), (x, y), fits, {"linear": (0.1, 0.2)}, tmp_path / "fits.png"
    )
    yield model_selection.plot_grid_search(
        np.array([[0.5, 0.9], [0.7, 0.1]]), (0.01, 0.1), (16, 64), (0, 1), tmp_path / "grid.png"
    )


def _chapters_3_and_4(tmp_path):
    rng = np.random.default_rng(0)
    draws = {"normal": rng.normal(0, 0.5, (30, 20)), "uniform": rng.uniform(-1, 1, (30, 20))}
    yield initializers.plot_initializer_histograms(draws, tmp_path / "init.png", title="L3.4")
    alphas = np.arange(-2.0, 2.0, 0.1)
    losses = 1.0 + (alphas - 0.5) ** 2
    summary = landscape.interpolation_summary(alphas, losses, "repo")
    yield error_surfaces.plot_interpolation(alphas, losses, summary, "test", tmp_path / "i.png")
    walks = {m: landscape.momentum_random_walk(20, m, seed=0) for m in landscape.BOOK_MOMENTA}
    yield error_surfaces.plot_momentum_walks(walks, tmp_path / "walks.png")
    yield error_surfaces.plot_critical_points(tmp_path / "critical.png")
    matrix, vector, start = np.array([[10.0, 2.0], [2.0, 1.0]]), np.array([1.0, -2.0]), [-2, 4]
    yield error_surfaces.plot_quadratic(
        matrix,
        vector,
        landscape.steepest_descent_path(matrix, vector, np.array(start, float), 4),
        landscape.conjugate_gradient_path(matrix, vector, np.array(start, float)),
        tmp_path / "quadratic.png",
    )


def _chapter_5(tmp_path):
    drawing = convolution.line_drawing(16)
    maps = convolution.line_feature_maps(drawing)
    yield convolution_figures.plot_feature_maps(
        drawing, maps, convolution.detect_lines(maps), tmp_path / "maps.png"
    )
    inputs, kernel, bias = convolution.fig_5_11_values(1)
    outputs = convolution.conv2d_numpy(inputs, kernel, bias, stride=2, padding=1)
    yield convolution_figures.plot_conv_example(
        inputs, kernel, bias, outputs, tmp_path / "fig5_11.png"
    )
    image = np.random.default_rng(0).uniform(0, 255, (32, 32, 3)).astype(np.float32)
    fractional, rows, columns = convolution.fractional_max_pool(image[None], 2**0.5, seed=1)
    pooled = {
        "2x2/2": convolution.max_pool(image[None], 2, 2)[0],
        "3x3/2": convolution.max_pool(image[None], 3, 2)[0],
        "fractional": fractional[0],
    }
    yield convolution_figures.plot_pooling(
        image, pooled, rows, columns, 2**0.5, tmp_path / "pool.png"
    )
    content, style = image, image[:16, :16]
    yield style_transfer.plot_comparison(content, [style], image, tmp_path / "style.png")
    history = [dict(step=i, total=4.0 / (i + 1), content=1.0, style=2.0, tv=0.0) for i in range(5)]
    yield style_transfer.plot_losses(
        history, ("total", "content", "style", "tv"), tmp_path / "losses.png"
    )


@pytest.mark.parametrize("figures", [_chapter_1, _chapter_2, _chapters_3_and_4, _chapter_5])
def test_each_figure_function_writes_a_png(figures, tmp_path):
    for path in figures(tmp_path):
        assert path.read_bytes()[:8] == PNG_SIGNATURE, path
        assert path.parent == tmp_path


def test_an_unknown_activation_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="softplus"):
        activations.plot_activation("softplus", tmp_path / "x.png")


def test_save_figure_creates_the_folder_and_png_to_array_reads_it_back(tmp_path):
    from matplotlib.figure import Figure

    drawing = Figure(figsize=(2, 1))
    drawing.subplots().plot([0, 1], [1, 0])
    path = figure.save_figure(drawing, tmp_path / "new" / "line.png", dpi=50)
    assert path == tmp_path / "new" / "line.png" and path.read_bytes()[:8] == PNG_SIGNATURE
    image = figure.png_to_array(path)
    assert image.dtype == np.uint8 and image.shape == (1, 50, 100, 3)

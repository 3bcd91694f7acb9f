"""Chapter 1 figure helpers (C1-8): the Fig. 1.1 grid layout and that every figure is written."""

import numpy as np
import pytest

from fdl_tf2.foundations import figures_ch01, toy_data


def test_digit_grid_puts_the_first_examples_of_each_class_in_its_row():
    labels = np.array([1, 0, 1, 0, 0, 1])
    images = np.arange(6)[:, None, None] * np.ones((6, 2, 3), dtype=int)  # Image k is all k.
    grid = figures_ch01.digit_grid(images, labels, per_class=2, num_classes=2)
    assert grid.shape == (2, 2, 2, 3)
    np.testing.assert_array_equal(grid[:, :, 0, 0], [[1, 3], [0, 2]])
    tiled = figures_ch01.tile_grid(grid)
    assert tiled.shape == (4, 6)
    np.testing.assert_array_equal(tiled[:, ::3], [[1, 3], [1, 3], [0, 2], [0, 2]])


def test_digit_grid_rejects_a_class_with_too_few_examples():
    with pytest.raises(ValueError, match="Class 1 has 0"):
        figures_ch01.digit_grid(np.zeros((3, 2, 2)), np.zeros(3), per_class=2, num_classes=2)


def test_each_figure_function_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    labels = np.repeat(np.arange(10), 4)
    inputs, exam_labels = toy_data.exam_data(20)
    paths = [
        figures_ch01.plot_mnist_grid(images, labels, tmp_path / "grid.png", per_class=4),
        figures_ch01.plot_image_as_vector(images[0], 0, tmp_path / "vector.png"),
        figures_ch01.plot_exam_data(
            inputs, exam_labels, toy_data.EXAM_THETA, tmp_path / "exam.png"
        ),
        figures_ch01.plot_nonlinear_sets(
            {"xor": toy_data.two_d_classes("xor", 20)}, tmp_path / "toy.png"
        ),
        *(
            figures_ch01.plot_activation(name, tmp_path / f"{name}.png")
            for name in ("sigmoid", "tanh", "relu")
        ),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    with pytest.raises(ValueError, match="softplus"):
        figures_ch01.plot_activation("softplus", tmp_path / "x.png")

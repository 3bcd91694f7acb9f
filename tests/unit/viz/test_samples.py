"""Dataset-sample figures (Figs. 1.1, 1.3, 5.16; C1-8): the class-grid layout and the PNGs."""

import numpy as np
import pytest

from fdl_tf2.viz import samples

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_class_grid_puts_the_first_examples_of_each_class_in_its_row():
    labels = np.array([1, 0, 1, 0, 0, 1])
    images = np.arange(6)[:, None, None] * np.ones((6, 2, 3), dtype=int)  # Image k is all k.
    grid = samples.class_grid(images, labels, per_class=2, num_classes=2)
    assert grid.shape == (2, 2, 2, 3)
    np.testing.assert_array_equal(grid[:, :, 0, 0], [[1, 3], [0, 2]])
    tiled = samples.tile_grid(grid)
    assert tiled.shape == (4, 6)
    np.testing.assert_array_equal(tiled[:, ::3], [[1, 3], [1, 3], [0, 2], [0, 2]])


def test_tile_grid_keeps_colour_channels():
    grid = np.random.default_rng(0).integers(0, 256, (3, 2, 4, 5, 3), dtype=np.uint8)
    tiled = samples.tile_grid(grid)
    assert tiled.shape == (12, 10, 3)
    np.testing.assert_array_equal(tiled[4:8, 5:10], grid[1, 1])
    np.testing.assert_array_equal(tiled, grid.transpose(0, 2, 1, 3, 4).reshape(12, 10, 3))


def test_class_grid_rejects_a_class_with_too_few_examples():
    with pytest.raises(ValueError, match="Class 1 has 0"):
        samples.class_grid(np.zeros((3, 2, 2)), np.zeros(3), per_class=2, num_classes=2)


def test_sample_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    labels = np.repeat(np.arange(10), 4)
    colour = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    names = [f"class {label}" for label in range(10)]
    paths = [
        samples.plot_mnist_grid(digits, labels, tmp_path / "grid.png", per_class=4),
        samples.plot_image_as_vector(digits[0], 0, tmp_path / "vector.png"),
        samples.plot_cifar_samples(
            samples.class_grid(colour, labels, 3), names, "random", tmp_path / "cifar.png", 5
        ),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_SIGNATURE, path

"""First-layer filter figures (Fig. 5.18, C5-8): exact normalisation and grid layout."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.viz import filters

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _known_kernel(filters: int = 64, in_channels: int = 3) -> np.ndarray:
    """Filter j is ramp * (j + 1), ramp = 0, 1, ..., 74; filter 1 is -2 * ramp; 2 is constant."""
    ramp = np.arange(25 * in_channels, dtype=np.float64).reshape(5, 5, in_channels)
    kernel = ramp[..., None] * np.arange(1, filters + 1)  # (5, 5, in_channels, filters)
    kernel[..., 1] = -2.0 * ramp
    kernel[..., 2] = 3.0
    return kernel


def test_normalize_filters_scales_each_filter_to_unit_range_on_its_own():
    normalized = filters.normalize_filters(_known_kernel())
    assert normalized.shape == (64, 5, 5, 3)
    ramp = np.arange(75.0).reshape(5, 5, 3) / 74.0
    np.testing.assert_allclose(normalized[0], ramp, rtol=0, atol=1e-15)
    np.testing.assert_allclose(normalized[63], ramp, rtol=0, atol=1e-15)  # Scale drops out.
    np.testing.assert_allclose(normalized[1], 1.0 - ramp, rtol=0, atol=1e-15)  # Sign flips.
    np.testing.assert_array_equal(normalized[2], 0.5)  # Constant: grey, not NaN.


def test_filter_grid_tiles_64_filters_8_by_8_with_borders():
    kernel = _known_kernel()
    grid = filters.filter_grid(kernel, columns=8, scale=4, border=1)
    assert grid.shape == (8 * 20 + 9, 8 * 20 + 9, 3) == (169, 169, 3)
    assert grid.dtype == np.uint8
    expected = np.round(filters.normalize_filters(kernel) * 255).astype(np.uint8)
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
    grid = filters.filter_grid(kernel, columns=4, scale=2, border=2, border_value=0)
    assert grid.shape == (3 * 10 + 4 * 2, 4 * 10 + 5 * 2, 3)
    np.testing.assert_array_equal(grid[..., 0], grid[..., 2])  # Grey: equal channels.
    np.testing.assert_array_equal(grid[2 + 2 * 12 :, 2 + 2 * 12 :], 0)  # Cells 10 and 11: empty.
    assert grid[2 + 2 * 12 :, 2 : 2 + 10].max() == 255  # Cell 8 holds a filter.


def test_filter_grid_rejects_kernels_it_cannot_show():
    with pytest.raises(ValueError, match=r"1 or 3 input channels.*\(5, 5, 2, 8\)"):
        filters.filter_grid(np.zeros((5, 5, 2, 8)))
    with pytest.raises(ValueError, match="NaN"):
        filters.filter_grid(np.full((5, 5, 3, 8), np.nan))
    with pytest.raises(ValueError, match="scale"):
        filters.filter_grid(np.zeros((5, 5, 3, 8)), scale=0)


def test_filters_of_an_untrained_conv_layer_make_a_tensorboard_image_summary(tmp_path):
    layer = keras.layers.Conv2D(64, 5, padding="same")
    layer.build((None, 24, 24, 3))
    kernel = keras.ops.convert_to_numpy(layer.kernel)  # (5, 5, 3, 64)
    images = filters.filters_for_summary(kernel)
    assert images.shape == (64, 5, 5, 3) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    np.testing.assert_array_equal(images[7], np.float32(filters.normalize_filters(kernel)[7]))
    assert filters.filter_grid(kernel).shape == (169, 169, 3)

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


def test_filter_grid_figure_is_written(tmp_path):
    path = filters.plot_filter_grid(_known_kernel(), tmp_path / "filters.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE

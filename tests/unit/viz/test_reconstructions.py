"""Reconstruction grids (Figs. 6.9, 6.10, 6.12, 6.14) and decoder features: placement and PNGs.

Each grid is checked through its `Figure`: the image data of every axis against the inputs.
"""

import numpy as np
import pytest

from fdl_tf2.viz import reconstructions


def _images(count=4, seed=0):
    return np.random.default_rng(seed).uniform(size=(count, 784))


def test_reconstructions_figure_puts_originals_over_one_row_per_reconstruction(tmp_path):
    originals = _images()
    rows = {"epoch 5": _images(seed=1), "epoch 100": _images(seed=2).reshape(4, 28, 28)}
    figure = reconstructions.reconstructions_figure(originals, rows, title="Fig. 6.9")
    assert len(figure.axes) == 3 * 4
    expected = [originals, rows["epoch 5"], rows["epoch 100"]]
    for row, images in enumerate(expected):
        for column in range(4):
            axis = figure.axes[row * 4 + column]
            np.testing.assert_array_equal(
                axis.images[0].get_array(), np.reshape(images[column], (28, 28))
            )
    labels = [figure.axes[row * 4].get_ylabel() for row in range(3)]
    assert labels == ["original", "epoch 5", "epoch 100"]
    path = reconstructions.plot_reconstructions(originals, rows, tmp_path / "fig6_9.png")
    assert path.stat().st_size > 5_000


def test_images_outside_the_unit_range_are_kept_and_the_grey_scale_is_fixed():
    pca_like = _images(2) * 1.6 - 0.3  # PCA reconstructions leave [0, 1].
    figure = reconstructions.reconstructions_figure(_images(2), {"PCA, k = 2": pca_like})
    image = figure.axes[2].images[0]
    np.testing.assert_array_equal(image.get_array(), pca_like[0].reshape(28, 28))
    assert image.get_clim() == (0.0, 1.0)


def test_grids_reject_rows_of_different_lengths_and_a_second_original_row():
    with pytest.raises(ValueError, match="same number"):
        reconstructions.reconstructions_figure(_images(4), {"epoch 5": _images(3)})
    with pytest.raises(ValueError, match='"original" is the label'):
        reconstructions.reconstructions_figure(_images(2), {"original": _images(2)})
    with pytest.raises(ValueError, match="not a square image"):
        reconstructions.as_square_images(np.zeros((2, 780)))


def test_denoising_figure_has_two_or_three_rows_in_order(tmp_path):
    originals = _images(3)
    mask = np.random.default_rng(5).integers(0, 2, size=(3, 784))
    corrupted, denoised = originals * mask, _images(3, seed=9)
    two_rows = reconstructions.denoising_figure(originals, corrupted)
    assert len(two_rows.axes) == 6 and two_rows.get_suptitle().startswith("Fig. 6.12")
    np.testing.assert_array_equal(
        two_rows.axes[4].images[0].get_array(), corrupted[1].reshape(28, 28)
    )
    three_rows = reconstructions.denoising_figure(originals, corrupted, denoised)
    assert three_rows.get_suptitle().startswith("Fig. 6.14")
    assert [three_rows.axes[row * 3].get_ylabel() for row in range(3)] == [
        "original",
        "corrupted",
        "reconstruction",
    ]
    np.testing.assert_array_equal(
        three_rows.axes[8].images[0].get_array(), denoised[2].reshape(28, 28)
    )
    path = reconstructions.plot_denoising(originals, corrupted, tmp_path / "d.png", denoised)
    assert path.stat().st_size > 5_000


def test_decoder_feature_images_scale_each_feature_to_the_unit_range_on_its_own():
    ramp = np.arange(784.0)
    weights = np.stack([ramp, -3.0 * ramp + 7.0, np.full(784, 2.0), ramp * 100.0])
    features = reconstructions.decoder_feature_images(weights, count=3)
    assert features.shape == (3, 28, 28)
    np.testing.assert_allclose(features[0], (ramp / 783.0).reshape(28, 28), atol=1e-15)
    np.testing.assert_allclose(features[1], 1.0 - features[0], atol=1e-15)  # Sign flips.
    np.testing.assert_array_equal(features[2], 0.5)  # Constant: grey, not NaN.
    with pytest.raises(ValueError, match=r"count must be in \[1, 4\]"):
        reconstructions.decoder_feature_images(weights, count=5)


def test_tile_images_places_image_j_at_row_j_div_columns():
    images = np.arange(5 * 2 * 3, dtype=np.float64).reshape(5, 2, 3) / 30.0
    tiled = reconstructions.tile_images(images, columns=2, border=1)
    assert tiled.shape == (3 * 3 + 1, 2 * 4 + 1)
    for index in range(5):
        top, left = 1 + (index // 2) * 3, 1 + (index % 2) * 4
        np.testing.assert_array_equal(tiled[top : top + 2, left : left + 3], images[index])
    np.testing.assert_array_equal(tiled[7:9, 5:8], 1.0)  # Cell 5 is empty: white.
    np.testing.assert_array_equal(tiled[0], 1.0)  # Top border.


def test_decoder_features_figure_shows_dense_and_sparse_side_by_side(tmp_path):
    rng = np.random.default_rng(0)
    dense, sparse = (
        rng.normal(size=(20, 784)),
        rng.normal(size=(30, 784)) * (rng.uniform(size=(30, 784)) > 0.9),
    )
    figure = reconstructions.decoder_features_figure(
        {"dense": dense, "sparse": sparse}, count=16, columns=4
    )
    for axis, weights, name in zip(figure.axes, (dense, sparse), ("dense", "sparse"), strict=True):
        expected = reconstructions.tile_images(
            reconstructions.decoder_feature_images(weights, 16), columns=4
        )
        np.testing.assert_array_equal(axis.images[0].get_array(), expected)
        assert axis.get_title() == f"{name} (16 of {len(weights)} units)"
    path = reconstructions.plot_decoder_features(
        {"dense": dense, "sparse": sparse}, tmp_path / "features.png", count=16, columns=4
    )
    assert path.stat().st_size > 5_000

"""Tests of `fdl_tf2.data.image_augment` and its use by the pipeline and CIFAR-10 (C5-5).

Every batched op is checked against NumPy slicing or its `tf.image` counterpart applied image
by image; the pipeline tests check that training batches are keyed by `(seed, epoch, batch)`
and that evaluation batches are the deterministic centre crops, in file order.
"""

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import cifar10, image_augment, pipeline

_KEY = tf.constant([3, 7], tf.int64)


def _random_images(batch, height, width, channels, seed=0, dtype=np.float32):
    """Random 0..255 images; with so many levels, no two windows of an image coincide."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (batch, height, width, channels)).astype(dtype)


def _recover_crops(images: np.ndarray, crops: np.ndarray, crop_size: int) -> np.ndarray:
    """For each image, the (row, col, flipped_lr, flipped_ud) of the window its crop equals.

    Brute force: every `crop_size` window of the input, as is and flipped each way, is compared
    with the output; exactly one must match exactly.
    """
    # (batch, rows, cols, channels, crop, crop) -> (batch, rows, cols, crop, crop, channels).
    windows = np.lib.stride_tricks.sliding_window_view(images, (crop_size, crop_size), (1, 2))
    windows = np.moveaxis(windows, 3, 5)
    found = []
    for index, crop in enumerate(crops):
        matches = []
        for flip_ud in (False, True):
            for flip_lr in (False, True):
                candidate = crop[::-1] if flip_ud else crop
                candidate = candidate[:, ::-1] if flip_lr else candidate
                equal = np.all(windows[index] == candidate, axis=(2, 3, 4))  # (rows, cols)
                matches += [
                    (row, col, flip_lr, flip_ud)
                    for row, col in zip(*np.nonzero(equal), strict=True)
                ]
        assert len(matches) == 1, f"image {index}: {len(matches)} matching windows"
        found.append(matches[0])
    return np.array(found, dtype=np.int64)


# --- Crop and flip. ---


def test_random_crop_and_flip_is_numpy_slicing_at_the_drawn_offsets():
    images = _random_images(128, 32, 32, 3)
    crops = image_augment.random_crop_and_flip(tf.constant(images), _KEY, crop_size=24).numpy()
    assert crops.shape == (128, 24, 24, 3) and crops.dtype == np.float32

    found = _recover_crops(images, crops, 24)
    rows, cols, flips_lr, flips_ud = found.T
    assert rows.min() >= 0 and rows.max() <= 8 and cols.max() <= 8
    assert not flips_ud.any()  # Vertical flips are off by default, as in the book.
    assert 0 < flips_lr.sum() < 128
    # The recovered offsets reproduce the crops by plain slicing.
    for image, crop, (row, col, flip_lr, _) in zip(images, crops, found, strict=True):
        window = image[row : row + 24, col : col + 24]
        np.testing.assert_array_equal(crop, window[:, ::-1] if flip_lr else window)

    # Same key, same crops; another key, other crops; the dtype is kept (uint8 in, uint8 out).
    again = image_augment.random_crop_and_flip(tf.constant(images), _KEY, crop_size=24)
    np.testing.assert_array_equal(again.numpy(), crops)
    other = image_augment.random_crop_and_flip(
        tf.constant(images), tf.constant([3, 8], tf.int64), crop_size=24
    )
    assert not np.array_equal(other.numpy(), crops)
    as_uint8 = image_augment.random_crop_and_flip(
        tf.constant(images.astype(np.uint8)), _KEY, crop_size=24
    )
    assert as_uint8.dtype == tf.uint8
    np.testing.assert_array_equal(as_uint8.numpy(), crops.astype(np.uint8))


def test_flip_options_select_which_flips_occur():
    images = _random_images(64, 12, 12, 2, seed=1)
    both = image_augment.random_crop_and_flip(
        tf.constant(images), _KEY, crop_size=8, flip_up_down=True
    ).numpy()
    _, _, flips_lr, flips_ud = _recover_crops(images, both, 8).T
    assert 0 < flips_ud.sum() < 64 and 0 < flips_lr.sum() < 64
    # The four flip combinations all occur (the two flips are drawn independently).
    assert len(set(zip(flips_lr.tolist(), flips_ud.tolist(), strict=True))) == 4

    none = image_augment.random_crop_and_flip(
        tf.constant(images), _KEY, crop_size=8, flip_left_right=False
    ).numpy()
    _, _, flips_lr, flips_ud = _recover_crops(images, none, 8).T
    assert not flips_lr.any() and not flips_ud.any()

    # A crop of the full size is the image itself, possibly flipped.
    full = image_augment.random_crop_and_flip(tf.constant(images), _KEY, crop_size=12).numpy()
    rows, cols, _, _ = _recover_crops(images, full, 12).T
    assert not rows.any() and not cols.any()


def test_offsets_and_flips_are_roughly_uniform_over_a_large_batch():
    # Pixel (r, c) of every image holds r * 32 + c, so a crop's corners give its offset and
    # flip directly; the whole crop is then checked against the slice.
    count = 16_200  # 200 per offset on average.
    grid = (np.arange(32)[:, None] * 32 + np.arange(32)[None, :]).astype(np.int32)
    images = np.broadcast_to(grid[None, :, :, None], (count, 32, 32, 1))
    crops = image_augment.random_crop_and_flip(
        tf.constant(images), tf.constant([11, 5], tf.int64), crop_size=24
    ).numpy()[..., 0]
    top_left, top_right = crops[:, 0, 0], crops[:, 0, 23]
    flipped = top_left > top_right
    corner = np.where(flipped, top_right, top_left)
    rows, cols = corner // 32, corner % 32
    expected = grid[
        rows[:, None, None] + np.arange(24)[:, None], cols[:, None, None] + np.arange(24)
    ]
    expected = np.where(flipped[:, None, None], expected[:, :, ::-1], expected)
    np.testing.assert_array_equal(crops, expected)

    counts = np.zeros((9, 9), np.int64)
    np.add.at(counts, (rows, cols), 1)
    assert counts.min() >= 130 and counts.max() <= 270  # Mean 200, std ~14.
    assert flipped.mean() == pytest.approx(0.5, abs=0.02)
    # Flips are independent of the offset: about half of each row's crops are flipped.
    for row in range(9):
        assert flipped[rows == row].mean() == pytest.approx(0.5, abs=0.06)


def test_a_crop_larger_than_the_image_is_rejected():
    images = tf.zeros((2, 32, 32, 3))
    with pytest.raises(ValueError, match="crop_size 33"):
        image_augment.random_crop_and_flip(images, _KEY, crop_size=33)
    with pytest.raises(ValueError, match="crop_size 40"):
        image_augment.distort(images, _KEY, image_augment.AugmentOptions(crop_size=40))
    with pytest.raises(ValueError, match="crop_size 40"):
        image_augment.center_crop_and_standardize(images, 40)


# --- Photometric ops against tf.image, image by image. ---


def test_brightness_contrast_and_standardize_match_tf_image_per_image():
    images = _random_images(6, 24, 24, 3, seed=2)
    deltas = np.array([-63.0, -10.5, 0.0, 3.25, 40.0, 63.0], np.float32)
    factors = np.array([0.2, 0.5, 1.0, 1.3, 1.8, 0.9], np.float32)

    brightened = image_augment.adjust_brightness(tf.constant(images), tf.constant(deltas))
    contrasted = image_augment.adjust_contrast(tf.constant(images), tf.constant(factors))
    standardized = image_augment.standardize(tf.constant(images)).numpy()
    for index, image in enumerate(images):
        # On float images tf.image.adjust_brightness adds delta (no clipping, no rescaling).
        np.testing.assert_allclose(
            brightened[index], tf.image.adjust_brightness(image, deltas[index]), rtol=1e-6
        )
        np.testing.assert_allclose(
            contrasted[index],
            tf.image.adjust_contrast(image, factors[index]),
            rtol=1e-5,
            atol=1e-3,
        )
        np.testing.assert_allclose(
            standardized[index], tf.image.per_image_standardization(image), atol=1e-5
        )
    np.testing.assert_allclose(brightened, images + deltas[:, None, None, None], rtol=1e-6)
    # Contrast keeps each channel's mean and scales deviations from it.
    mean = images.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(
        contrasted, (images - mean) * factors[:, None, None, None] + mean, atol=1e-3
    )
    np.testing.assert_allclose(standardized.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(standardized.std(axis=(1, 2, 3)), 1.0, rtol=1e-4)


def test_standardize_uses_the_std_floor_of_one_over_sqrt_n():
    constant = np.full((1, 4, 4, 3), 17.0, np.float32)
    np.testing.assert_array_equal(image_augment.standardize(tf.constant(constant)), 0.0)
    # A nearly constant image is divided by 1/sqrt(N), not by its tiny std.
    nearly = constant.copy()
    nearly[0, 0, 0, 0] += 0.01
    n = nearly.size
    expected = (nearly - nearly.mean()) * np.sqrt(n)
    np.testing.assert_allclose(
        image_augment.standardize(tf.constant(nearly)), expected, rtol=1e-4, atol=1e-6
    )


def test_saturation_and_hue_match_tf_image_on_unit_scaled_images():
    images = _random_images(5, 8, 8, 3, seed=3)
    saturations = np.array([0.5, 0.8, 1.0, 1.2, 1.5], np.float32)
    hues = np.array([-0.5, -0.1, 0.0, 0.2, 0.45], np.float32)

    both = image_augment.adjust_saturation_and_hue(
        tf.constant(images), tf.constant(saturations), tf.constant(hues)
    ).numpy()
    saturated = image_augment.adjust_saturation_and_hue(
        tf.constant(images), tf.constant(saturations), None
    ).numpy()
    rotated = image_augment.adjust_saturation_and_hue(
        tf.constant(images), None, tf.constant(hues)
    ).numpy()
    for index, image in enumerate(images):
        unit = image / 255.0
        expected_saturation = tf.image.adjust_saturation(unit, saturations[index]).numpy()
        expected_hue = tf.image.adjust_hue(unit, hues[index]).numpy()
        expected_both = tf.image.adjust_hue(expected_saturation, hues[index]).numpy()
        np.testing.assert_allclose(saturated[index] / 255.0, expected_saturation, atol=1e-4)
        np.testing.assert_allclose(rotated[index] / 255.0, expected_hue, atol=1e-4)
        np.testing.assert_allclose(both[index] / 255.0, expected_both, atol=1e-4)
    # Neither factor changes the image when neutral (index 2: saturation 1, hue 0).
    np.testing.assert_allclose(both[2], images[2], atol=1e-3)


# --- The composed pipelines. ---


def test_distort_gives_reproducible_standardized_24x24_crops():
    images = tf.constant(_random_images(16, 32, 32, 3, seed=4).astype(np.uint8))
    options = image_augment.AugmentOptions()

    distorted = image_augment.distort(images, _KEY, options)
    assert distorted.shape == (16, 24, 24, 3) and distorted.dtype == tf.float32
    values = distorted.numpy()
    np.testing.assert_allclose(values.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(values.std(axis=(1, 2, 3)), 1.0, rtol=1e-4)
    np.testing.assert_array_equal(image_augment.distort(images, _KEY, options), values)
    other = image_augment.distort(images, tf.constant([3, 8], tf.int64), options).numpy()
    assert not np.allclose(other, values)
    assert all(not np.allclose(other[i], values[i]) for i in range(16))

    # Without photometric ops, distort is the crop/flip of the same key, then standardisation.
    geometric = image_augment.AugmentOptions(brightness_max_delta=0.0, contrast_range=None)
    np.testing.assert_allclose(
        image_augment.distort(images, _KEY, geometric),
        image_augment.standardize(
            tf.cast(image_augment.random_crop_and_flip(images, _KEY, crop_size=24), tf.float32)
        ),
        atol=1e-6,
    )
    # The book's brightness shift adds the same delta to every pixel, which the contrast op
    # carries through unchanged and the per-image standardisation then subtracts: it has no
    # effect on the final images (true of TF1's pipeline too).
    no_brightness = image_augment.AugmentOptions(brightness_max_delta=0.0)
    np.testing.assert_allclose(
        image_augment.distort(images, _KEY, no_brightness), values, atol=1e-4
    )
    # Contrast does change them (its factor scales each channel's deviations, not the offsets
    # between channel means).
    no_contrast = image_augment.AugmentOptions(contrast_range=None)
    assert not np.allclose(image_augment.distort(images, _KEY, no_contrast), values, atol=1e-2)


def test_distort_options_transpose_saturation_and_hue_keep_the_contract():
    images = tf.constant(_random_images(32, 32, 32, 3, seed=5).astype(np.uint8))
    options = image_augment.AugmentOptions(
        flip_up_down=True, transpose=True, saturation_range=(0.5, 1.5), hue_max_delta=0.2
    )
    distorted = image_augment.distort(images, _KEY, options).numpy()
    assert distorted.shape == (32, 24, 24, 3)
    np.testing.assert_allclose(distorted.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(distorted.std(axis=(1, 2, 3)), 1.0, rtol=1e-4)
    np.testing.assert_array_equal(image_augment.distort(images, _KEY, options), distorted)

    # random_transpose swaps height and width of about half the images, the others unchanged.
    square = tf.constant(_random_images(64, 6, 6, 2, seed=6))
    transposed = image_augment.random_transpose(square, _KEY).numpy()
    swapped = [
        np.array_equal(out, np.transpose(inp, (1, 0, 2)))
        for inp, out in zip(square.numpy(), transposed, strict=True)
    ]
    kept = [np.array_equal(out, inp) for inp, out in zip(square.numpy(), transposed, strict=True)]
    assert all(s != k for s, k in zip(swapped, kept, strict=True))
    assert 10 < sum(swapped) < 54


@pytest.mark.parametrize("shape", [(32, 32), (31, 29)])
def test_center_crop_matches_resize_with_crop_or_pad_then_standardization(shape):
    images = _random_images(4, *shape, 3, seed=7).astype(np.uint8)
    result = image_augment.center_crop_and_standardize(tf.constant(images), 24)
    assert result.shape == (4, 24, 24, 3) and result.dtype == tf.float32
    for index, image in enumerate(images):
        crop = tf.image.resize_with_crop_or_pad(image, 24, 24)
        expected = tf.image.per_image_standardization(tf.cast(crop, tf.float32))
        np.testing.assert_allclose(result[index], expected, atol=1e-5)
    np.testing.assert_array_equal(
        image_augment.center_crop_and_standardize(tf.constant(images), 24), result
    )


# --- The pipeline's keyed augmentation. ---


def test_batched_training_augment_is_keyed_by_seed_epoch_and_batch():
    inputs = np.arange(40, dtype=np.float32)
    targets = np.arange(40, dtype=np.int64)

    def augment(x, y, key):
        # Returns the key itself, plus a key-dependent perturbation of the inputs.
        noise = tf.random.stateless_uniform(tf.shape(x), key)
        return (x + noise, y), key

    def epoch_batches(seed, epoch, training=True):
        dataset = pipeline.batched(
            inputs,
            targets,
            batch_size=8,
            training=training,
            preprocess=lambda x, y: ((-x, y), tf.zeros(2, tf.int64)),
            augment=augment,
            seed=seed,
            epoch=epoch,
        )
        return [(x, y, key) for (x, y), key in dataset.as_numpy_iterator()]

    first = epoch_batches(seed=5, epoch=1)
    assert len(first) == 5
    order = pipeline.epoch_permutation(40, 5, 1).numpy().reshape(5, 8)
    for index, (x, y, key) in enumerate(first):
        np.testing.assert_array_equal(y, order[index])
        np.testing.assert_array_equal(key, pipeline.batch_key(5, 1, index).numpy())
        noise = x - inputs[order[index]]
        assert np.all((noise >= 0) & (noise < 1))
    assert len({tuple(key) for _, _, key in first}) == 5  # One key per batch.

    # Same (seed, epoch): identical batches; another epoch or seed: other keys and batches.
    for again, before in zip(epoch_batches(seed=5, epoch=1), first, strict=True):
        for a, b in zip(again, before, strict=True):
            np.testing.assert_array_equal(a, b)
    for other in (epoch_batches(seed=5, epoch=2), epoch_batches(seed=6, epoch=1)):
        assert {tuple(key) for *_, key in other}.isdisjoint({tuple(key) for *_, key in first})
        assert not np.allclose(other[0][0], first[0][0])

    # Evaluation ignores augment: preprocess, file order, every example (partial last batch).
    evaluation = pipeline.batched(
        inputs[:-3],
        targets[:-3],
        batch_size=8,
        training=False,
        preprocess=lambda x, y: (-x, y),
        augment=augment,
    )
    batches = list(evaluation.as_numpy_iterator())
    assert [len(y) for _, y in batches] == [8, 8, 8, 8, 5]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), -inputs[:-3])


def test_batch_key_is_a_distinct_int64_key_per_batch_and_epoch():
    keys = {
        (epoch, batch): tuple(pipeline.batch_key(0, epoch, batch).numpy())
        for epoch in range(3)
        for batch in range(50)
    }
    assert pipeline.batch_key(0, 0, 0).dtype == tf.int64
    assert pipeline.batch_key(0, 0, 0).shape == (2,)
    assert len(set(keys.values())) == len(keys)
    np.testing.assert_array_equal(
        pipeline.batch_key(4, tf.constant(2), tf.constant(9, tf.int32)),
        pipeline.batch_key(4, 2, 9),
    )


# --- CIFAR-10 classification data (synthetic arrays). ---


def test_cifar10_classification_data_splits():
    data = cifar10.classification_data(dataset="synthetic", validation_size=500)
    train_images, train_labels = cifar10.load_arrays("train", dataset="synthetic")
    test_images, _ = cifar10.load_arrays("test", dataset="synthetic")
    sizes = {split: data.num_examples(split) for split in ("train", "validation", "test")}
    assert sizes == {"train": 1500, "validation": 500, "test": 500}
    # Validation is the LAST 500 training images; training the first 1,500.
    np.testing.assert_array_equal(data.splits["validation"][0], train_images[-500:])
    np.testing.assert_array_equal(data.splits["validation"][1], train_labels[-500:])
    np.testing.assert_array_equal(data.splits["train"][0], train_images[:1500])
    np.testing.assert_array_equal(data.splits["test"][0], test_images)
    assert data.serving_spec == cifar10.SERVING_SPEC
    assert data.serving_spec == tf.TensorSpec((None, 32, 32, 3), tf.uint8)
    assert data.files == {}

    # validation_size=0: the book's "validation" on the test set.
    no_validation = cifar10.classification_data(dataset="synthetic", validation_size=0)
    assert no_validation.num_examples("train") == 2000
    np.testing.assert_array_equal(no_validation.splits["validation"][0], test_images)
    subset = cifar10.classification_data(
        dataset="synthetic", validation_size=500, num_train_examples=300
    )
    np.testing.assert_array_equal(subset.splits["train"][0], train_images[:300])
    for bad in (-1, 2000, 2500):
        with pytest.raises(ValueError, match="validation_size"):
            cifar10.classification_data(dataset="synthetic", validation_size=bad)


def test_cifar10_training_batches_are_distorted_and_eval_batches_centre_cropped():
    data = cifar10.classification_data(dataset="synthetic", validation_size=500)
    assert cifar10.BOOK_AUGMENT == image_augment.AugmentOptions()
    train_images, train_labels = data.splits["train"]

    def first_batch(epoch, seed=1):
        dataset = data.dataset("train", batch_size=64, training=True, seed=seed, epoch=epoch)
        return next(iter(dataset))

    images, labels = first_batch(epoch=0)
    assert images.shape == (64, 24, 24, 3) and images.dtype == tf.float32
    assert labels.dtype == tf.int32
    # Exactly the book's distortions of the permuted raw images, keyed by batch 0 of epoch 0.
    indices = pipeline.epoch_permutation(1500, 1, 0).numpy()[:64]
    np.testing.assert_array_equal(labels, train_labels[indices])
    expected = image_augment.distort(
        tf.constant(train_images[indices]), pipeline.batch_key(1, 0, 0), cifar10.BOOK_AUGMENT
    )
    np.testing.assert_allclose(images, expected, atol=1e-6)
    again, _ = first_batch(epoch=0)
    np.testing.assert_array_equal(again, images)
    later, _ = first_batch(epoch=1)
    assert not np.allclose(later, images)

    # Evaluation: the centre crops of the last 500 training images, in order, every time.
    evaluation = data.dataset("validation", batch_size=128, training=False)
    batches = [(x.numpy(), y.numpy()) for x, y in evaluation]
    assert [len(y) for _, y in batches] == [128, 128, 128, 116]
    eval_images = np.concatenate([x for x, _ in batches])
    np.testing.assert_allclose(
        eval_images,
        image_augment.center_crop_and_standardize(tf.constant(data.splits["validation"][0]), 24),
        atol=1e-6,
    )
    np.testing.assert_array_equal(
        np.concatenate([y for _, y in batches]), data.splits["validation"][1]
    )
    repeat = np.concatenate([x.numpy() for x, _ in evaluation])
    np.testing.assert_array_equal(repeat, eval_images)

    # augment=None: training batches are the (shuffled) centre crops.
    plain = cifar10.classification_data(dataset="synthetic", validation_size=500, augment=None)
    assert plain.augment_inputs is None
    images, _ = next(iter(plain.dataset("train", batch_size=64, training=True, seed=1)))
    np.testing.assert_allclose(
        images,
        image_augment.center_crop_and_standardize(tf.constant(train_images[indices]), 24),
        atol=1e-6,
    )

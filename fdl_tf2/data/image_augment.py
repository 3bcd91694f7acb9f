"""Batched, stateless image augmentation: the book's CIFAR-10 distortions, vectorised.

Book: chapter 5, "Image preprocessing" (seed lines 2213-2235) and the CIFAR-10 pipeline of the
repository's `cifar10_input.py` (spec ch04-05 §2.7, C5-5). Per image, TF1 applied

    random 24x24 crop -> random left-right flip -> brightness +U(-63, 63)
    -> contrast x U(0.2, 1.8) around each channel's mean -> per-image standardisation

on float pixels in 0..255, without clipping (unlike Keras' preprocessing layers). Here the
same operations act on a whole batch at once, each image with its own random draw: crop and
flip are one gather, the photometric ops are broadcasts. Every draw is a stateless function of
a `(2,)` key, so a batch is reproducible from `(seed, epoch, batch)` and an interrupted run
resumes with the same augmented images. `tests/unit/data/test_image_augment.py` checks each op
against its `tf.image` counterpart applied image by image.

The book's other listed ops (vertical flip, transpose, saturation, hue) are options, off by
default as in the book's pipeline.
"""

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class AugmentOptions:
    """Which distortions to apply; defaults are the book's CIFAR-10 training pipeline."""

    crop_size: int = 24  # Random crop size (square); the book's 24 of 32.
    flip_left_right: bool = True
    flip_up_down: bool = False
    transpose: bool = False  # Randomly transpose height and width (`tf.image.transpose`).
    brightness_max_delta: float = 63.0  # On the 0..255 scale; 0 disables.
    contrast_range: tuple[float, float] | None = (0.2, 1.8)
    saturation_range: tuple[float, float] | None = None  # e.g. (0.5, 1.5)
    hue_max_delta: float = 0.0  # Fraction of the hue circle, at most 0.5; 0 disables.


def _uniform(key: tf.Tensor, index: int, shape, low: float, high: float) -> tf.Tensor:
    sub_key = tf.random.experimental.stateless_fold_in(key, index)
    return tf.random.stateless_uniform(shape, sub_key, minval=low, maxval=high)


def random_crop_and_flip(
    images: tf.Tensor,
    key: tf.Tensor,
    *,
    crop_size: int,
    flip_left_right: bool = True,
    flip_up_down: bool = False,
) -> tf.Tensor:
    """A random `crop_size` square of every image, each flipped with probability 1/2.

    Args:
      images: `(batch, height, width, channels)`, any dtype.
      key: int64 `(2,)` stateless seed.

    Returns:
      `(batch, crop_size, crop_size, channels)`, the dtype of `images`.
    """
    batch = tf.shape(images)[0]
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    if crop_size > min(height, width):
        raise ValueError(f"crop_size {crop_size} exceeds the {height}x{width} images.")
    positions_per_axis = tf.constant([height - crop_size + 1, width - crop_size + 1], tf.float32)
    offsets = tf.cast(
        tf.floor(_uniform(key, 0, (batch, 2), 0.0, 1.0) * positions_per_axis), tf.int32
    )
    offsets = tf.minimum(offsets, tf.cast(positions_per_axis, tf.int32) - 1)  # (batch, 2)
    positions = tf.range(crop_size)
    rows = offsets[:, :1] + positions  # (batch, crop)
    cols = offsets[:, 1:] + positions  # (batch, crop)
    if flip_up_down:
        flip = _uniform(key, 1, (batch, 1), 0.0, 1.0) < 0.5
        rows = tf.where(flip, tf.reverse(rows, axis=[1]), rows)
    if flip_left_right:
        flip = _uniform(key, 2, (batch, 1), 0.0, 1.0) < 0.5
        cols = tf.where(flip, tf.reverse(cols, axis=[1]), cols)
    pixel_index = rows[:, :, None] * width + cols[:, None, :]  # (batch, crop, crop)
    flat = tf.reshape(images, (batch, height * width, channels))
    return tf.gather(flat, pixel_index, batch_dims=1)  # (batch, crop, crop, channels)


def random_transpose(images: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
    """Swaps height and width of each square image with probability 1/2."""
    transpose = _uniform(key, 3, (tf.shape(images)[0], 1, 1, 1), 0.0, 1.0) < 0.5
    return tf.where(transpose, tf.transpose(images, (0, 2, 1, 3)), images)


def adjust_brightness(images: tf.Tensor, delta: tf.Tensor) -> tf.Tensor:
    """`images + delta` per image; images `(batch, h, w, c)` float, delta `(batch,)`."""
    return images + delta[:, None, None, None]


def adjust_contrast(images: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """`(x - mean) * factor + mean` with each image's per-channel mean (`tf.image`'s rule).

    Args:
      images: float `(batch, h, w, c)`.
      factor: `(batch,)`.
    """
    mean = tf.reduce_mean(images, axis=(1, 2), keepdims=True)  # (batch, 1, 1, c)
    return (images - mean) * factor[:, None, None, None] + mean


def adjust_saturation_and_hue(
    images: tf.Tensor, saturation: tf.Tensor | None, hue: tf.Tensor | None
) -> tf.Tensor:
    """Scales HSV saturation (clipped to [0, 1]) and rotates hue, per image, on 0..255 RGB.

    Args:
      images: float `(batch, h, w, 3)` on the 0..255 scale.
      saturation: `(batch,)` factors, or None.
      hue: `(batch,)` deltas in fractions of the hue circle, or None.
    """
    hsv = tf.image.rgb_to_hsv(tf.clip_by_value(images / 255.0, 0.0, 1.0))
    h, s, v = tf.unstack(hsv, axis=-1)
    if hue is not None:
        h = tf.math.floormod(h + hue[:, None, None], 1.0)
    if saturation is not None:
        s = tf.clip_by_value(s * saturation[:, None, None], 0.0, 1.0)
    return tf.image.hsv_to_rgb(tf.stack([h, s, v], axis=-1)) * 255.0


def standardize(images: tf.Tensor) -> tf.Tensor:
    """`tf.image.per_image_standardization`: `(x - mean) / max(std, 1/sqrt(N))` per image.

    Args:
      images: float `(batch, h, w, c)`; N = h * w * c.
    """
    return tf.image.per_image_standardization(images)


def distort(images: tf.Tensor, key: tf.Tensor, options: AugmentOptions) -> tf.Tensor:
    """The book's training distortions of a batch, then per-image standardisation.

    Args:
      images: uint8 (or float on 0..255) `(batch, height, width, 3)`.
      key: int64 `(2,)` stateless seed; equal keys give equal outputs.
      options: which distortions.

    Returns:
      float32 `(batch, crop_size, crop_size, 3)`, each image with mean 0 and std 1.
    """
    images = random_crop_and_flip(
        images,
        key,
        crop_size=options.crop_size,
        flip_left_right=options.flip_left_right,
        flip_up_down=options.flip_up_down,
    )
    images = tf.cast(images, tf.float32)
    if options.transpose:
        images = random_transpose(images, key)
    batch = tf.shape(images)[0]
    saturation = hue = None
    if options.saturation_range is not None:
        saturation = _uniform(key, 4, (batch,), *options.saturation_range)
    if options.hue_max_delta:
        hue = _uniform(key, 5, (batch,), -options.hue_max_delta, options.hue_max_delta)
    if saturation is not None or hue is not None:
        images = adjust_saturation_and_hue(images, saturation, hue)
    if options.brightness_max_delta:
        delta = options.brightness_max_delta
        images = adjust_brightness(images, _uniform(key, 6, (batch,), -delta, delta))
    if options.contrast_range is not None:
        images = adjust_contrast(images, _uniform(key, 7, (batch,), *options.contrast_range))
    return standardize(images)


def center_crop_and_standardize(images: tf.Tensor, crop_size: int) -> tf.Tensor:
    """The book's evaluation preprocessing: the central square, then standardisation.

    Same as `tf.image.resize_with_crop_or_pad(image, crop_size, crop_size)` on larger images.

    Args:
      images: uint8 or float `(batch, height, width, c)`.

    Returns:
      float32 `(batch, crop_size, crop_size, c)`.
    """
    height, width = images.shape[1], images.shape[2]
    if crop_size > min(height, width):
        raise ValueError(f"crop_size {crop_size} exceeds the {height}x{width} images.")
    top, left = (height - crop_size) // 2, (width - crop_size) // 2
    crop = images[:, top : top + crop_size, left : left + crop_size, :]
    return standardize(tf.cast(crop, tf.float32))

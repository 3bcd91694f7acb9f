"""Convolution and pooling basics of chapter 5: output sizes, parameter counts, small demos.

Book: chapter 5, "Convolutional Neural Networks": filters and feature maps (seed lines
1998-2053, Figs. 5.5-5.6), the full description of a convolutional layer (lines 2055-2107,
the worked example of Figs. 5.11-5.12), max pooling and fractional max pooling (lines
2109-2134) and convolutions in other domains (lines 2489-2493). Spec ch04-05 §2.2, §2.3 and
checklist items C5-1, C5-2, C5-3 and C5-11. References: B. Graham, 2014, "Fractional
Max-Pooling" (arXiv:1412.6071); A. Karpathy et al., 2014, "Large-scale Video Classification
with Convolutional Neural Networks".

Notation follows the book: input width w (height h, depth d_in), filter extent e, zero padding
p, stride s, k filters. The output width of a convolution is

    w_out = floor((w - e + 2 p) / s) + 1

The book prints a ceiling instead of the floor (lines 2073-2074; spec §5.1 item 12); it gives
the same answer whenever s divides w - e + 2p (as in the worked example, 5, 3, 1, 2 -> 3), and
one more than Keras otherwise. `book_conv_output_size` keeps the printed formula so the two can
be compared. TensorFlow's `padding="SAME"` pads just enough that w_out = ceil(w / s).
"""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf

# --- Output sizes and parameter counts (C5-1). ---------------------------------------------


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        qualifier = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {qualifier}, got {value!r}.")
    return int(value)


def _check_conv_args(width, extent, padding, stride) -> tuple[int, int, int, int]:
    width = _check_int("width", width, 1)
    extent = _check_int("extent", extent, 1)
    padding = _check_int("padding", padding, 0)
    stride = _check_int("stride", stride, 1)
    if extent > width + 2 * padding:
        raise ValueError(
            f"extent {extent} is larger than the padded input width {width} + 2 * {padding} = "
            f"{width + 2 * padding}: the filter does not fit anywhere."
        )
    return width, extent, padding, stride


def conv_output_size(width: int, extent: int, padding: int = 0, stride: int = 1) -> int:
    """Output width (or height) of a convolution: floor((w - e + 2p) / s) + 1.

    This is what `ZeroPadding2D(p)` followed by `Conv2D(..., strides=s, padding="valid")`
    produces: the filter is placed at offsets 0, s, 2s, ... while it still fits in the padded
    input, and a partial window at the end is dropped.

    Args:
      width: input width w (or height), a positive integer.
      extent: filter extent e, a positive integer with e <= w + 2p.
      padding: zero padding p on each side, an integer >= 0.
      stride: stride s, a positive integer.

    Raises:
      ValueError: an argument is not an integer in its range, or the filter does not fit.
    """
    width, extent, padding, stride = _check_conv_args(width, extent, padding, stride)
    return (width - extent + 2 * padding) // stride + 1


def book_conv_output_size(width: int, extent: int, padding: int = 0, stride: int = 1) -> int:
    """The book's printed formula, ceil((w - e + 2p) / s) + 1 (seed lines 2073-2074).

    Kept to show where it is wrong: it exceeds `conv_output_size` by one whenever s does not
    divide w - e + 2p, e.g. w = 6, e = 3, p = 0, s = 2 gives 3 here and 2 in Keras (the last
    window would hang over the border). Same arguments and errors as `conv_output_size`.
    """
    width, extent, padding, stride = _check_conv_args(width, extent, padding, stride)
    return -(-(width - extent + 2 * padding) // stride) + 1  # Integer ceiling division.


def same_padding_output_size(width: int, stride: int = 1) -> int:
    """Output width of TensorFlow/Keras `padding="same"` (convolution or pooling): ceil(w / s).

    The extent does not matter: TF pads max((ceil(w / s) - 1) s + e - w, 0) zeros in total,
    the extra one (if odd) on the right/bottom. With s = 1 the size is preserved (line 2097).

    Raises:
      ValueError: width or stride is not a positive integer.
    """
    width = _check_int("width", width, 1)
    stride = _check_int("stride", stride, 1)
    return -(-width // stride)


def pool_output_size(width: int, extent: int, stride: int) -> int:
    """Output width of `padding="valid"` max pooling: floor((w - e) / s) + 1 (lines 2126-2127).

    The book's two variants are non-overlapping e = 2, s = 2 and overlapping e = 3, s = 2
    (line 2124): a 32-wide map becomes 16 and 15 wide.

    Raises:
      ValueError: an argument is not a positive integer, or extent > width.
    """
    width, extent, _, stride = _check_conv_args(width, extent, 0, stride)
    return (width - extent) // stride + 1


def conv_parameter_count(extent: int, depth_in: int, filters: int, *, use_bias: bool = True) -> int:
    """Parameters of a conv layer: k d_in e^2 weights plus k biases (line 2077).

    The Fig. 5.11 layer (e = 3, d_in = 3, k = 2) has 2 * 3 * 9 + 2 = 56.

    Raises:
      ValueError: an argument is not a positive integer.
    """
    extent = _check_int("extent", extent, 1)
    depth_in = _check_int("depth_in", depth_in, 1)
    filters = _check_int("filters", filters, 1)
    return filters * depth_in * extent**2 + (filters if use_bias else 0)


def conv2d_numpy(
    inputs: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """Reference convolution by explicit loops, m^k_ij = (W^k * x)_ij + b^k (line 2035).

    Like `tf.nn.conv2d` (and every deep-learning "convolution"), this is a cross-correlation:
    the filter is not flipped. No activation is applied (the linear layer of Fig. 5.11).

    Args:
      inputs: one image `(h, w, d_in)`.
      kernel: filters `(e, e, d_in, k)`, the `tf.nn.conv2d` / Keras layout (line 2104).
      bias: `(k,)`.
      stride: s.
      padding: zeros added on each side, p.

    Returns:
      float64 `(h_out, w_out, k)` with sizes from `conv_output_size`.
    """
    inputs = np.asarray(inputs, np.float64)
    kernel = np.asarray(kernel, np.float64)
    extent, _, depth_in, filters = kernel.shape
    if inputs.ndim != 3 or inputs.shape[2] != depth_in:
        raise ValueError(
            f"inputs must be (h, w, {depth_in}) to match kernel {kernel.shape}; got {inputs.shape}."
        )
    height_out = conv_output_size(inputs.shape[0], extent, padding, stride)
    width_out = conv_output_size(inputs.shape[1], extent, padding, stride)
    padded = np.pad(inputs, ((padding, padding), (padding, padding), (0, 0)))
    outputs = np.empty((height_out, width_out, filters))
    for i in range(height_out):
        for j in range(width_out):
            window = padded[i * stride : i * stride + extent, j * stride : j * stride + extent]
            for k in range(filters):
                outputs[i, j, k] = np.sum(window * kernel[..., k]) + bias[k]
    return outputs


# --- The worked example of Figs. 5.11-5.12. ------------------------------------------------

FIG_5_11_INPUT_SHAPE = (5, 5, 3)
FIG_5_11_OUTPUT_SHAPE = (3, 3, 2)


def fig_5_11_values(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Small integers for the Fig. 5.11 example, so every output can be checked by hand.

    The book's figure shows one such draw; these are this port's own (seeded) values: inputs in
    {0, 1, 2}, weights in {-1, 0, 1}, biases 1 and 0.

    Returns:
      float32 inputs `(5, 5, 3)`, kernel `(3, 3, 3, 2)` and bias `(2,)`.
    """
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, 3, FIG_5_11_INPUT_SHAPE).astype(np.float32)
    kernel = rng.integers(-1, 2, (3, 3, 3, 2)).astype(np.float32)
    bias = np.array([1.0, 0.0], np.float32)
    return inputs, kernel, bias


def build_fig_5_11_example(
    kernel: np.ndarray | None = None, bias: np.ndarray | None = None
) -> keras.Model:
    """The conv layer of Figs. 5.11-5.12: 5x5x3 input, p = 1, two 3x3x3 filters, s = 2, linear.

    `ZeroPadding2D(1)` then `Conv2D(2, 3, strides=2, padding="valid")`: input `(batch, 5, 5,
    3)`, padded `(batch, 7, 7, 3)`, output `(batch, 3, 3, 2)`; 2 * 27 + 2 = 56 parameters.

    Args:
      kernel: optional filters `(3, 3, 3, 2)`; default is Keras' Glorot-uniform draw.
      bias: optional `(2,)`; default zeros. Given only together with `kernel`.
    """
    if (kernel is None) != (bias is None):
        raise ValueError("Pass both kernel and bias, or neither.")
    inputs = keras.Input(FIG_5_11_INPUT_SHAPE, name="volume")
    padded = keras.layers.ZeroPadding2D(1, name="zero_padding")(inputs)
    outputs = keras.layers.Conv2D(2, 3, strides=2, padding="valid", name="conv")(padded)
    model = keras.Model(inputs, outputs, name="fig_5_11_conv_layer")
    if kernel is not None:
        model.get_layer("conv").set_weights([np.asarray(kernel), np.asarray(bias)])
    return model


# --- Fixed line detectors, Figs. 5.5-5.6 (C5-2). -------------------------------------------

VERTICAL_LINE_KERNEL = np.array([[-1, 2, -1], [-1, 2, -1], [-1, 2, -1]], np.float32)
"""Responds to a 1-pixel vertical line: +2 on the middle column, -1 beside it."""
HORIZONTAL_LINE_KERNEL = VERTICAL_LINE_KERNEL.T.copy()
"""The vertical detector turned by 90 degrees: +2 on the middle row."""
LINE_MATCH_RESPONSE = 6.0
"""Largest response on a binary image: the window is exactly a line through its middle."""
LINE_DETECTION_THRESHOLD = 3.0
"""Half the perfect response: a cell is "black" in Fig. 5.6 when its response exceeds this.

On a binary image this keeps every pixel of a straight stroke of the detector's orientation
(its ends and junctions score 4 or 5) and rejects pixels of crossing strokes, of the other
orientation and of diagonals (at most 2).
"""


def line_drawing(size: int = 20) -> np.ndarray:
    """A binary `(size, size)` float32 image (1 = ink) of an "H" and a "/" drawn 1 pixel wide.

    The "H" has two vertical strokes and one horizontal bar; the diagonal stroke answers to
    neither detector (the role of the simple black-and-white image of Fig. 5.5).

    Raises:
      ValueError: size < 16 (too small for the drawing).
    """
    size = _check_int("size", size, 16)
    image = np.zeros((size, size), np.float32)
    top, bottom = 2, size - 3
    middle = (top + bottom) // 2
    left, right = 2, size // 2 - 1
    image[top : bottom + 1, left] = 1.0  # Left stroke of the "H".
    image[top : bottom + 1, right] = 1.0  # Right stroke.
    image[middle, left + 1 : right] = 1.0  # Bar.
    for offset in range(bottom - top - 3):  # "/" rising to the right, clear of the "H".
        row, column = bottom - offset, right + 3 + offset
        if column < size - 1:
            image[row, column] = 1.0
    return image


def build_line_detector(padding: str = "same") -> keras.layers.Conv2D:
    """`Conv2D(2, 3, use_bias=False)` whose two filters are the vertical and horizontal detectors.

    Input `(batch, h, w, 1)`; output `(batch, h, w, 2)` with "same" padding (channel 0 the
    vertical map, channel 1 the horizontal one), `(batch, h - 2, w - 2, 2)` with "valid".
    """
    layer = keras.layers.Conv2D(2, 3, padding=padding, use_bias=False, name="line_detector")
    layer.build((None, None, None, 1))
    kernel = np.stack([VERTICAL_LINE_KERNEL, HORIZONTAL_LINE_KERNEL], axis=-1)  # (3, 3, 2)
    layer.set_weights([kernel[:, :, None, :]])  # (3, 3, 1, 2): e x e x d_in x k.
    return layer


def line_feature_maps(image: np.ndarray, padding: str = "same") -> np.ndarray:
    """Feature maps of the two line detectors (Fig. 5.6).

    Args:
      image: `(h, w)`, e.g. from `line_drawing`.
      padding: "same" (maps aligned with the image, zeros outside) or "valid".

    Returns:
      float32 `(h, w, 2)` ("same") or `(h - 2, w - 2, 2)` ("valid"): channel 0 vertical,
      channel 1 horizontal. On a binary image `LINE_MATCH_RESPONSE` (6) marks a window that
      is exactly a line through its middle.
    """
    image = np.asarray(image, np.float32)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (h, w), got shape {image.shape}.")
    maps = build_line_detector(padding)(image[None, :, :, None])  # (1, h', w', 2)
    return keras.ops.convert_to_numpy(maps)[0]


def detect_lines(maps: np.ndarray, threshold: float = LINE_DETECTION_THRESHOLD) -> np.ndarray:
    """The binary maps of Fig. 5.6: `maps > threshold`.

    Equivalent to giving the detectors a bias of -threshold and a step activation,
    m = step(W * x + b) in the book's notation (line 2035).

    Args:
      maps: `(h, w, 2)` from `line_feature_maps`.

    Returns:
      bool `(h, w, 2)`: channel 0 the vertical lines found, channel 1 the horizontal ones.
    """
    return np.asarray(maps) > threshold


# --- Pooling (C5-3). ------------------------------------------------------------------------


def max_pool(images: np.ndarray, extent: int, stride: int) -> np.ndarray:
    """`MaxPooling2D(extent, stride, padding="valid")` on `(batch, h, w, c)` -> NumPy array."""
    extent = _check_int("extent", extent, 1)
    stride = _check_int("stride", stride, 1)
    pooled = keras.layers.MaxPooling2D(extent, stride, padding="valid")(
        np.asarray(images, np.float32)
    )
    return keras.ops.convert_to_numpy(pooled)


def fractional_pool_output_size(width: int, pooling_ratio: float) -> int:
    """Output width of fractional max pooling: floor(w / alpha) for pooling ratio alpha >= 1.

    Graham's alpha lies in (1, 2), e.g. sqrt(2): a 32-wide map becomes 22 wide, a reduction
    no integer stride can give.

    Raises:
      ValueError: width is not a positive integer, or the ratio is below 1 or too large.
    """
    width = _check_int("width", width, 1)
    if (
        isinstance(pooling_ratio, bool)
        or not isinstance(pooling_ratio, numbers.Real)
        or not pooling_ratio >= 1.0  # Also rejects NaN.
    ):
        raise ValueError(f"pooling_ratio must be a number >= 1, got {pooling_ratio!r}.")
    if pooling_ratio > width:
        raise ValueError(f"pooling_ratio {pooling_ratio} leaves no output for width {width}.")
    return math.floor(width / pooling_ratio)


def fractional_max_pool(
    images: np.ndarray,
    pooling_ratio: float,
    *,
    seed: int = 1,
    pseudo_random: bool = True,
    overlapping: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fractional max pooling (Graham 2014; lines 2132-2134) via `tf.nn.fractional_max_pool`.

    The rows (and columns) are cut into `floor(h / alpha)` regions of 1 or 2 pixels (for alpha
    in (1, 2)) at pseudo-random places; each output is the maximum of its region.

    Args:
      images: `(batch, h, w, channels)`.
      pooling_ratio: alpha >= 1, applied to height and width.
      seed: non-zero seed of the partition (TF refuses seed 0 under op determinism).
      pseudo_random: Graham's pseudo-random sequence; False draws region sizes at random.
      overlapping: regions share their boundary pixel.

    Returns:
      float32 pooled images `(batch, floor(h / alpha), floor(w / alpha), channels)` and the
      row and column boundaries, int64 `(floor(h / alpha) + 1,)` and
      `(floor(w / alpha) + 1,)`: region i spans rows[i] .. rows[i + 1] - 1.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be (batch, h, w, channels), got shape {images.shape}.")
    for axis in (1, 2):
        fractional_pool_output_size(images.shape[axis], pooling_ratio)  # Validates the ratio.
    seed = _check_int("seed", seed, 1)
    pooled, rows, columns = tf.nn.fractional_max_pool(
        images,
        [1.0, float(pooling_ratio), float(pooling_ratio), 1.0],
        pseudo_random=pseudo_random,
        overlapping=overlapping,
        seed=seed,
    )
    return pooled.numpy(), rows.numpy(), columns.numpy()


# --- Convolutions in other domains (C5-11; lines 2489-2493). --------------------------------


def video_conv3d_shapes(
    batch: int = 2,
    frames: int = 16,
    height: int = 32,
    width: int = 32,
    channels: int = 3,
    filters: int = 8,
    extent: int = 3,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Applies `Conv3D(filters, extent)` ("valid") to a zero 5-D video tensor.

    Input `(batch, frames, height, width, channels)`; output `(batch, frames - e + 1,
    height - e + 1, width - e + 1, filters)`: the filter slides over time as well as space.

    Returns:
      (input shape, output shape).
    """
    videos = np.zeros((batch, frames, height, width, channels), np.float32)
    outputs = keras.layers.Conv3D(filters, extent)(videos)
    return videos.shape, tuple(outputs.shape)


def spectrogram_conv_shapes(
    batch: int = 2,
    time_steps: int = 100,
    frequency_bins: int = 40,
    filters: int = 16,
    extent: int = 5,
) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Convolutions over a zero spectrogram batch, two ways (the audio example of line 2491).

    - "conv1d": frequency bins as channels, `(batch, time, freq)` -> `Conv1D(filters, e)` ->
      `(batch, time - e + 1, filters)`: each filter spans every frequency.
    - "conv2d": the spectrogram as a one-channel image, `(batch, time, freq, 1)` ->
      `Conv2D(filters, e)` -> `(batch, time - e + 1, freq - e + 1, filters)`.

    Returns:
      {"conv1d" | "conv2d": (input shape, output shape)}.
    """
    spectrograms = np.zeros((batch, time_steps, frequency_bins), np.float32)
    over_time = keras.layers.Conv1D(filters, extent)(spectrograms)
    as_image = spectrograms[..., None]
    over_both = keras.layers.Conv2D(filters, extent)(as_image)
    return {
        "conv1d": (spectrograms.shape, tuple(over_time.shape)),
        "conv2d": (as_image.shape, tuple(over_both.shape)),
    }

import keras
import numpy as np
import pytest

from fdl_tf2.foundations import convolution


def _keras_spatial_shape(layers, height, width, channels=1):
    outputs = np.zeros((1, height, width, channels), np.float32)
    for layer in layers:
        outputs = layer(outputs)
    return tuple(outputs.shape[1:3])


def _random_conv_shapes(count, seed):
    rng = np.random.default_rng(seed)
    shapes = []
    while len(shapes) < count:
        height, width = rng.integers(1, 41, size=2)
        extent, padding, stride = rng.integers(1, 8), rng.integers(0, 4), rng.integers(1, 5)
        if extent <= min(height, width) + 2 * padding:
            shapes.append((int(height), int(width), int(extent), int(padding), int(stride)))
    return shapes


# --- Output sizes (C5-1) ---


def test_conv_output_size_matches_keras_zero_padding_and_valid_conv_on_random_shapes():
    # One test over 30 shapes rather than 30 tests: each test pays a Keras session teardown.
    for height, width, extent, padding, stride in _random_conv_shapes(30, 0):
        layers = [keras.layers.ZeroPadding2D(padding)] if padding else []
        layers.append(keras.layers.Conv2D(1, extent, strides=stride, padding="valid"))
        expected = (
            convolution.conv_output_size(height, extent, padding, stride),
            convolution.conv_output_size(width, extent, padding, stride),
        )
        assert _keras_spatial_shape(layers, height, width) == expected, (
            height,
            width,
            extent,
            padding,
            stride,
        )


def test_pool_output_size_matches_keras_max_pooling_on_random_shapes():
    rng = np.random.default_rng(1)
    # The book's two variants first, then random extents and strides.
    cases = [(32, 2, 2), (32, 3, 2), (7, 2, 2), (7, 3, 2)]
    while len(cases) < 30:
        width, extent, stride = (
            int(rng.integers(1, 41)),
            int(rng.integers(1, 6)),
            int(rng.integers(1, 5)),
        )
        if extent <= width:
            cases.append((width, extent, stride))
    for width, extent, stride in cases:
        keras_shape = _keras_spatial_shape(
            [keras.layers.MaxPooling2D(extent, stride, padding="valid")], width, width + 3
        )
        expected = (
            convolution.pool_output_size(width, extent, stride),
            convolution.pool_output_size(width + 3, extent, stride),
        )
        assert keras_shape == expected, (width, extent, stride)
    assert convolution.pool_output_size(32, 2, 2) == 16
    assert convolution.pool_output_size(32, 3, 2) == 15


def test_same_padding_output_is_ceil_width_over_stride_in_keras():
    for width, extent, stride in [(28, 5, 1), (7, 3, 2), (25, 3, 2), (9, 4, 3), (5, 7, 2)]:
        expected = (-(-width // stride),) * 2
        assert convolution.same_padding_output_size(width, stride) == expected[0]
        conv = keras.layers.Conv2D(1, extent, strides=stride, padding="same")
        pool = keras.layers.MaxPooling2D(extent, stride, padding="same")
        assert _keras_spatial_shape([conv], width, width) == expected
        assert _keras_spatial_shape([pool], width, width) == expected


def test_book_ceil_formula_is_one_too_big_when_the_stride_does_not_divide():
    # The worked example (line 2079): s = 2 divides 5 - 3 + 2 = 4, so ceil and floor agree.
    assert convolution.book_conv_output_size(5, 3, 1, 2) == convolution.conv_output_size(5, 3, 1, 2)
    # 6x6 input, 3x3 filter, no padding, stride 2: windows fit at columns 0 and 2 only.
    assert convolution.conv_output_size(6, 3, 0, 2) == 2
    assert convolution.book_conv_output_size(6, 3, 0, 2) == 3
    conv = keras.layers.Conv2D(1, 3, strides=2, padding="valid")
    assert _keras_spatial_shape([conv], 6, 6) == (2, 2)
    # AlexNet's 224-pixel input, 11x11, p = 2, s = 4: 55 (floor) against 56 (ceil).
    assert convolution.conv_output_size(224, 11, 2, 4) == 55
    assert convolution.book_conv_output_size(224, 11, 2, 4) == 56
    for _, width, extent, padding, stride in _random_conv_shapes(50, 2):
        floor = convolution.conv_output_size(width, extent, padding, stride)
        ceil = convolution.book_conv_output_size(width, extent, padding, stride)
        divides = (width - extent + 2 * padding) % stride == 0
        assert ceil == floor + (0 if divides else 1)


def test_conv_parameter_counts_match_keras_for_the_book_layers():
    for extent, depth_in, filters, expected in [
        (3, 3, 2, 56),  # Fig. 5.11.
        (5, 1, 32, 832),  # MNIST conv1.
        (5, 32, 64, 51_264),  # MNIST conv2.
        (5, 3, 64, 4_864),  # CIFAR-10 conv1.
        (5, 64, 64, 102_464),  # CIFAR-10 conv2.
    ]:
        layer = keras.layers.Conv2D(filters, extent)
        layer.build((None, 8, 8, depth_in))
        assert convolution.conv_parameter_count(extent, depth_in, filters) == expected
        assert layer.count_params() == expected
    assert convolution.conv_parameter_count(3, 3, 2, use_bias=False) == 54


def test_bad_arguments_raise_value_error():
    cases = [
        (convolution.conv_output_size, (0, 3, 0, 1)),  # Width not positive.
        (convolution.conv_output_size, (5, 0, 0, 1)),  # Extent not positive.
        (convolution.conv_output_size, (5, 3, -1, 1)),  # Negative padding.
        (convolution.conv_output_size, (5, 3, 0, 0)),  # Stride 0.
        (convolution.conv_output_size, (5.0, 3, 0, 1)),  # Not an integer.
        (convolution.conv_output_size, (True, 1, 0, 1)),  # A bool is not a width.
        (convolution.conv_output_size, (3, 6, 1, 1)),  # Filter wider than the padded input.
        (convolution.book_conv_output_size, (3, 6, 1, 1)),
        (convolution.pool_output_size, (3, 4, 1)),  # Pool wider than the input.
        (convolution.pool_output_size, (4, 2, 0)),
        (convolution.same_padding_output_size, (4, 0)),
        (convolution.conv_parameter_count, (3, 0, 2)),
        (convolution.fractional_pool_output_size, (10, 0.5)),  # Ratio below 1.
        (convolution.fractional_pool_output_size, (10, 11.0)),  # No output left.
        (convolution.line_drawing, (8,)),
    ]
    for function, args in cases:
        with pytest.raises(ValueError):
            function(*args)


def test_error_message_names_the_received_value():
    with pytest.raises(ValueError, match="extent 6 is larger than the padded input width"):
        convolution.conv_output_size(3, 6, 1, 1)
    with pytest.raises(ValueError, match="stride must be positive, got 0"):
        convolution.conv_output_size(5, 3, 0, 0)


def test_conv_output_size_accepts_numpy_integers():
    assert convolution.conv_output_size(np.int64(5), np.int32(3), 1, 2) == 3


# --- The worked example of Figs. 5.11-5.12 ---


def test_fig_5_11_example_gives_3x3x2_with_56_parameters():
    model = convolution.build_fig_5_11_example()
    assert model.output_shape == (None, 3, 3, 2)
    assert model.get_layer("zero_padding").output.shape == (None, 7, 7, 3)
    assert model.count_params() == 56


def test_fig_5_11_example_matches_the_numpy_loop_with_given_weights():
    inputs, kernel, bias = convolution.fig_5_11_values(seed=0)
    model = convolution.build_fig_5_11_example(kernel, bias)
    outputs = keras.ops.convert_to_numpy(model(inputs[None]))[0]
    reference = convolution.conv2d_numpy(inputs, kernel, bias, stride=2, padding=1)
    np.testing.assert_array_equal(outputs, reference)  # Small integers: exact in float32.
    # Independently: the top-left output sees padded rows/columns 0-2 (Fig. 5.11), the next one
    # columns 2-4 (Fig. 5.12).
    padded = np.pad(inputs, ((1, 1), (1, 1), (0, 0)))
    for column in range(3):
        window = padded[0:3, 2 * column : 2 * column + 3]
        expected = np.einsum("ijc,ijck->k", window, kernel) + bias
        np.testing.assert_array_equal(outputs[0, column], expected)


def test_fig_5_11_on_ones_counts_the_unpadded_cells_under_each_window():
    kernel, bias = np.ones((3, 3, 3, 2), np.float32), np.zeros(2, np.float32)
    model = convolution.build_fig_5_11_example(kernel, bias)
    outputs = keras.ops.convert_to_numpy(model(np.ones((1, 5, 5, 3), np.float32)))[0]
    # Corner windows cover 2x2 real pixels, edge windows 2x3, the centre 3x3; times depth 3.
    expected = np.array([[12, 18, 12], [18, 27, 18], [12, 18, 12]], np.float32)
    np.testing.assert_array_equal(outputs[..., 0], expected)
    np.testing.assert_array_equal(outputs[..., 1], expected)


def test_numpy_reference_matches_keras_for_random_float_weights():
    rng = np.random.default_rng(3)
    inputs = rng.normal(size=(9, 7, 4)).astype(np.float32)
    kernel = rng.normal(size=(3, 3, 4, 5)).astype(np.float32)
    bias = rng.normal(size=5).astype(np.float32)
    layer = keras.layers.Conv2D(5, 3, strides=2, padding="valid")
    layer.build((None, 11, 9, 4))
    layer.set_weights([kernel, bias])
    padded = np.pad(inputs, ((1, 1), (1, 1), (0, 0)))[None]
    outputs = keras.ops.convert_to_numpy(layer(padded))[0]
    reference = convolution.conv2d_numpy(inputs, kernel, bias, stride=2, padding=1)
    assert outputs.shape == reference.shape == (5, 4, 5)
    np.testing.assert_allclose(outputs, reference, atol=1e-5)


def test_fig_5_11_builder_and_numpy_reference_reject_bad_weights():
    with pytest.raises(ValueError, match="both kernel and bias"):
        convolution.build_fig_5_11_example(kernel=np.zeros((3, 3, 3, 2)))
    with pytest.raises(ValueError, match="inputs must be"):
        convolution.conv2d_numpy(np.zeros((5, 5, 2)), np.zeros((3, 3, 3, 2)), np.zeros(2))


# --- Line detectors, Figs. 5.5-5.6 (C5-2) ---


def test_line_detector_is_a_bias_free_conv_with_the_fixed_kernels():
    layer = convolution.build_line_detector()
    (kernel,) = layer.get_weights()
    assert kernel.shape == (3, 3, 1, 2) and not layer.use_bias
    np.testing.assert_array_equal(kernel[:, :, 0, 0], [[-1, 2, -1]] * 3)
    np.testing.assert_array_equal(kernel[:, :, 0, 1], np.array([[-1, 2, -1]] * 3).T)


def test_feature_maps_of_a_vertical_line_equal_the_hand_computed_maps():
    image = np.zeros((5, 5), np.float32)
    image[:, 2] = 1.0  # A vertical line down the middle column.
    valid = convolution.line_feature_maps(image, padding="valid")  # (3, 3, 2)
    # Window centred on the line: 3 * 2 = 6; the line under a side column: 3 * -1 = -3.
    np.testing.assert_array_equal(valid[..., 0], [[-3, 6, -3]] * 3)
    # Every row of every window holds one ink pixel: -1 + 2 - 1 = 0.
    np.testing.assert_array_equal(valid[..., 1], np.zeros((3, 3)))
    same = convolution.line_feature_maps(image)  # (5, 5, 2), zero padding at the ends.
    expected = np.zeros((5, 5))
    expected[:, 2] = [4, 6, 6, 6, 4]  # At the ends the padding removes one ink pixel.
    expected[:, 1] = expected[:, 3] = [-2, -3, -3, -3, -2]
    np.testing.assert_array_equal(same[..., 0], expected)
    # Top and bottom rows: the zero padding replaces the -1 ink pixel above (or below).
    expected_horizontal = np.zeros((5, 5))
    expected_horizontal[[0, 4], 1:4] = 1.0
    np.testing.assert_array_equal(same[..., 1], expected_horizontal)
    # The horizontal detector sees the transposed image exactly as the vertical one sees this.
    np.testing.assert_array_equal(convolution.line_feature_maps(image.T)[..., 1], expected.T)


def test_detect_lines_finds_exactly_the_strokes_of_the_drawing():
    image = convolution.line_drawing(20)
    found = convolution.detect_lines(convolution.line_feature_maps(image))
    vertical = np.zeros((20, 20), bool)
    vertical[2:18, 2] = vertical[2:18, 9] = True  # The two strokes of the "H".
    horizontal = np.zeros((20, 20), bool)
    horizontal[9, 3:9] = True  # Its bar.
    np.testing.assert_array_equal(found[..., 0], vertical)
    np.testing.assert_array_equal(found[..., 1], horizontal)
    assert image[vertical | horizontal].all() and image.sum() > (vertical | horizontal).sum()


# --- Pooling (C5-3) ---


def test_max_pool_variants_match_a_numpy_reference():
    image = np.random.default_rng(4).uniform(size=(1, 32, 32, 3)).astype(np.float32)
    for extent, stride, size in [(2, 2, 16), (3, 2, 15)]:
        pooled = convolution.max_pool(image, extent, stride)[0]
        reference = np.array(
            [
                [
                    image[
                        0, i * stride : i * stride + extent, j * stride : j * stride + extent
                    ].max((0, 1))
                    for j in range(size)
                ]
                for i in range(size)
            ]
        )
        assert pooled.shape == (size, size, 3)
        np.testing.assert_array_equal(pooled, reference)


def test_fractional_max_pool_size_follows_the_pooling_ratio():
    for height, width, ratio in [(32, 32, 2**0.5), (25, 19, 1.44), (24, 30, 1.5), (16, 16, 2.0)]:
        images = np.random.default_rng(5).uniform(size=(2, height, width, 3)).astype(np.float32)
        pooled, rows, columns = convolution.fractional_max_pool(images, ratio, seed=3)
        out_height = convolution.fractional_pool_output_size(height, ratio)
        out_width = convolution.fractional_pool_output_size(width, ratio)
        assert out_height == int(height // ratio) and out_width == int(width // ratio)
        assert pooled.shape == (2, out_height, out_width, 3)
        assert rows.shape == (out_height + 1,) and columns.shape == (out_width + 1,)
        assert rows[0] == columns[0] == 0 and rows[-1] == height and columns[-1] == width
        if ratio < 2:  # Graham's regime: regions of 1 or 2 pixels.
            assert set(np.diff(rows)) <= {1, 2} and set(np.diff(columns)) <= {1, 2}
        # Each output is the maximum of its (non-overlapping) region.
        for i in range(out_height):
            for j in range(out_width):
                region = images[:, rows[i] : rows[i + 1], columns[j] : columns[j + 1]]
                np.testing.assert_array_equal(pooled[:, i, j], region.max(axis=(1, 2)))


def test_fractional_max_pool_is_reproducible_and_needs_a_nonzero_seed():
    images = np.random.default_rng(6).uniform(size=(1, 32, 32, 1)).astype(np.float32)
    first = convolution.fractional_max_pool(images, 1.44, seed=7)
    second = convolution.fractional_max_pool(images, 1.44, seed=7)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="seed"):
        convolution.fractional_max_pool(images, 1.44, seed=0)
    with pytest.raises(ValueError, match="batch, h, w, channels"):
        convolution.fractional_max_pool(images[0], 1.44)


# --- Other domains (C5-11) ---


def test_conv3d_on_a_video_and_conv1d_conv2d_on_a_spectrogram_have_the_expected_shapes():
    shape_in, shape_out = convolution.video_conv3d_shapes(
        batch=2, frames=10, height=12, width=14, channels=3, filters=4, extent=3
    )
    assert shape_in == (2, 10, 12, 14, 3) and shape_out == (2, 8, 10, 12, 4)
    shapes = convolution.spectrogram_conv_shapes(
        batch=3, time_steps=50, frequency_bins=20, filters=6, extent=5
    )
    assert shapes["conv1d"] == ((3, 50, 20), (3, 46, 6))
    assert shapes["conv2d"] == ((3, 50, 20, 1), (3, 46, 16, 6))

"""The convnet benchmark's FLOP count, its PyTorch twin and its PyTorch augmentation."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import bench_convnets
from fdl_tf2.data import image_augment
from fdl_tf2.models import convnet

MNIST_FORWARD = {
    "conv_1": 2 * 28 * 28 * 32 * 5 * 5 * 1,  # 1,254,400
    "conv_2": 2 * 14 * 14 * 64 * 5 * 5 * 32,  # 20,070,400
    "fc": 2 * 7 * 7 * 64 * 1024,  # 6,422,528
    "output": 2 * 1024 * 10,  # 20,480
}
CIFAR_FORWARD = {
    "conv_1": 2 * 24 * 24 * 64 * 5 * 5 * 3,  # 5,529,600
    "conv_2": 2 * 12 * 12 * 64 * 5 * 5 * 64,  # 29,491,200
    "fc_1": 2 * 6 * 6 * 64 * 384,  # 1,769,472
    "fc_2": 2 * 384 * 192,  # 147,456
    "output": 2 * 192 * 10,  # 3,840
}
PARAMETERS = {"mnist": 3_274_634, "cifar": 1_068_298}


@pytest.mark.parametrize(
    "name, expected, total",
    [("mnist", MNIST_FORWARD, 27_767_808), ("cifar", CIFAR_FORWARD, 36_941_568)],
)
def test_forward_flops_match_the_hand_count(name, expected, total):
    flops = bench_convnets.forward_flops(bench_convnets.MODELS[name].build())
    assert flops == expected
    assert list(flops) == list(expected)  # Layer order: the first one is the first conv.
    assert sum(flops.values()) == total
    assert bench_convnets.train_flops_per_image(flops) == (
        3 * total,
        3 * total - expected["conv_1"],
    )


def test_forward_flops_refuse_layers_they_do_not_count():
    with pytest.raises(ValueError, match="BatchNormalization"):
        bench_convnets.forward_flops(convnet.build_cifar_convnet(batch_norm="keras"))


@pytest.mark.parametrize("name", ["mnist", "cifar"])
def test_torch_twin_has_the_keras_parameter_count_and_output(name):
    torch = pytest.importorskip("torch")
    keras_model = bench_convnets.MODELS[name].build()
    twin = bench_convnets.torch_equivalent(keras_model)
    assert keras_model.count_params() == PARAMETERS[name]
    assert sum(parameter.numel() for parameter in twin.parameters()) == PARAMETERS[name]
    _, height, width, channels = keras_model.input_shape
    assert tuple(twin(torch.zeros(2, channels, height, width)).shape) == (2, 10)
    dropout = [layer.p for layer in twin if isinstance(layer, torch.nn.Dropout)]
    assert dropout == ([0.5] if name == "mnist" else [0.5, 0.5])


def test_torch_distort_matches_the_tensorflow_ops_for_the_same_draws():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    offsets = np.array([[0, 8], [8, 0], [3, 5]])
    flip = np.array([False, True, True])
    brightness = np.array([-63.0, 10.5, 40.0], np.float32)
    contrast = np.array([0.2, 1.0, 1.8], np.float32)
    result = bench_convnets.torch_distort(
        torch.from_numpy(images),
        torch.from_numpy(offsets),
        torch.from_numpy(flip),
        torch.from_numpy(brightness),
        torch.from_numpy(contrast),
    ).numpy()

    crops = np.stack(
        [
            image[top : top + 24, left : left + 24]
            for image, (top, left) in zip(images, offsets, strict=True)
        ]
    )
    crops[flip] = crops[flip][:, :, ::-1]
    expected = tf.cast(crops, tf.float32)
    expected = image_augment.adjust_brightness(expected, tf.constant(brightness))
    expected = image_augment.adjust_contrast(expected, tf.constant(contrast))
    expected = image_augment.standardize(expected).numpy().transpose(0, 3, 1, 2)
    assert result.shape == (3, 3, 24, 24)
    np.testing.assert_allclose(result, expected, atol=2e-5)


def test_torch_mnist_preprocessing_scales_and_adds_the_channel_axis():
    torch = pytest.importorskip("torch")
    images = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)
    result = bench_convnets.torch_preprocess("mnist")(images, None)
    np.testing.assert_allclose(result.numpy(), [[[[0.0, 1.0], [0.2, 0.4]]]], rtol=1e-6)


@pytest.mark.parametrize("argv", [["--models", "mnist,imagenet"], ["--steps", "0"]])
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        bench_convnets.main(argv)
    assert "must" in capsys.readouterr().err


@pytest.mark.parametrize("name, shape", [("mnist", (100, 28, 28, 1)), ("cifar", (128, 24, 24, 3))])
def test_training_stream_has_the_model_input_shape(name, shape):
    spec = dataclasses.replace(bench_convnets.MODELS[name], num_examples=300)  # Small: fast.
    data = bench_convnets.make_data(name, spec)
    images, labels = next(iter(data.train_stream(batch_size=spec.batch_size, seed=0)(0)))
    assert images.shape == shape and images.dtype == tf.float32
    assert labels.shape == (shape[0],) and labels.dtype == tf.int32
    if name == "mnist":
        assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    else:  # Per-image standardisation.
        np.testing.assert_allclose(tf.reduce_mean(images, axis=(1, 2, 3)), 0.0, atol=1e-4)

"""The chapter-5 convolutional networks: the MNIST convnet and the CIFAR-10 convnet (+/- BN).

Book: chapter 5, "Full Architectural Description of Convolution Networks" (MNIST, seed lines
2148-2211, repo `convnet_mnist.py`) and "Batch Normalization" (CIFAR-10, lines 2336-2422, repo
`convnet_cifar.py` / `convnet_cifar_bn.py`); spec ch04-05 §2.4, §2.7, C5-4, C5-7.

Both return **logits** in float32 (the softmax lives in the loss and in the exported
signature). Kernels use the book's untruncated N(0, sqrt(2 / fan_in)) with fan_in = e*e*d_in
for convolutions; biases start at 0. Layer names follow the book's variable scopes (`conv_1`,
`pool_1`, `fc`, `fc_1`, `fc_2`, `output`); each ReLU is its own layer named `<scope>_relu`, so
the penultimate features (`fc_2_relu`, Fig. 5.19) and the first-layer filters (`conv_1`,
Fig. 5.18) are easy to reach.

The book's `layer()` also puts a ReLU (and with BN, BN + ReLU) on the output logits, which
forces them >= 0 and can kill classes (spec §5.1 item 3); `output_relu=True` reproduces that.
"""

import keras

from fdl_tf2.layers.batch_norm import BookBatchNorm
from fdl_tf2.models.feedforward import he_normal_untruncated, layer_seed

NUM_CLASSES = 10
BATCH_NORM_KINDS = ("none", "keras", "book")
"""`none`; `keras`: `keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)`; `book`:
the from-scratch `BookBatchNorm` (same rule, zero-debiased moving moments)."""

MNIST_INPUT_SHAPE = (28, 28, 1)
CIFAR_INPUT_SHAPE = (24, 24, 3)
FEATURE_LAYER = "fc_2_relu"
"""The CIFAR-10 convnet's penultimate features (192-d), used for the t-SNE of Fig. 5.19."""


def _normalization(kind: str, name: str, dtype=None) -> keras.layers.Layer | None:
    if kind not in BATCH_NORM_KINDS:
        raise ValueError(f"Unknown batch_norm {kind!r}; expected one of {BATCH_NORM_KINDS}.")
    if kind == "keras":
        return keras.layers.BatchNormalization(
            momentum=0.9, epsilon=1e-3, dtype=dtype, name=f"{name}_bn"
        )
    if kind == "book":
        return BookBatchNorm(decay=0.9, epsilon=1e-3, dtype=dtype, name=f"{name}_bn")
    return None


def _block(x, layer: keras.layers.Layer, *, norm: str, relu: bool = True, dtype=None):
    """`layer` (+bias) -> [batch norm] -> [ReLU], as the book's `conv2d()` / `layer()`."""
    name = layer.name
    x = layer(x)
    normalization = _normalization(norm, name, dtype)
    if normalization is not None:
        x = normalization(x)
    if relu:
        x = keras.layers.Activation("relu", dtype=dtype, name=f"{name}_relu")(x)
    return x


def _conv(filters: int, seed: int | None, index: int, name: str) -> keras.layers.Conv2D:
    return keras.layers.Conv2D(
        filters,
        5,
        padding="same",
        kernel_initializer=he_normal_untruncated(layer_seed(seed, index)),
        bias_initializer="zeros",
        name=name,
    )


def _dense(units: int, seed: int | None, index: int, name: str, dtype=None) -> keras.layers.Dense:
    return keras.layers.Dense(
        units,
        kernel_initializer=he_normal_untruncated(layer_seed(seed, index)),
        bias_initializer="zeros",
        dtype=dtype,
        name=name,
    )


def _pool(name: str) -> keras.layers.MaxPooling2D:
    return keras.layers.MaxPooling2D(2, strides=2, padding="same", name=name)


def build_mnist_convnet(
    *,
    dropout_rate: float = 0.5,
    output_relu: bool = False,
    num_classes: int = NUM_CLASSES,
    seed: int | None = None,
) -> keras.Model:
    """conv 5x5x32 -> pool -> conv 5x5x64 -> pool -> fc 1024 -> dropout -> 10 (Fig. 5.14).

    Input float32 `(batch, 28, 28, 1)` in [0, 1]; output logits `(batch, 10)` in float32.
    Shapes: 28x28x32 -> 14x14x32 -> 14x14x64 -> 7x7x64 -> 3136 -> 1024 -> 10.
    3,274,634 parameters.

    Args:
      dropout_rate: dropped fraction after `fc` in training (the book's keep_prob 0.5).
      output_relu: the book's ReLU on the logits.
      seed: seed of the initializers (one offset per layer).
    """
    inputs = keras.Input(MNIST_INPUT_SHAPE, name="images")
    x = _block(inputs, _conv(32, seed, 1, "conv_1"), norm="none")
    x = _pool("pool_1")(x)  # (batch, 14, 14, 32)
    x = _block(x, _conv(64, seed, 2, "conv_2"), norm="none")
    x = _pool("pool_2")(x)  # (batch, 7, 7, 64)
    x = keras.layers.Flatten(name="flatten")(x)  # (batch, 3136)
    x = _block(x, _dense(1024, seed, 3, "fc"), norm="none")
    x = keras.layers.Dropout(dropout_rate, seed=seed, name="dropout")(x)
    logits = _block(
        x,
        _dense(num_classes, seed, 4, "output", dtype="float32"),
        norm="none",
        relu=output_relu,
        dtype="float32",
    )
    return keras.Model(inputs, logits, name="mnist_convnet")


def build_cifar_convnet(
    *,
    batch_norm: str = "none",
    dropout_rate: float = 0.5,
    output_relu: bool = False,
    num_classes: int = NUM_CLASSES,
    seed: int | None = None,
) -> keras.Model:
    """conv 5x5x64 -> pool -> conv 5x5x64 -> pool -> fc 384 -> fc 192 -> 10, +/- BN.

    Input float32 `(batch, 24, 24, 3)` (standardised crops); output logits `(batch, 10)` in
    float32. Shapes: 24x24x64 -> 12x12x64 -> 12x12x64 -> 6x6x64 -> 2304 -> 384 -> 192 -> 10.
    1,068,298 parameters without BN. BN (after the bias, before the ReLU, as in the book) adds
    2 x 704 trainable and 2 x 704 moving statistics; with `output_relu` the output layer also
    gets BN + ReLU (2 x 714 each, the book's 1,428).

    Args:
      batch_norm: one of `BATCH_NORM_KINDS`.
      dropout_rate: dropped fraction after fc_1 and fc_2 in training; the book uses 0.5
        without BN and 0 (keep_prob 1) with BN.
      output_relu: the book's [BN +] ReLU on the logits.
      seed: seed of the initializers and dropout.
    """
    inputs = keras.Input(CIFAR_INPUT_SHAPE, name="images")
    x = _block(inputs, _conv(64, seed, 1, "conv_1"), norm=batch_norm)
    x = _pool("pool_1")(x)  # (batch, 12, 12, 64)
    x = _block(x, _conv(64, seed, 2, "conv_2"), norm=batch_norm)
    x = _pool("pool_2")(x)  # (batch, 6, 6, 64)
    x = keras.layers.Flatten(name="flatten")(x)  # (batch, 2304)
    x = _block(x, _dense(384, seed, 3, "fc_1"), norm=batch_norm)
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, seed=seed, name="dropout_1")(x)
    x = _block(x, _dense(192, seed, 4, "fc_2"), norm=batch_norm)  # (batch, 192) features
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, seed=layer_seed(seed, 1), name="dropout_2")(x)
    logits = _block(
        x,
        _dense(num_classes, seed, 5, "output", dtype="float32"),
        norm=batch_norm if output_relu else "none",
        relu=output_relu,
        dtype="float32",
    )
    name = "cifar_convnet" if batch_norm == "none" else f"cifar_convnet_bn_{batch_norm}"
    return keras.Model(inputs, logits, name=name)


def feature_extractor(model: keras.Model, layer_name: str = FEATURE_LAYER) -> keras.Model:
    """`images -> the activations of layer_name` (inference mode) sharing `model`'s weights."""
    return keras.Model(model.input, model.get_layer(layer_name).output, name="features")

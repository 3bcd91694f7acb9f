"""Feed-forward classifiers of chapter 3: logistic regression and the 784-256-256-10 MLP.

Book: chapter 3, "Implementing Neural Networks in TensorFlow": logistic regression
(seed lines 1253-1303, listing L3.14) and the multilayer perceptron (lines 1440-1483,
listings L3.18-L3.19).

Both models return **logits**; the softmax lives in the loss (`from_logits=True`, numerically
stable, spec ch01-03 §5.2 item 2) and in the exported serving signature. Layer names follow the
book's variable scopes (`hidden_1`, `hidden_2`, `output`) so weight histograms and the TF1
checkpoint import of chapter 4 line up.
"""

import keras

NUM_PIXELS = 784
NUM_CLASSES = 10


def he_normal_untruncated(seed: int | None = None) -> keras.initializers.Initializer:
    """The book's `tf.random_normal_initializer(stddev=sqrt(2 / fan_in))` (line 1453).

    Keras `HeNormal` draws from a *truncated* normal; this is the untruncated original.
    """
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_in", distribution="untruncated_normal", seed=seed
    )


def layer_seed(seed: int | None, index: int) -> int | None:
    # One seed per layer: equal seeds would draw correlated weights for every layer.
    return None if seed is None else seed + index


def build_logistic_regression(
    num_inputs: int = NUM_PIXELS, num_classes: int = NUM_CLASSES
) -> keras.Model:
    """Multinomial logistic regression: `logits = x @ W + b`, W and b initialised to zero.

    Input `(batch, 784)` float32 in [0, 1]; output logits `(batch, 10)` in float32.
    7,850 parameters for MNIST.
    """
    inputs = keras.Input((num_inputs,), name="pixels")
    logits = keras.layers.Dense(
        num_classes,
        kernel_initializer="zeros",
        bias_initializer="zeros",
        dtype="float32",  # Logits stay float32 under mixed precision.
        name="output",
    )(inputs)
    return keras.Model(inputs, logits, name="logistic_regression")


def build_mlp(
    hidden_units: tuple[int, ...] = (256, 256),
    *,
    num_inputs: int = NUM_PIXELS,
    num_classes: int = NUM_CLASSES,
    output_relu: bool = False,
    kernel_initializer: str | keras.initializers.Initializer | None = None,
    seed: int | None = None,
) -> keras.Model:
    """The chapter-3 multilayer perceptron, 784 -> 256 ReLU -> 256 ReLU -> 10.

    Args:
      hidden_units: width of each hidden ReLU layer; the book uses (256, 256).
      num_inputs, num_classes: input and output sizes.
      output_relu: apply ReLU to the logits as the book's `layer()` does for the output
        scope (line 1466; spec ch01-03 §5.2 item 1). False (the default) keeps them linear.
      kernel_initializer: default is the book's untruncated He normal, N(0, sqrt(2 / fan_in)).
      seed: seed of the default initializer.

    Input `(batch, 784)` float32 in [0, 1]; output logits `(batch, 10)` in float32.
    269,322 parameters with the book's sizes.
    """
    inputs = keras.Input((num_inputs,), name="pixels")
    hidden = inputs
    for index, units in enumerate(hidden_units, start=1):
        hidden = keras.layers.Dense(
            units,
            activation="relu",
            kernel_initializer=kernel_initializer or he_normal_untruncated(layer_seed(seed, index)),
            bias_initializer="zeros",
            name=f"hidden_{index}",
        )(hidden)
    logits = keras.layers.Dense(
        num_classes,
        activation="relu" if output_relu else None,
        kernel_initializer=kernel_initializer
        or he_normal_untruncated(layer_seed(seed, len(hidden_units) + 1)),
        bias_initializer="zeros",
        dtype="float32",  # Logits stay float32 under mixed precision.
        name="output",
    )(hidden)
    return keras.Model(inputs, logits, name="mlp")

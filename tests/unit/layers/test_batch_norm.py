"""Tests of `BookBatchNorm` against NumPy and `keras.layers.BatchNormalization` (C5-6).

The reference Keras layer is `BatchNormalization(momentum=0.9, epsilon=1e-3)`. Training mode
must agree exactly; inference differs only by the book's zero-debiased moving averages, which
agree with Keras' once `0.9^t` is negligible (and exactly with `zero_debias=False`).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.layers.batch_norm import BookBatchNorm

DECAY, EPSILON = 0.9, 1e-3


def _keras_bn() -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(momentum=DECAY, epsilon=EPSILON)


def _pair(shape, *, zero_debias=True, seed=0):
    """A built BookBatchNorm and Keras BN layer sharing random gamma and beta."""
    book, reference = BookBatchNorm(zero_debias=zero_debias), _keras_bn()
    book.build(shape)
    reference.build(shape)
    rng = np.random.default_rng(seed)
    channels = shape[-1]
    gamma = rng.uniform(0.5, 2.0, channels).astype(np.float32)
    beta = rng.normal(size=channels).astype(np.float32)
    for layer in (book, reference):
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
    return book, reference, gamma, beta


def _batch(rng, shape):
    """Inputs with a nonzero mean and a non-unit spread per channel."""
    channels = shape[-1]
    loc = rng.normal(3.0, 1.0, channels)
    scale = rng.uniform(0.5, 3.0, channels)
    return (loc + scale * rng.normal(size=shape)).astype(np.float32)


def _numpy_bn(x, mean, variance, gamma, beta):
    return gamma * (x - mean) / np.sqrt(variance + EPSILON) + beta


@pytest.mark.parametrize("shape", [(8, 5, 6, 4), (16, 7)], ids=["nhwc", "dense"])
def test_training_output_matches_keras_and_numpy(shape):
    book, reference, gamma, beta = _pair(shape)
    x = _batch(np.random.default_rng(1), shape)

    outputs = book(x, training=True).numpy()
    np.testing.assert_allclose(outputs, reference(x, training=True), rtol=1e-5, atol=1e-5)
    # Moments over every axis but the channels: [0, 1, 2] for images, [0] for dense inputs.
    axes = tuple(range(len(shape) - 1))
    expected = _numpy_bn(x, x.mean(axis=axes), x.var(axis=axes), gamma, beta)
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5)
    assert outputs.shape == shape and outputs.dtype == np.float32
    assert book.compute_output_shape(shape) == shape
    # Each channel of the output has mean beta and std gamma * std / sqrt(var + eps).
    np.testing.assert_allclose(outputs.mean(axis=axes), beta, atol=1e-5)


@pytest.mark.parametrize("zero_debias", [True, False])
def test_moving_averages_follow_the_ema_recurrence(zero_debias):
    shape = (6, 3, 3, 5)
    book, _, gamma, beta = _pair(shape, zero_debias=zero_debias)
    rng = np.random.default_rng(2)
    mean, variance = np.zeros(5), np.zeros(5) if zero_debias else np.ones(5)
    for step in range(1, 8):
        x = _batch(rng, shape)
        book(x, training=True)
        mean = DECAY * mean + (1 - DECAY) * x.mean(axis=(0, 1, 2))
        variance = DECAY * variance + (1 - DECAY) * x.var(axis=(0, 1, 2))  # Biased variance.
        np.testing.assert_allclose(book.moving_mean.numpy(), mean, rtol=1e-5)
        np.testing.assert_allclose(book.moving_variance.numpy(), variance, rtol=1e-5)
        assert float(book.moving_updates.numpy()) == step
        # Inference uses the (debiased) moving moments.
        correction = 1 - DECAY**step if zero_debias else 1.0
        np.testing.assert_allclose(
            book(x, training=False),
            _numpy_bn(x, mean / correction, variance / correction, gamma, beta),
            rtol=1e-4,
            atol=1e-4,
        )


def test_zero_debiased_inference_after_one_update_uses_the_batch_moments():
    book, reference, gamma, beta = _pair((32, 6))
    x = _batch(np.random.default_rng(3), (32, 6))
    # Before any update: mean 0, variance 1, like Keras' initial moving statistics.
    np.testing.assert_allclose(book(x, training=False), reference(x, training=False), atol=1e-6)

    trained = book(x, training=True).numpy()
    reference(x, training=True)
    after_one = book(x, training=False).numpy()
    np.testing.assert_allclose(after_one, trained, rtol=1e-5, atol=1e-5)
    mean, variance = book.moving_moments()
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(variance, x.var(axis=0), rtol=1e-5)
    # Keras' non-debiased averages are still 0.1 * mean and 0.9 + 0.1 * variance.
    np.testing.assert_allclose(reference.moving_mean, 0.1 * x.mean(axis=0), rtol=1e-5)
    assert not np.allclose(reference(x, training=False), after_one, atol=0.1)


def test_inference_agrees_with_keras_after_warm_up():
    shape = (16, 2, 2, 3)
    book, reference, _, _ = _pair(shape)
    rng = np.random.default_rng(4)
    probe = _batch(rng, shape)
    for step in range(1, 151):
        x = _batch(np.random.default_rng(100 + step), shape) * 0.5 + probe * 0.5
        np.testing.assert_allclose(
            book(x, training=True), reference(x, training=True), rtol=1e-5, atol=1e-5
        )
        if step == 5:  # Early on, Keras' zero-initialised averages are still biased.
            assert not np.allclose(
                book(probe, training=False), reference(probe, training=False), atol=1e-2
            )
    np.testing.assert_allclose(
        book(probe, training=False), reference(probe, training=False), rtol=1e-4, atol=1e-4
    )


def test_without_debiasing_the_layer_is_keras_batch_normalization_exactly():
    shape = (8, 3, 3, 4)
    book, reference, _, _ = _pair(shape, zero_debias=False)
    rng = np.random.default_rng(5)
    probe = _batch(rng, shape)
    np.testing.assert_allclose(book.moving_variance, np.ones(4))
    for _ in range(5):
        x = _batch(rng, shape)
        np.testing.assert_allclose(
            book(x, training=True), reference(x, training=True), rtol=1e-5, atol=1e-5
        )
        np.testing.assert_allclose(book.moving_mean, reference.moving_mean, rtol=1e-6)
        np.testing.assert_allclose(book.moving_variance, reference.moving_variance, rtol=1e-6)
        np.testing.assert_allclose(
            book(probe, training=False), reference(probe, training=False), rtol=1e-5, atol=1e-5
        )


def test_gradients_match_keras_in_training_mode():
    shape = (8, 4, 4, 3)
    book, reference, _, _ = _pair(shape)
    rng = np.random.default_rng(6)
    x = tf.constant(_batch(rng, shape))
    upstream = tf.constant(rng.normal(size=shape).astype(np.float32))

    def gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * upstream)
        return tape.gradient(loss, [x, layer.gamma.value, layer.beta.value])

    book_grads = gradients(book)
    keras_grads = gradients(reference)
    for name, ours, theirs in zip(
        ("inputs", "gamma", "beta"), book_grads, keras_grads, strict=True
    ):
        assert ours is not None, name
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5, err_msg=name)
    # dL/dbeta is the sum of the upstream gradient over all but the channel axis.
    np.testing.assert_allclose(book_grads[2], upstream.numpy().sum(axis=(0, 1, 2)), rtol=1e-5)
    # Only gamma and beta are trainable; the moving statistics and the counter are not.
    assert [w.name for w in book.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in book.non_trainable_weights] == [
        "moving_mean",
        "moving_variance",
        "moving_updates",
    ]


def test_config_round_trip_and_saved_model_keep_the_state(tmp_path):
    layer = BookBatchNorm(decay=0.8, epsilon=1e-4, zero_debias=False, name="bn")
    config = layer.get_config()
    assert (config["decay"], config["epsilon"], config["zero_debias"]) == (0.8, 1e-4, False)
    clone = BookBatchNorm.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, BookBatchNorm) and restored.get_config() == config

    inputs = keras.Input((5,))
    model = keras.Model(inputs, BookBatchNorm(name="bn")(keras.layers.Dense(3)(inputs)))
    x = _batch(np.random.default_rng(7), (10, 5))
    model(x, training=True)
    model(x * 2, training=True)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.get_layer("bn"), BookBatchNorm)
    assert float(loaded.get_layer("bn").moving_updates.numpy()) == 2.0
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-6)


def test_bad_arguments_are_rejected():
    for decay in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="decay"):
            BookBatchNorm(decay=decay)
    with pytest.raises(ValueError, match="channel"):
        BookBatchNorm().build((None, None))


def test_mixed_float16_policy_gives_float16_outputs_and_float32_state():
    try:
        keras.config.set_dtype_policy("mixed_float16")
        inputs = keras.Input((6, 6, 2))
        hidden = keras.layers.Conv2D(4, 3, padding="same")(inputs)
        normalized = BookBatchNorm(name="bn")(hidden)
        model = keras.Model(inputs, keras.layers.Dense(2, dtype="float32")(normalized))
        layer = model.get_layer("bn")
        x = tf.constant(_batch(np.random.default_rng(8), (4, 6, 6, 2)))
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        assert all(grad is not None for grad in grads)
        features = keras.Model(model.inputs, normalized)
        assert features(x, training=True).dtype == tf.float16
        assert features(x, training=False).dtype == tf.float16
        assert layer(tf.ones((3, 6, 6, 4), tf.float16), training=False).dtype == tf.float16
        # Called directly (no enclosing model), Keras would autocast weights that allow it.
        direct = BookBatchNorm()
        half = tf.cast(x, tf.float16)
        assert direct(half, training=True).dtype == tf.float16
        np.testing.assert_allclose(
            direct(half, training=False), direct(half, training=True), atol=0.02
        )
        for weight in layer.weights:
            assert weight.dtype == "float32", weight.name
        assert float(layer.moving_updates.numpy()) == 2.0
        assert np.isfinite(layer.moving_variance.numpy()).all()
    finally:
        keras.config.set_dtype_policy("float32")

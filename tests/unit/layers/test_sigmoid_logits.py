"""Tests of `SigmoidLogits`: the sigmoid, Keras' logits shortcut avoided, the loss floor."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.layers import sigmoid_logits


def test_it_is_the_sigmoid_and_keras_losses_see_its_outputs():
    x = np.linspace(-30.0, 30.0, 61, dtype=np.float32).reshape(-1, 1)
    x = np.concatenate([x, -x], axis=1)  # (61, 2)
    labels = np.arange(61) % 2
    layer = sigmoid_logits.SigmoidLogits()

    outputs = layer(x)

    np.testing.assert_allclose(outputs, 1.0 / (1.0 + np.exp(-x.astype(np.float64))), atol=1e-6)
    expected = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=outputs)
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    np.testing.assert_allclose(keras_loss(labels, outputs), expected, rtol=1e-6)
    # The shortcut this layer avoids: Keras' own sigmoid output is scored as its input.
    tagged = keras.layers.Activation("sigmoid")(tf.constant(x))
    np.testing.assert_allclose(tagged, outputs, atol=1e-6)
    shortcut = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=x)
    np.testing.assert_allclose(keras_loss(labels, tagged), shortcut, rtol=1e-5, atol=1e-6)
    assert not np.allclose(shortcut, expected)


def test_config_round_trip_keeps_the_registered_name():
    layer = sigmoid_logits.SigmoidLogits(name="output_sigmoid", dtype="float32")
    assert keras.saving.get_registered_name(type(layer)) == "fdl_tf2>SigmoidLogits"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored).__name__ == "SigmoidLogits" and restored.name == "output_sigmoid"
    assert restored.compute_output_shape((None, 3)) == (None, 3)


def test_loss_floor_is_reached_by_perfect_sigmoid_outputs():
    for num_classes in (2, 5, 44):
        perfect = np.zeros((1, num_classes), np.float32)
        perfect[0, 0] = 1.0
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0], logits=perfect)
        floor = sigmoid_logits.sigmoid_logits_loss_floor(num_classes)
        assert float(loss[0]) == pytest.approx(floor, abs=1e-6)
    assert sigmoid_logits.sigmoid_logits_loss_floor(2) == pytest.approx(math.log1p(math.exp(-1)))
    assert sigmoid_logits.sigmoid_logits_loss_floor(44) == pytest.approx(2.8225, abs=1e-4)
    with pytest.raises(ValueError, match="num_classes"):
        sigmoid_logits.sigmoid_logits_loss_floor(1)

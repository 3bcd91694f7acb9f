import keras
import numpy as np
import pytest

from fdl_tf2.models import feedforward


def test_parameter_counts_match_the_book():
    assert feedforward.build_logistic_regression().count_params() == 7_850
    assert feedforward.build_mlp().count_params() == 269_322


def test_logistic_regression_starts_at_zero_with_uniform_probabilities():
    model = feedforward.build_logistic_regression()
    assert all(not np.any(weight) for weight in model.get_weights())
    logits = model(np.random.rand(4, 784).astype(np.float32))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(logits), np.zeros((4, 10)))


def test_mlp_layout_follows_the_book_scopes():
    model = feedforward.build_mlp()
    shapes = {variable.path: tuple(variable.shape) for variable in model.weights}
    assert shapes == {
        "hidden_1/kernel": (784, 256),
        "hidden_1/bias": (256,),
        "hidden_2/kernel": (256, 256),
        "hidden_2/bias": (256,),
        "output/kernel": (256, 10),
        "output/bias": (10,),
    }


def test_he_init_is_the_untruncated_normal_with_variance_two_over_fan_in():
    values = keras.ops.convert_to_numpy(feedforward.he_normal_untruncated(seed=0)((784, 2000)))
    assert values.std() == pytest.approx(np.sqrt(2 / 784), rel=0.01)
    # A truncated normal (Keras HeNormal) never exceeds 2 standard deviations.
    assert np.abs(values).max() > 3 * np.sqrt(2 / 784)
    truncated = keras.ops.convert_to_numpy(keras.initializers.HeNormal(seed=0)((784, 2000)))
    assert np.abs(truncated).max() <= 2 * np.sqrt(2 / 784) / 0.87962566 + 1e-6


def test_book_relu_output_clips_the_logits_and_the_default_does_not():
    inputs = np.random.default_rng(0).uniform(size=(64, 784)).astype(np.float32)
    linear = keras.ops.convert_to_numpy(feedforward.build_mlp(seed=1)(inputs))
    clipped = keras.ops.convert_to_numpy(
        feedforward.build_mlp(book_relu_output=True, seed=1)(inputs)
    )
    assert linear.min() < 0 and clipped.min() >= 0
    np.testing.assert_allclose(clipped, np.maximum(linear, 0), atol=1e-5)


def test_per_layer_seeds_differ():
    model = feedforward.build_mlp((256, 256), seed=0)
    first, second = model.get_layer("hidden_1").kernel, model.get_layer("hidden_2").kernel
    assert not np.allclose(np.asarray(first)[:256], np.asarray(second))


def test_wrong_input_shapes_are_rejected_with_an_error():
    model = feedforward.build_mlp()
    with pytest.raises(ValueError, match="784"):
        model(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError):
        model(np.zeros((2, 783), np.float32))

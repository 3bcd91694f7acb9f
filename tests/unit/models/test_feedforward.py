import json

import keras
import numpy as np
import pytest

from fdl_tf2.models import feedforward
from tests import helpers


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


def test_output_relu_clips_the_logits_and_the_default_does_not():
    inputs = np.random.default_rng(0).uniform(size=(64, 784)).astype(np.float32)
    linear = keras.ops.convert_to_numpy(feedforward.build_mlp(seed=1)(inputs))
    clipped = keras.ops.convert_to_numpy(feedforward.build_mlp(output_relu=True, seed=1)(inputs))
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


def _one_epoch(model, tmp_path, learning_rate):
    from fdl_tf2.data import mnist

    data = mnist.classification_data(dataset="synthetic")
    summary = helpers.train_classifier(
        model,
        keras.optimizers.SGD(learning_rate),
        data,
        tmp_path,
        batch_size=100,
        epochs=1,
        steps_per_call=5,
    )
    costs = [json.loads(line)["cost"] for line in open(tmp_path / "metrics.jsonl")]
    return summary, costs


def test_logistic_regression_learns_an_easy_10_class_problem_in_one_epoch(tmp_path):
    # C3-6: the book's zero-initialised model and SGD(0.01) on synthetic MNIST-shaped data.
    from fdl_tf2.data import mnist

    model = feedforward.build_logistic_regression()
    summary, costs = _one_epoch(model, tmp_path, learning_rate=0.01)
    data = mnist.classification_data(dataset="synthetic")
    after = helpers.evaluate_classifier(
        model, data.dataset("train", batch_size=500, training=False)
    )
    assert after["accuracy"] >= 0.90
    assert after["cost"] < costs[-1] < np.log(10)  # Zero weights start at ln 10.


def test_mlp_loss_decreases_in_one_epoch(tmp_path):
    # C3-9: the book's MLP (269,322 parameters) on synthetic data.
    from fdl_tf2.data import mnist

    model = feedforward.build_mlp(seed=0)
    data = mnist.classification_data(dataset="synthetic")
    train_split = data.dataset("train", batch_size=500, training=False)
    initial_cost = helpers.evaluate_classifier(model, train_split)["cost"]
    _one_epoch(model, tmp_path, learning_rate=0.01)
    assert helpers.evaluate_classifier(model, train_split)["cost"] < 0.5 * initial_cost

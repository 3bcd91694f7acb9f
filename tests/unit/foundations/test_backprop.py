"""From-scratch backpropagation: spec ch01-03 checklist C2-4, C2-9 and the non-linear task."""

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.foundations import backprop as bp
from fdl_tf2.foundations import toy_data
from fdl_tf2.models import feedforward


def _problem(layer_sizes=(3, 5, 4, 2), num_examples=6, seed=0):
    rng = np.random.default_rng(seed)
    params = bp.init_mlp(layer_sizes, seed=seed, scale=2.0)
    params = [p + rng.normal(0.0, 0.3, p.shape) for p in params]  # Non-zero biases too.
    inputs = rng.normal(size=(num_examples, layer_sizes[0]))
    targets = rng.uniform(size=(num_examples, layer_sizes[-1]))
    return params, inputs, targets


def _tape_gradients(params, inputs, targets):
    variables = [tf.Variable(p, dtype=tf.float64) for p in params]
    with tf.GradientTape() as tape:
        outputs = tf.constant(inputs, dtype=tf.float64)
        for weights, biases in zip(variables[0::2], variables[1::2], strict=True):
            outputs = tf.sigmoid(outputs @ weights + biases)
        error = 0.5 * tf.reduce_sum((targets - outputs) ** 2)
    return float(error), [g.numpy() for g in tape.gradient(error, variables)]


# --- C2-4: backprop gradients -----------------------------------------------------------------


def test_backprop_matches_gradient_tape_to_1e_10_in_float64():
    params, inputs, targets = _problem()
    error, gradients = bp.backprop(params, inputs, targets)
    tape_error, tape_gradients = _tape_gradients(params, inputs, targets)
    assert error == pytest.approx(tape_error, abs=1e-12)
    assert [g.shape for g in gradients] == [p.shape for p in params]
    for ours, theirs in zip(gradients, tape_gradients, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


def test_backprop_matches_central_finite_differences():
    params, inputs, targets = _problem(seed=1)
    _, gradients = bp.backprop(params, inputs, targets)
    numeric = bp.numerical_gradients(lambda p: bp.loss(p, inputs, targets), params)
    for ours, theirs in zip(gradients, numeric, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-7)
    assert bp.max_gradient_error(params, inputs, targets) < 1e-7


def test_numerical_gradients_of_a_known_function():
    params = [np.array([1.0, -2.0]), np.array([[3.0]])]
    gradients = bp.numerical_gradients(lambda p: float(np.sum(p[0] ** 3) + p[1][0, 0] ** 2), params)
    np.testing.assert_allclose(gradients[0], [3.0, 12.0], rtol=1e-8)
    np.testing.assert_allclose(gradients[1], [[6.0]], rtol=1e-8)


def test_bias_as_a_weight_on_a_constant_input_matches_the_explicit_bias():
    params, inputs, targets = _problem(seed=2)
    error, gradients = bp.backprop(params, inputs, targets)
    augmented = bp.to_bias_as_weight(params)
    assert [a.shape for a in augmented] == [(4, 5), (6, 4), (5, 2)]
    augmented_error, augmented_gradients = bp.backprop_bias_as_weight(augmented, inputs, targets)
    assert augmented_error == pytest.approx(error, abs=1e-12)
    for ours, theirs in zip(augmented_gradients, bp.to_bias_as_weight(gradients), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_backprop_gradient_of_a_batch_is_the_sum_of_per_example_gradients():
    params, inputs, targets = _problem(seed=3)
    _, batch_gradients = bp.backprop(params, inputs, targets)
    per_example = [bp.backprop(params, inputs[k : k + 1], targets[k : k + 1])[1] for k in range(6)]
    for index, gradient in enumerate(batch_gradients):
        np.testing.assert_allclose(gradient, sum(g[index] for g in per_example), atol=1e-12)


def test_init_mlp_rejects_a_single_layer():
    with pytest.raises(ValueError, match=r"\(3,\)"):
        bp.init_mlp((3,))


# --- C2-9: the chapter-2 network has 24,790 parameters ----------------------------------------


def test_keras_784_30_30_10_network_has_exactly_24790_parameters():
    model = feedforward.build_mlp(hidden_units=(30, 30))
    assert model.count_params() == 24_790
    assert bp.parameter_count((784, 30, 30, 10)) == 24_790
    assert sum(p.size for p in bp.init_mlp((784, 30, 30, 10))) == 24_790


# --- Training: the from-scratch net learns a non-linear task ----------------------------------


def test_backprop_network_learns_the_circle_task_to_high_accuracy():
    inputs, labels = toy_data.two_d_classes("circle", 100, seed=0)
    test_inputs, test_labels = toy_data.two_d_classes("circle", 200, seed=1)
    params = bp.init_mlp((2, 8, 1), seed=0)
    losses = []
    trained = bp.train_mlp(
        params,
        inputs,
        labels[:, None],
        learning_rate=0.3,
        epochs=300,
        batch_size=10,
        on_epoch_end=lambda epoch, p: losses.append(bp.loss(p, inputs, labels[:, None])),
    )
    assert len(losses) == 300
    assert losses[-1] < 0.2 * losses[0]
    assert bp.accuracy(trained, inputs, labels) >= 0.95
    assert bp.accuracy(trained, test_inputs, test_labels) >= 0.93
    # A linear boundary cannot do this: the untrained start is near chance.
    assert bp.accuracy(params, test_inputs, test_labels) < 0.7

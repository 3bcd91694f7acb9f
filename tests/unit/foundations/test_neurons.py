"""Chapter 1 checklist C1-1 to C1-7 (spec ch01-03 §4.1): perceptron, neuron, activations."""

import keras
import numpy as np
import pytest

from fdl_tf2.foundations import neurons, toy_data

THETA = toy_data.EXAM_THETA  # [-24, 3, 4]: the book's exam perceptron (seed line 379).
GRID = np.linspace(-10.0, 10.0, 2001)  # Step 0.01 over the spec's range [-10, 10].


# --- C1-1: the exam perceptron ---------------------------------------------------------------


@pytest.mark.parametrize(
    "point, expected",
    [
        ([4.0, 3.0], 1.0),  # 3*4 + 4*3 - 24 = 0: on the line, and the boundary is inclusive.
        ([0.0, 0.0], -1.0),
        ([8.0, 0.0], 1.0),
        ([2.0, 2.0], -1.0),
    ],
)
def test_exam_perceptron_gives_the_book_label_of_each_point(point, expected):
    assert neurons.perceptron(point, THETA) == expected


def test_exam_perceptron_classifies_every_generated_exam_example():
    inputs, labels = toy_data.exam_data(500, seed=3)
    predictions = neurons.perceptron(inputs, THETA)
    assert predictions.shape == (500,)
    assert set(np.unique(labels)) == {-1, 1}  # Both classes are present.
    np.testing.assert_array_equal(predictions, labels)


def test_perceptron_accepts_any_batch_shape():
    inputs = np.array([[[4.0, 3.0], [0.0, 0.0]], [[8.0, 0.0], [2.0, 2.0]]])
    np.testing.assert_array_equal(neurons.perceptron(inputs, THETA), [[1, -1], [1, -1]])


def test_perceptron_rejects_a_theta_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"\(2,\)"):
        neurons.perceptron([1.0, 2.0], [3.0, 4.0])


# --- C1-2: a step neuron is the perceptron ---------------------------------------------------


def test_step_neuron_equals_the_perceptron_on_random_points():
    rng = np.random.default_rng(0)
    points = rng.uniform(-2.0, 10.0, size=(1000, 2))
    points[:3] = [[4.0, 3.0], [0.0, 6.0], [8.0, 0.0]]  # Points exactly on the boundary.
    from_neuron = neurons.neuron(points, THETA[1:], THETA[0], activation=neurons.step)
    np.testing.assert_array_equal(from_neuron, neurons.perceptron(points, THETA))
    assert np.all(from_neuron[:3] == 1.0)


def test_neuron_rejects_weights_that_do_not_match_the_inputs():
    with pytest.raises(ValueError, match=r"\(3,\)"):
        neurons.neuron(np.ones((4, 2)), np.ones(3), 0.0)


# --- C1-3: activations --------------------------------------------------------------------


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (neurons.sigmoid, keras.activations.sigmoid),
        (neurons.tanh, keras.activations.tanh),
        (neurons.relu, keras.activations.relu),
    ],
    ids=["sigmoid", "tanh", "relu"],
)
def test_activation_matches_keras_within_1e_6_on_minus_10_to_10(ours, theirs):
    expected = keras.ops.convert_to_numpy(theirs(keras.ops.convert_to_tensor(GRID, "float64")))
    np.testing.assert_allclose(ours(GRID), expected, rtol=0, atol=1e-6)


def test_sigmoid_of_zero_is_one_half_and_its_range_is_zero_to_one():
    assert neurons.sigmoid(0.0) == 0.5
    values = neurons.sigmoid(GRID)
    assert np.all((values > 0.0) & (values < 1.0))
    np.testing.assert_allclose(values + neurons.sigmoid(-GRID), 1.0, atol=1e-12)  # Symmetry.


def test_sigmoid_is_stable_for_huge_logits():
    with np.errstate(
        over="raise", invalid="raise", divide="raise"
    ):  # Overflow would raise; underflow to 0 is fine.
        values = neurons.sigmoid(np.array([-1000.0, -50.0, 50.0, 1000.0]))
    np.testing.assert_allclose(values, [0.0, 1.9287498479639178e-22, 1.0, 1.0], rtol=1e-12)


def test_tanh_is_odd_and_relu_clips_negatives():
    np.testing.assert_array_equal(neurons.tanh(-GRID), -neurons.tanh(GRID))
    assert neurons.tanh(0.0) == 0.0
    assert neurons.relu(-1.0) == 0.0
    assert neurons.relu(2.5) == 2.5
    np.testing.assert_array_equal(neurons.relu(GRID), np.where(GRID > 0, GRID, 0.0))


def test_linear_activation_is_a_z_plus_b():
    np.testing.assert_allclose(neurons.linear(GRID, a=2.5, b=-1.0), 2.5 * GRID - 1.0)
    np.testing.assert_array_equal(neurons.linear(GRID), GRID)


def test_step_activation_is_inclusive_at_zero():
    np.testing.assert_array_equal(neurons.step([-1e-9, 0.0, 1e-9]), [-1.0, 1.0, 1.0])


# --- C1-4: softmax --------------------------------------------------------------------------


def test_softmax_sums_to_one_and_matches_tf_nn_softmax():
    import tensorflow as tf

    logits = np.random.default_rng(1).normal(0.0, 5.0, size=(64, 10))
    probabilities = neurons.softmax(logits)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(probabilities, tf.nn.softmax(logits).numpy(), atol=1e-6)
    np.testing.assert_allclose(
        probabilities,
        keras.ops.convert_to_numpy(keras.activations.softmax(keras.ops.convert_to_tensor(logits))),
        atol=1e-6,
    )


def test_softmax_is_stable_for_large_logits():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_array_equal(neurons.softmax([1000.0, 1000.0]), [0.5, 0.5])
        extreme = neurons.softmax([[1000.0, -1000.0, 0.0], [-1e300, 1e300, 0.0]])
    assert not np.any(np.isnan(extreme))
    np.testing.assert_allclose(extreme, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], atol=1e-12)


def test_softmax_normalises_along_the_requested_axis():
    logits = np.random.default_rng(2).normal(size=(3, 4))
    np.testing.assert_allclose(neurons.softmax(logits, axis=0).sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(neurons.softmax(logits, axis=0), neurons.softmax(logits.T).T)


# --- C1-5: dense layer in matrix form --------------------------------------------------------


@pytest.mark.parametrize("activation", [neurons.linear, neurons.sigmoid, neurons.relu])
def test_batched_dense_layer_equals_the_per_sample_form(activation):
    rng = np.random.default_rng(3)
    inputs, weights, bias = rng.normal(size=(8, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
    batched = neurons.dense_layer(inputs, weights, bias, activation)
    # Per sample: y = f(W^T x + b), one neuron j at a time: f(sum_i W[i, j] x_i + b_j).
    per_sample = np.array(
        [
            [activation(sum(weights[i, j] * x[i] for i in range(5)) + bias[j]) for j in range(3)]
            for x in inputs
        ]
    )
    assert batched.shape == (8, 3)
    np.testing.assert_allclose(batched, per_sample, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        neurons.dense_layer(inputs[0], weights, bias, activation),
        activation(weights.T @ inputs[0] + bias),
        rtol=1e-12,
    )


def test_dense_layer_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"bias \(4,\)"):
        neurons.dense_layer(np.ones((2, 5)), np.ones((5, 3)), np.ones(4))


# --- C1-6: linear layers collapse to one -----------------------------------------------------


def test_stack_of_linear_layers_equals_the_collapsed_single_layer():
    rng = np.random.default_rng(4)
    widths = [6, 5, 4, 3]
    layers = [
        (rng.normal(size=(n, m)), rng.normal(size=m))
        for n, m in zip(widths[:-1], widths[1:], strict=True)
    ]
    inputs = rng.normal(size=(100, 6))
    stacked = inputs
    for weights, bias in layers:
        stacked = neurons.dense_layer(stacked, weights, bias, neurons.linear)
    weights, bias = neurons.collapse_linear_layers(layers)
    assert weights.shape == (6, 3) and bias.shape == (3,)
    np.testing.assert_allclose(neurons.dense_layer(inputs, weights, bias), stacked, atol=1e-10)


def test_two_collapsed_layers_follow_the_formula():
    rng = np.random.default_rng(5)
    w1, b1, w2, b2 = (
        rng.normal(size=(4, 3)),
        rng.normal(size=3),
        rng.normal(size=(3, 2)),
        rng.normal(size=2),
    )
    weights, bias = neurons.collapse_linear_layers([(w1, b1), (w2, b2)])
    np.testing.assert_allclose(weights, w1 @ w2)
    np.testing.assert_allclose(bias, b1 @ w2 + b2)


def test_collapse_does_not_hold_once_a_relu_is_in_between():
    rng = np.random.default_rng(6)
    layers = [
        (rng.normal(size=(2, 8)), rng.normal(size=8)),
        (rng.normal(size=(8, 1)), rng.normal(size=1)),
    ]
    inputs = rng.normal(size=(50, 2))
    hidden = neurons.dense_layer(inputs, *layers[0], activation=neurons.relu)
    nonlinear = neurons.dense_layer(hidden, *layers[1])
    collapsed = neurons.dense_layer(inputs, *neurons.collapse_linear_layers(layers))
    assert np.max(np.abs(nonlinear - collapsed)) > 0.1


def test_collapse_rejects_layers_that_do_not_chain():
    with pytest.raises(ValueError, match="width 3"):
        neurons.collapse_linear_layers(
            [(np.ones((2, 3)), np.ones(3)), (np.ones((4, 1)), np.ones(1))]
        )
    with pytest.raises(ValueError):
        neurons.collapse_linear_layers([])


# --- C1-7: the fast-food neuron --------------------------------------------------------------


def test_fast_food_neuron_outputs_the_bill_of_integer_orders():
    orders, bills = toy_data.fast_food_orders(200, seed=7)
    prices = toy_data.FAST_FOOD_PRICES
    np.testing.assert_array_equal(neurons.fast_food_bill(orders, prices), bills)
    # By hand: 2 burgers, 1 fries, 3 sodas at 5, 2 and 3.
    assert neurons.fast_food_bill([2, 1, 3], prices) == 2 * 5 + 1 * 2 + 3 * 3

"""Chapter 2 gradient descent from scratch: spec ch01-03 checklist C2-1 to C2-3 and C2-5 to C2-8."""

import math

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.foundations import gradient_descent as gd
from fdl_tf2.foundations import toy_data

# --- C2-1: squared error ----------------------------------------------------------------------


def test_squared_error_is_half_the_sum_of_squared_differences():
    targets = np.array([1.0, 2.0, 3.0])
    outputs = np.array([1.5, 0.0, 3.0])
    assert gd.squared_error(targets, outputs) == pytest.approx(0.5 * (0.25 + 4.0 + 0.0), abs=0)


def test_squared_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(3,\)"):
        gd.squared_error(np.zeros(3), np.zeros(2))


# --- C2-2: the delta rule on the fast-food neuron ---------------------------------------------


def test_delta_rule_recovers_the_fast_food_prices():
    orders, bills = toy_data.fast_food_orders(50, seed=0)
    weights, errors = gd.train_linear_neuron(orders, bills, learning_rate=1e-3, num_steps=500)
    np.testing.assert_allclose(weights, toy_data.FAST_FOOD_PRICES, atol=1e-3)
    assert errors[-1] < 1e-6 * errors[0]


def test_delta_rule_converges_to_the_least_squares_solution():
    orders, bills = toy_data.fast_food_orders(50, seed=1)
    noisy_bills = bills + np.random.default_rng(1).normal(0.0, 0.5, bills.shape)
    weights, _ = gd.train_linear_neuron(orders, noisy_bills, learning_rate=1e-3, num_steps=1000)
    least_squares = np.linalg.lstsq(orders, noisy_bills, rcond=None)[0]
    np.testing.assert_allclose(weights, least_squares, atol=1e-8)
    # With noise the answer is not the true prices, so this really tests least squares.
    assert np.max(np.abs(least_squares - toy_data.FAST_FOOD_PRICES)) > 1e-3


def test_one_delta_rule_update_equals_minus_learning_rate_times_the_tape_gradient():
    orders, bills = toy_data.fast_food_orders(10, seed=2)
    weights = np.array([1.0, -0.5, 2.0])
    learning_rate = 0.01
    variable = tf.Variable(weights, dtype=tf.float64)
    with tf.GradientTape() as tape:
        error = 0.5 * tf.reduce_sum((bills - tf.linalg.matvec(orders, variable)) ** 2)
    expected = weights - learning_rate * tape.gradient(error, variable).numpy()
    np.testing.assert_allclose(
        gd.delta_rule_update(weights, orders, bills, learning_rate), expected, rtol=0, atol=1e-12
    )


def test_delta_rule_sums_rather_than_averages_over_examples():
    inputs = np.ones((4, 1))
    targets = np.full(4, 2.0)
    # Four examples each pulling by eps * (2 - 0) = 0.2: the summed step is 0.8, not 0.2.
    np.testing.assert_allclose(gd.delta_rule_update(np.zeros(1), inputs, targets, 0.1), [0.8])


# --- C2-3: the sigmoid neuron -----------------------------------------------------------------


def test_sigmoid_neuron_gradient_matches_gradient_tape_in_float64():
    rng = np.random.default_rng(3)
    inputs = rng.normal(size=(7, 4))
    targets = rng.uniform(size=7)
    weights = rng.normal(size=4)
    variable = tf.Variable(weights, dtype=tf.float64)
    with tf.GradientTape() as tape:
        outputs = tf.sigmoid(tf.linalg.matvec(inputs, variable))
        error = 0.5 * tf.reduce_sum((targets - outputs) ** 2)
    np.testing.assert_allclose(
        gd.sigmoid_neuron_gradient(weights, inputs, targets),
        tape.gradient(error, variable).numpy(),
        rtol=0,
        atol=1e-10,
    )


def test_sigmoid_derivative_is_y_times_one_minus_y():
    logits = tf.constant(np.linspace(-6.0, 6.0, 25), dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        outputs = tf.sigmoid(logits)
    tape_derivative = tape.gradient(outputs, logits).numpy()
    y = gd.sigmoid(logits.numpy())
    np.testing.assert_allclose(gd.sigmoid_derivative(logits.numpy()), y * (1 - y), atol=1e-15)
    np.testing.assert_allclose(gd.sigmoid_derivative(logits.numpy()), tape_derivative, atol=1e-12)


# --- C2-5: batch, stochastic and minibatch gradient descent -----------------------------------


def _linear_problem(num_examples=10):
    orders, bills = toy_data.fast_food_orders(num_examples, seed=4)
    gradient = lambda weights, x, t: -x.T @ (t - x @ weights)  # noqa: E731 (summed, line 603).
    return orders, bills, gradient


@pytest.mark.parametrize("batch_size", [1, 3, 4, 10])
@pytest.mark.parametrize("drop_remainder", [False, True])
def test_one_epoch_performs_ceil_or_floor_of_d_over_b_updates(batch_size, drop_remainder):
    orders, bills, gradient = _linear_problem(10)
    history = gd.gradient_descent(
        np.zeros(3),
        gradient,
        (orders, bills),
        batch_size=batch_size,
        learning_rate=1e-3,
        epochs=2,
        drop_remainder=drop_remainder,
    )
    expected = 10 // batch_size if drop_remainder else math.ceil(10 / batch_size)
    assert history.updates_per_epoch == [expected, expected]
    assert len(history.params_history) == 2 * expected + 1
    assert sum(history.batch_sizes) == 2 * (expected * batch_size if drop_remainder else 10)


def test_batch_gradient_descent_equals_the_delta_rule():
    orders, bills, gradient = _linear_problem(10)
    history = gd.gradient_descent(
        np.zeros(3), gradient, (orders, bills), batch_size=10, learning_rate=1e-3, epochs=3
    )
    weights = np.zeros(3)
    for _ in range(3):
        weights = gd.delta_rule_update(weights, orders, bills, 1e-3)
    np.testing.assert_allclose(history.params, weights, atol=1e-12)


def test_stochastic_gradient_descent_steps_on_one_example_at_a_time():
    orders, bills, gradient = _linear_problem(5)
    history = gd.gradient_descent(
        np.zeros(3),
        gradient,
        (orders, bills),
        batch_size=1,
        learning_rate=1e-3,
        epochs=1,
        shuffle=False,
    )
    weights = np.zeros(3)
    for example in range(5):
        weights = gd.delta_rule_update(
            weights, orders[example : example + 1], bills[example : example + 1], 1e-3
        )
        np.testing.assert_allclose(history.params_history[example + 1], weights, atol=1e-12)


def test_gradient_descent_handles_lists_of_arrays_and_records_losses():
    data = (np.arange(6.0), np.zeros(6))
    history = gd.gradient_descent(
        [np.array(1.0), np.array([2.0])],
        lambda params, x, t: [2 * params[0], 2 * params[1]],
        data,
        batch_size=2,
        learning_rate=0.25,
        epochs=1,
        loss_fn=lambda params, x, t: float(params[0] ** 2 + params[1][0] ** 2),
    )
    # Each step halves both parameters: three steps give 1/8 and 2/8.
    np.testing.assert_allclose(history.params[0], 0.125)
    np.testing.assert_allclose(history.params[1], [0.25])
    np.testing.assert_allclose(history.losses, [5.0, 1.25, 0.3125, 0.078125])


def test_gradient_descent_rejects_a_batch_size_outside_one_to_d():
    orders, bills, gradient = _linear_problem(10)
    for batch_size in (0, 11):
        with pytest.raises(ValueError, match=str(batch_size)):
            gd.gradient_descent(
                np.zeros(3), gradient, (orders, bills), batch_size=batch_size,
                learning_rate=1e-3, epochs=1,
            )  # fmt: skip


# --- C2-6: the learning rate on the quadratic bowl --------------------------------------------


def test_small_learning_rate_lowers_the_bowl_error_monotonically():
    bowl = gd.DEMO_BOWL
    path = gd.bowl_trajectory(bowl, [-2.0, 4.0], 0.1, 200)
    errors = bowl.loss(path)
    assert np.all(np.diff(errors) < 0)
    assert errors[-1] < 1e-6 * errors[0]


def test_learning_rate_above_two_over_lambda_max_diverges():
    bowl = gd.DEMO_BOWL
    assert bowl.max_curvature == pytest.approx(2 + np.sqrt(2), rel=1e-12)
    start = np.array([-2.0, 4.0])
    below = gd.bowl_trajectory(bowl, start, 0.98 * bowl.critical_learning_rate, 400)
    above = gd.bowl_trajectory(bowl, start, 1.02 * bowl.critical_learning_rate, 400)
    assert bowl.loss(below[-1]) < 1e-3 * bowl.loss(start)
    assert bowl.loss(above[-1]) > 1e3 * bowl.loss(start)


def test_linear_neuron_error_is_a_quadratic_bowl():
    orders, bills = toy_data.fast_food_orders(8, seed=5)
    bills = bills + np.random.default_rng(5).normal(0.0, 0.3, bills.shape)
    bowl = gd.linear_neuron_bowl(orders, bills)
    weights = np.random.default_rng(6).normal(size=(4, 3))
    expected = [gd.squared_error(bills, orders @ w) for w in weights]
    np.testing.assert_allclose(bowl.loss(weights), expected, rtol=1e-10)
    np.testing.assert_allclose(bowl.gradient(weights[0]), -orders.T @ (bills - orders @ weights[0]))


# --- C2-7: batch GD stalls on a plateau, stochastic GD escapes (illustrative) -----------------


def test_batch_gradient_descent_stalls_on_the_plateau_and_stochastic_escapes():
    plateau = gd.PlateauLoss.make(20, seed=0)
    np.testing.assert_allclose(plateau.example_losses(0.7).mean(), plateau.batch_loss(0.7))
    start = 2.5  # Five well widths from the minimum: E = 1 - 4e-6.
    batch = plateau.descend(start, batch_size=20, learning_rate=0.3, epochs=30)
    stochastic = plateau.descend(start, batch_size=1, learning_rate=0.3, epochs=30)
    assert abs(batch[-1] - start) < 1e-3
    assert plateau.batch_loss(batch[-1]) > 0.999
    assert np.mean(plateau.batch_loss(stochastic[-20:])) < 0.3


# --- C2-8: overfitting a degree-12 polynomial -------------------------------------------------


def test_degree_12_polynomial_fits_training_points_better_but_fresh_points_worse():
    x, y = toy_data.noisy_line(15, seed=0)
    fresh_x, fresh_y = toy_data.noisy_line(200, seed=1)
    linear = gd.polynomial_fit(x, y, 1)
    degree_12 = gd.polynomial_fit(x, y, 12)
    train_linear = gd.mean_squared_error(y, gd.polynomial_predict(linear, x))
    train_12 = gd.mean_squared_error(y, gd.polynomial_predict(degree_12, x))
    fresh_linear = gd.mean_squared_error(fresh_y, gd.polynomial_predict(linear, fresh_x))
    fresh_12 = gd.mean_squared_error(fresh_y, gd.polynomial_predict(degree_12, fresh_x))
    assert train_12 < train_linear
    assert fresh_12 > fresh_linear
    # The linear fit is close to the true line y = 2x + 1.
    np.testing.assert_allclose(linear.convert().coef, [1.0, 2.0], atol=0.3)

"""Tests of the chapter-7 RNN basics (spec ch06-07 §5.3 items 24-26, errata 22-25, 33): the
scalar RNN's input gradients against NumPy's chain rule and the book's bound, `BookLSTMCell`
against NumPy and `keras.layers.LSTMCell`, the weight conversions, and the TF1 -> Keras map.

Sizes are tiny (1-8 units, a handful of steps) so that the file runs in seconds.
"""

import inspect

import keras
import numpy as np
import pytest

from fdl_tf2.models import recurrent

# --- NumPy references -------------------------------------------------------------------------


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


_NUMPY = {
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "logistic": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64)),
}


def _numpy_pre_activations(w_in, w_rec, inputs, activation):
    """z(1), ..., z(T) of the scalar RNN, `(T,)`, with h(0) = 0."""
    function, _ = _NUMPY[activation]
    state, pre_activations = 0.0, []
    for value in inputs:
        z = w_in * value + w_rec * state
        pre_activations.append(z)
        state = function(z)
    return np.array(pre_activations)


def _numpy_chain_rule(w_in, w_rec, inputs, activation):
    """|dh(T)/di(T - k)| = |w_in f'(z(T-k)) prod_{s=T-k+1..T} w_rec f'(z(s))|, k = 0..T-1."""
    _, derivative = _NUMPY[activation]
    slopes = derivative(_numpy_pre_activations(w_in, w_rec, inputs, activation))  # (T,)
    steps = len(inputs)
    gradients = []
    for k in range(steps):
        t = steps - 1 - k  # 0-based index of i(T - k).
        gradients.append(abs(w_in * slopes[t] * np.prod(w_rec * slopes[t + 1 :])))
    return np.array(gradients)


def _numpy_book_lstm_step(x, h, c, kernel, bias, forget_bias):
    """One step of the book's gate equations, TF1 layout (i, j, f, o)."""
    i, j, f, o = np.split(np.concatenate([x, h], axis=-1) @ kernel + bias, 4, axis=-1)
    new_c = c * _sigmoid(f + forget_bias) + _sigmoid(i) * np.tanh(j)
    return _sigmoid(o) * np.tanh(new_c), new_c


def _inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


# --- Scalar RNN: gradients against NumPy and the bound ------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "logistic", "relu"])
def test_scalar_rnn_states_follow_the_books_recursion(activation):
    inputs = _inputs(9)
    function, _ = _NUMPY[activation]
    expected = function(_numpy_pre_activations(0.7, -0.6, inputs, activation))
    states = recurrent.scalar_rnn(0.7, -0.6, inputs, activation)
    np.testing.assert_allclose(states.numpy(), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", ["tanh", "logistic", "relu"])
@pytest.mark.parametrize("w_in, w_rec", [(0.5, 0.9), (1.3, -0.7), (0.1, 1.5)])
def test_measured_gradients_equal_the_numpy_chain_rule_product(activation, w_in, w_rec):
    inputs = _inputs(12, seed=3)
    measured = recurrent.input_gradients(w_in, w_rec, inputs, activation)
    assert measured.shape == (12,) and measured.dtype == np.float64
    expected = _numpy_chain_rule(w_in, w_rec, inputs, activation)
    np.testing.assert_allclose(measured, expected, rtol=1e-6, atol=1e-300)


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
@pytest.mark.parametrize("w_rec", [0.5, 0.9, -0.8, 1.0, 1.5])
def test_every_measured_gradient_is_at_most_the_bound(activation, w_rec):
    w_in = -0.4  # Negative on purpose: the bound needs |w_in| (errata 22).
    lags = np.arange(15)
    measured = recurrent.input_gradients(w_in, w_rec, 2.0 * _inputs((6, 15)), activation)
    assert np.all(measured <= recurrent.gradient_bound(w_in, w_rec, lags) * (1 + 1e-12))
    tight = recurrent.MAX_DERIVATIVE[activation]
    assert np.all(measured <= recurrent.gradient_bound(w_in, w_rec, lags, tight) * (1 + 1e-12))


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
@pytest.mark.parametrize("w_rec", [0.5, 0.9, -0.9])
def test_gradients_decay_geometrically_when_w_rec_is_below_one(activation, w_rec):
    # grad(k + 1) / grad(k) = |w_rec f'(z(T - k - 1))| <= |w_rec| < 1 for every k.
    measured = recurrent.input_gradients(0.5, w_rec, _inputs((4, 20), seed=1), activation)
    ratios = measured[:, 1:] / measured[:, :-1]
    assert np.all(ratios < abs(w_rec) * recurrent.MAX_DERIVATIVE[activation] + 1e-12)
    assert np.all(np.diff(measured, axis=1) < 0)  # Strictly decreasing in k.
    assert np.all(measured[:, -1] <= abs(w_rec) ** 19 * measured[:, 0] * (1 + 1e-9))


def test_small_weights_make_the_tanh_bound_nearly_tight():
    # Near 0, tanh' ~ 1: the gradient is the book's bound up to a product of slopes ~ 1.
    measured = recurrent.input_gradients(0.01, 0.9, _inputs(10), "tanh")
    bound = recurrent.gradient_bound(0.01, 0.9, np.arange(10))
    assert np.all(measured <= bound)
    np.testing.assert_allclose(measured, bound, rtol=1e-2)


def test_a_batch_of_sequences_gets_each_sequences_own_gradients():
    inputs = _inputs((3, 8), seed=2)
    batched = recurrent.input_gradients(0.8, 0.7, inputs, "tanh")
    for row, sequence in zip(batched, inputs, strict=True):
        np.testing.assert_allclose(row, recurrent.input_gradients(0.8, 0.7, sequence, "tanh"))


def test_gradient_bound_matches_hand_computed_values():
    np.testing.assert_allclose(recurrent.gradient_bound(-0.5, -0.9, 2), 0.9**2 * 0.5)
    np.testing.assert_allclose(recurrent.gradient_bound(2.0, 0.5, [0, 1, 3]), [2.0, 1.0, 0.25])
    np.testing.assert_allclose(
        recurrent.gradient_bound(1.0, 0.5, 1, max_derivative=0.25), 0.25**2 * 0.5
    )


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="softsign"):
        recurrent.input_gradients(1.0, 0.5, np.ones(3), "softsign")


# --- BookLSTMCell ---------------------------------------------------------------------------------


def _keras_cell(units=4, features=3, seed=0):
    """A built Keras LSTMCell with random weights, including a random bias."""
    cell = keras.layers.LSTMCell(
        units,
        kernel_initializer=keras.initializers.RandomNormal(seed=seed),
        recurrent_initializer=keras.initializers.RandomNormal(seed=seed + 1),
        bias_initializer=keras.initializers.RandomNormal(seed=seed + 2),
    )
    cell.build((None, features))
    return cell


def _unroll(cell, inputs, **call_options):
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    return [np.asarray(tensor) for tensor in rnn(inputs, **call_options)]


def test_book_cell_is_the_books_gate_equations_in_numpy():
    units, features, forget_bias = 3, 2, 1.0
    cell = recurrent.BookLSTMCell(units, forget_bias=forget_bias, bias_initializer="random_normal")
    cell.build((None, features))
    rng = np.random.default_rng(0)
    x, h, c = (rng.normal(size=(5, n)).astype(np.float32) for n in (features, units, units))
    output, (new_h, new_c) = cell(x, [h, c])
    assert tuple(cell.kernel.shape) == (features + units, 4 * units)
    assert tuple(cell.bias.shape) == (4 * units,)
    expected_h, expected_c = _numpy_book_lstm_step(
        x, h, c, np.asarray(cell.kernel), np.asarray(cell.bias), forget_bias
    )
    np.testing.assert_allclose(np.asarray(output), expected_h, atol=1e-6)
    np.testing.assert_allclose(np.asarray(new_h), expected_h, atol=1e-6)
    np.testing.assert_allclose(np.asarray(new_c), expected_c, atol=1e-6)


@pytest.mark.parametrize("forget_bias", [1.0, 0.0, 0.3])
def test_book_cell_equals_keras_lstm_cell_over_an_unroll(forget_bias):
    keras_cell = _keras_cell(units=4, features=3)
    book_cell = recurrent.from_keras_lstm_cell(keras_cell, forget_bias=forget_bias)
    inputs = _inputs((2, 6, 3)).astype(np.float32)
    initial = [_inputs((2, 4), seed=s).astype(np.float32) for s in (5, 6)]  # [h, c]
    for options in ({}, {"initial_state": initial}):
        expected = _unroll(keras_cell, inputs, **options)  # outputs, h, c
        got = _unroll(book_cell, inputs, **options)
        for name, a, b in zip(("outputs", "h", "c"), expected, got, strict=True):
            np.testing.assert_allclose(b, a, atol=1e-6, err_msg=name)


def test_tf1_layout_weights_with_forget_bias_convert_into_a_keras_cell():
    units, features = 3, 2
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(features + units, 4 * units)).astype(np.float32)  # (i, j, f, o)
    bias = rng.normal(size=4 * units).astype(np.float32)
    book_cell = recurrent.BookLSTMCell(units, forget_bias=1.0)
    book_cell.build((None, features))
    book_cell.kernel.assign(kernel)
    book_cell.bias.assign(bias)
    keras_cell = keras.layers.LSTMCell(units)
    keras_cell.build((None, features))
    keras_kernel, keras_recurrent, keras_bias = recurrent.book_to_keras_weights(
        kernel, bias, features, forget_bias=1.0
    )
    keras_cell.set_weights([keras_kernel, keras_recurrent, keras_bias])
    # By hand: Keras (i, f, c, o) = TF1 (i, f + 1, j, o).
    i, j, f, o = np.split(bias, 4)
    np.testing.assert_allclose(keras_bias, np.concatenate([i, f + 1.0, j, o]))
    forget_columns = slice(2 * units, 3 * units)  # TF1's f block is Keras's second block.
    np.testing.assert_array_equal(
        keras_kernel[:, units : 2 * units], kernel[:features, forget_columns]
    )
    inputs = _inputs((3, 5, features)).astype(np.float32)
    for a, b in zip(_unroll(keras_cell, inputs), _unroll(book_cell, inputs), strict=True):
        np.testing.assert_allclose(b, a, atol=1e-6)
    for a, b in zip(book_cell.keras_weights(), keras_cell.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-7)


def test_unit_forget_bias_init_is_the_tf1_forget_bias_with_a_zero_bias():
    keras_cell = keras.layers.LSTMCell(5, unit_forget_bias=True)
    keras_cell.build((None, 2))
    book_cell = recurrent.from_keras_lstm_cell(keras_cell, forget_bias=1.0)
    np.testing.assert_array_equal(np.asarray(book_cell.bias), np.zeros(20))
    fresh = recurrent.BookLSTMCell(5)  # Default: forget_bias 1.0, zero bias.
    fresh.build((None, 2))
    np.testing.assert_array_equal(np.asarray(fresh.bias), np.asarray(book_cell.bias))


def test_gate_blocks_are_swapped_and_the_conversion_round_trips():
    units, features = 2, 3
    blocks = np.repeat(np.arange(4.0), units)  # Column block b holds the value b.
    kernel = np.tile(blocks, (features, 1))
    recurrent_kernel = np.tile(blocks + 10.0, (units, 1))
    book_kernel, book_bias = recurrent.keras_to_book_weights(
        kernel, recurrent_kernel, blocks, forget_bias=0.0
    )
    order = [0, 2, 1, 3]  # Keras (i, f, c, o) blocks as TF1 (i, j, f, o).
    np.testing.assert_array_equal(book_kernel[:features], np.tile(np.repeat(order, units), (3, 1)))
    np.testing.assert_array_equal(book_kernel[features:, ::units], [np.add(order, 10.0)] * units)
    np.testing.assert_array_equal(book_bias, np.repeat(order, units).astype(float))
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=s) for s in ((features, 4 * units), (units, 4 * units), (8,))]
    back = recurrent.book_to_keras_weights(
        *recurrent.keras_to_book_weights(*weights, forget_bias=0.7), features, forget_bias=0.7
    )
    for a, b in zip(back, weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_set_weights_from_keras_rejects_unbuilt_mismatched_and_other_activations():
    book_cell = recurrent.BookLSTMCell(4)
    book_cell.build((None, 3))
    with pytest.raises(ValueError, match="Build"):
        book_cell.set_weights_from_keras(keras.layers.LSTMCell(4))
    with pytest.raises(ValueError, match="Size mismatch"):
        book_cell.set_weights_from_keras(_keras_cell(units=4, features=2))
    relu_cell = keras.layers.LSTMCell(4, activation="relu")
    relu_cell.build((None, 3))
    with pytest.raises(ValueError, match="tanh / sigmoid"):
        book_cell.set_weights_from_keras(relu_cell)


def test_book_cell_masks_like_keras_inside_rnn_and_round_trips_its_config(tmp_path):
    keras_cell = _keras_cell(units=3, features=2)
    book_cell = recurrent.from_keras_lstm_cell(keras_cell)
    inputs = _inputs((2, 5, 2)).astype(np.float32)
    mask = np.array([[True] * 5, [True, True, False, False, False]])
    outputs, h, c = _unroll(book_cell, inputs, mask=mask)
    for got, expected in zip((outputs, h, c), _unroll(keras_cell, inputs, mask=mask), strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-6)
    # A masked step keeps the state: the short sequence ends where its two real steps end.
    _, short_h, short_c = _unroll(book_cell, inputs[1:, :2])
    np.testing.assert_allclose(h[1:], short_h, atol=1e-6)
    np.testing.assert_allclose(c[1:], short_c, atol=1e-6)

    config = book_cell.get_config()
    assert config["units"] == 3 and config["forget_bias"] == 1.0
    clone = recurrent.BookLSTMCell.from_config(config)
    assert clone.get_config() == config and clone.state_size == [3, 3] and clone.output_size == 3

    sequence = keras.Input((None, 2))
    masked = keras.layers.Masking(mask_value=0.0)(sequence)
    model = keras.Model(sequence, keras.layers.RNN(book_cell)(masked))
    padded = inputs.copy()
    padded[1, 2:] = 0.0
    path = tmp_path / "book_lstm.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.layers[-1].cell, recurrent.BookLSTMCell)
    np.testing.assert_allclose(np.asarray(reloaded(padded)), np.asarray(model(padded)), atol=1e-7)
    np.testing.assert_allclose(np.asarray(model(padded))[1], short_h[0], atol=1e-6)


# --- TF1 primitives -> Keras 3 --------------------------------------------------------------------


def test_primitives_demo_returns_the_books_shapes_for_every_row():
    batch, time, features, units = 3, 5, 4, 2
    rows = recurrent.rnn_primitives_demo(batch, time, features, units)
    assert [row.tf1 for row in rows] == [row.tf1 for row in recurrent.TF1_TO_KERAS]
    sequence, state = (batch, time, units), (batch, units)
    expected = {
        "BasicRNNCell": (sequence, (state,)),
        "BasicLSTMCell": (sequence, (state, state)),
        "LSTMCell(use_peepholes": (None, None),
        "GRUCell": (sequence, (state,)),
        "MultiRNNCell([": (sequence, ((state, state), (state, state))),
        "MultiRNNCell (as layers)": (sequence, (state, state)),
        "DropoutWrapper": (sequence, (state, state)),
        "dynamic_rnn(cell, inputs, time_major": ((time, batch, units), (state, state)),
        "dynamic_rnn(cell, inputs, initial_state": (sequence, (state, state)),
        "dynamic_rnn(cell, inputs, sequence_length": (sequence, (state, state)),
    }
    for row, (prefix, shapes) in zip(rows, expected.items(), strict=True):
        assert row.tf1.startswith(prefix), (row.tf1, prefix)
        assert (row.output_shape, row.state_shapes) == shapes, row.tf1


def test_primitives_demo_rejects_empty_sizes():
    with pytest.raises(ValueError, match="Sizes"):
        recurrent.rnn_primitives_demo(batch=0)


def test_gru_reset_after_changes_the_bias_shape_and_the_function():
    units, features = 3, 2
    cells = {flag: keras.layers.GRUCell(units, reset_after=flag) for flag in (False, True)}
    for cell in cells.values():
        cell.build((None, features))
    assert tuple(cells[False].bias.shape) == (3 * units,)  # TF1 GRUCell parity.
    assert tuple(cells[True].bias.shape) == (2, 3 * units)  # Keras default (cuDNN variant).
    for flag in (False, True):
        assert tuple(cells[flag].kernel.shape) == (features, 3 * units)
        assert tuple(cells[flag].recurrent_kernel.shape) == (units, 3 * units)
    # Same kernels, zero biases: the reset gate before vs after the recurrent matmul differs.
    cells[True].set_weights([*cells[False].get_weights()[:2], np.zeros((2, 3 * units))])
    cells[False].bias.assign(np.zeros(3 * units))
    rng = np.random.default_rng(0)
    x, h = rng.normal(size=(4, features)), rng.normal(size=(4, units))
    before = np.asarray(cells[False](x.astype(np.float32), [h.astype(np.float32)])[0])
    after = np.asarray(cells[True](x.astype(np.float32), [h.astype(np.float32)])[0])
    assert np.max(np.abs(before - after)) > 1e-3


def test_keras_masks_repeat_the_last_output_unless_zero_output_for_mask():
    cell = _keras_cell(units=2, features=3)
    inputs = _inputs((2, 4, 3)).astype(np.float32)
    mask = np.array([[True] * 4, [True, False, False, False]])
    repeated, _, _ = _unroll(cell, inputs, mask=mask)
    np.testing.assert_array_equal(repeated[1, 1:], np.repeat(repeated[1, :1], 3, axis=0))
    zeroed_rnn = keras.layers.RNN(cell, return_sequences=True, zero_output_for_mask=True)
    zeroed = np.asarray(zeroed_rnn(inputs, mask=mask))
    np.testing.assert_array_equal(zeroed[1, 1:], np.zeros((3, 2)))  # TF1 dynamic_rnn.
    np.testing.assert_allclose(zeroed[:, 0], repeated[:, 0], atol=1e-7)


def test_keras_3_rnn_has_no_time_major_argument():
    assert "time_major" not in inspect.signature(keras.layers.RNN.__init__).parameters


def test_a_repeated_cell_shares_its_weights_or_fails_in_stacked_rnn_cells():
    same = recurrent.shared_cell_stack_demo(features=4, units=4)
    one_cell = 4 * 4 * (4 + 4 + 1)  # 4 gates x units x (features + units + bias).
    assert same.error is None
    assert same.num_weight_variables == 3  # One kernel, recurrent kernel and bias for both.
    assert same.num_parameters == one_cell and same.distinct_num_parameters == 2 * one_cell
    different = recurrent.shared_cell_stack_demo(features=4, units=2)
    assert different.error is not None and different.error.startswith("InvalidArgumentError")
    assert different.distinct_num_parameters == 4 * 2 * (4 + 2 + 1) + 4 * 2 * (2 + 2 + 1)

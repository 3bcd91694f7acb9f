"""DNCCell: interface offsets, parameter counts, initial state, and a full step against NumPy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.memory import dnc, reference


def test_interface_sizes():
    assert dnc.interface_size(num_reads=4, word_size=64) == 471
    assert dnc.interface_size(num_reads=1, word_size=10) == 48


def test_parse_interface_uses_the_repository_offsets():
    """R=4, W=64 on zeta = 0, 1, ..., 470: each field holds the indices of spec §1.13."""
    reads, width = 4, 64
    zeta = tf.constant(np.arange(471, dtype=np.float32)[None])
    parsed = dnc.parse_interface(zeta, reads, width)
    # Read keys `reshape(zeta[0:256], [W, R])`: head r, component w is zeta[w * R + r].
    np.testing.assert_array_equal(parsed.read_keys[0, 1, :3], [1, 5, 9])
    assert parsed.read_keys.shape == (1, 4, 64)
    np.testing.assert_allclose(parsed.read_strengths[0], 1 + np.log1p(np.exp(np.arange(256, 260))))
    np.testing.assert_array_equal(parsed.write_key[0, 0], np.arange(260, 324))
    np.testing.assert_allclose(parsed.write_strength[0], [325.0])  # oneplus(324) = 325
    np.testing.assert_allclose(parsed.erase_vector[0], np.ones(64))  # sigmoid(325...) = 1
    np.testing.assert_array_equal(parsed.write_vector[0], np.arange(389, 453))
    assert parsed.free_gates.shape == (1, 4) and parsed.allocation_gate.shape == (1,)
    # Read modes `reshape(zeta[459:471], [3, R])`, softmax over the 3 modes: head r's modes are
    # zeta[459 + r], zeta[463 + r], zeta[467 + r], so "forward" (+8) dominates.
    np.testing.assert_allclose(np.sum(parsed.read_modes[0], axis=-1), np.ones(4), atol=1e-6)
    assert np.all(np.argmax(parsed.read_modes[0], axis=-1) == 2)

    small = np.random.default_rng(0).normal(size=(1, 471)).astype(np.float32)
    parsed = dnc.parse_interface(tf.constant(small), reads, width)
    modes = np.exp(small[0, 459:].reshape(3, 4))
    np.testing.assert_allclose(parsed.read_modes[0], (modes / modes.sum(0)).T, rtol=1e-5)
    np.testing.assert_allclose(
        parsed.free_gates[0], 1 / (1 + np.exp(-small[0, 453:457])), rtol=1e-5
    )
    np.testing.assert_allclose(
        parsed.allocation_gate[0], 1 / (1 + np.exp(-small[0, 457])), rtol=1e-5
    )
    np.testing.assert_allclose(parsed.write_gate[0], 1 / (1 + np.exp(-small[0, 458])), rtol=1e-5)
    with pytest.raises(ValueError, match="471"):
        dnc.parse_interface(tf.zeros((1, 470)), reads, width)


def test_book_size_parameter_count():
    """bAbI DNC: LSTM(256) on 159 + 4*64 inputs, W_y, W_zeta (471), W_r, no biases."""
    cell = dnc.DNCCell(output_size=159, memory_size=256, word_size=64, num_reads=4)
    layer = keras.layers.RNN(cell, return_sequences=True)
    layer.build((None, None, 159))
    lstm = 4 * 256 * (159 + 256 + 256 + 1)
    assert lstm == 688_128
    assert layer.count_params() == lstm + 256 * 159 + 256 * 471 + 256 * 159 == 890_112


def test_initial_state_is_the_repository_init_memory():
    cell = dnc.DNCCell(
        output_size=6, memory_size=10, word_size=10, num_reads=1, controller="feedforward"
    )
    _, memory, reads = cell.unpack_state(cell.get_initial_state(batch_size=2))
    np.testing.assert_array_equal(memory.memory, np.full((2, 10, 10), 1e-6, np.float32))
    np.testing.assert_array_equal(memory.read_weights, np.full((2, 1, 10), 1e-6, np.float32))
    np.testing.assert_array_equal(memory.write_weights, np.full((2, 10), 1e-6, np.float32))
    np.testing.assert_array_equal(reads, np.full((2, 1, 10), 1e-6, np.float32))
    for zeros in (memory.link, memory.precedence, memory.usage):
        assert not np.any(zeros)


def _numpy_step(cell, x, state):
    """One feed-forward-controller DNC step from the layer's weights and the NumPy reference."""
    kernel_1, bias_1, kernel_2, bias_2 = (
        w.numpy().astype(np.float64) for w in cell.controller.weights
    )
    reads = state.pop("read_vectors")
    chi = np.concatenate([x, reads.T.reshape(-1)])  # word-major flattening
    hidden = np.maximum(np.maximum(chi @ kernel_1 + bias_1, 0) @ kernel_2 + bias_2, 0)
    zeta = hidden @ cell.interface_kernel.numpy().astype(np.float64)
    parsed = dnc.parse_interface(tf.constant(zeta[None]), cell.num_reads, cell.word_size)
    interface = {name: np.asarray(v[0], np.float64) for name, v in parsed._asdict().items()}
    interface["write_key"] = interface["write_key"][0]
    interface["write_strength"] = interface["write_strength"][0]
    new_state, read_vectors = reference.memory_step(state, interface)
    output = hidden @ cell.output_kernel.numpy() + read_vectors.T.reshape(-1) @ (
        cell.read_kernel.numpy()
    )
    new_state["read_vectors"] = read_vectors
    return output, new_state


def test_unrolled_cell_matches_numpy_step_by_step():
    rng = np.random.default_rng(5)
    cell = dnc.DNCCell(
        output_size=6, memory_size=7, word_size=5, num_reads=2, controller="feedforward"
    )
    layer = keras.layers.RNN(cell, return_sequences=True)
    inputs = rng.normal(size=(2, 6, 6)).astype(np.float32)
    layer.build(inputs.shape)
    for weight in layer.weights:  # larger weights than the 0.01 init, so the memory is used
        weight.assign(rng.normal(scale=0.5, size=weight.shape))
    outputs = layer(inputs).numpy()
    for b in range(2):
        _, memory, reads = cell.unpack_state(cell.get_initial_state(batch_size=1))
        state = {name: np.asarray(v[0], np.float64) for name, v in memory._asdict().items()}
        state["read_vectors"] = np.asarray(reads[0], np.float64)
        for t in range(6):
            expected, state = _numpy_step(cell, inputs[b, t].astype(np.float64), state)
            np.testing.assert_allclose(outputs[b, t], expected, atol=1e-4, rtol=1e-4)


def test_lstm_cell_runs_in_a_compiled_rnn_and_masks_padding():
    cell = dnc.DNCCell(output_size=9, memory_size=8, word_size=4, num_reads=2, controller_units=16)
    layer = keras.layers.RNN(cell, return_sequences=True)
    inputs = tf.random.stateless_normal((3, 5, 9), seed=(1, 2))
    mask = tf.constant([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]) > 0
    eager = layer(inputs, mask=mask)
    compiled = tf.function(lambda x, m: layer(x, mask=m), jit_compile=True)(inputs, mask)
    assert eager.shape == (3, 5, 9)
    np.testing.assert_allclose(compiled, eager, atol=1e-5)
    # Padding after a story does not change its outputs.
    short = layer(inputs[:1, :3])
    np.testing.assert_allclose(short, eager[:1, :3], atol=1e-6)


def test_record_outputs_split_into_named_parts():
    cell = dnc.DNCCell(
        output_size=6,
        memory_size=10,
        word_size=10,
        num_reads=1,
        controller="feedforward",
        record=True,
    )
    outputs = keras.layers.RNN(cell, return_sequences=True)(tf.zeros((2, 4, 6)))
    assert outputs.shape == (2, 4, 6 + 10 + 10 + 10 + 1 + 2)
    parts = dnc.split_record(outputs, output_size=6, memory_size=10, num_reads=1)
    assert parts["read_weights"].shape == (2, 4, 1, 10)
    assert parts["allocation_gate"].shape == (2, 4)
    assert np.all(np.sum(parts["write_weights"], axis=-1) <= 1 + 1e-5)
    assert np.all((parts["usage"] >= 0) & (parts["usage"] <= 1 + 1e-6))


def test_config_round_trip_and_bad_arguments():
    cell = dnc.DNCCell(
        output_size=159, memory_size=32, word_size=8, num_reads=2, book_pairwise_add=True
    )
    clone = dnc.DNCCell.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    with pytest.raises(ValueError, match="controller"):
        dnc.DNCCell(output_size=5, controller="gru")
    with pytest.raises(ValueError, match="memory_size"):
        dnc.DNCCell(output_size=5, memory_size=0)

"""The copy-series generator: the layout of Fig. 8.8 (b), stateless batches, the curriculum."""

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import copy_series


def test_batch_layout_inputs_marker_then_copy():
    inputs, targets, mask = copy_series.make_batch(tf.constant([1, 2], tf.int64), 3, 2)
    assert inputs.shape == targets.shape == (3, 22, 6) and mask.shape == (3, 22)
    for s in range(2):  # each sequence of the series: 5 vectors, the marker, 5 outputs
        start = 11 * s
        vectors = inputs[:, start : start + 5, :5]
        np.testing.assert_array_equal(inputs[:, start : start + 5, 5], 0)
        np.testing.assert_array_equal(inputs[:, start + 5], np.tile([0, 0, 0, 0, 0, 1], (3, 1)))
        np.testing.assert_array_equal(inputs[:, start + 6 : start + 11], 0)
        np.testing.assert_array_equal(targets[:, start : start + 6], 0)
        np.testing.assert_array_equal(targets[:, start + 6 : start + 11, :5], vectors)
        np.testing.assert_array_equal(targets[:, start + 6 : start + 11, 5], 0)
        np.testing.assert_array_equal(mask[:, start : start + 11], [[0] * 6 + [1] * 5] * 3)
    assert set(np.unique(inputs)) == {0.0, 1.0}
    assert 0.3 < float(tf.reduce_mean(inputs[:, :5, :5])) < 0.7


def test_batches_are_a_function_of_the_seed_and_step():
    first = list(
        copy_series.train_batches(
            0, num_steps=6, batch_size=2, seed=3, series_lengths=(1, 2), switch_steps=(3,)
        )
    )
    resumed = list(
        copy_series.train_batches(
            4, num_steps=6, batch_size=2, seed=3, series_lengths=(1, 2), switch_steps=(3,)
        )
    )
    assert [b[0].shape[1] for b in first] == [11, 11, 11, 22, 22, 22]
    assert len(resumed) == 2
    for a, b in zip(first[4:], resumed, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(first[0][0], first[1][0])
    other_seed = next(
        iter(
            copy_series.train_batches(
                0, num_steps=1, batch_size=2, seed=4, series_lengths=(1,), switch_steps=()
            )
        )
    )
    assert not np.array_equal(first[0][0], other_seed[0])


def test_curriculum_lengths_and_bad_arguments():
    assert [copy_series.curriculum_length(s, (2, 4), (100,)) for s in (0, 99, 100, 500)] == [
        2,
        2,
        4,
        4,
    ]
    with pytest.raises(ValueError, match="switch steps"):
        copy_series.curriculum_length(0, (2, 4), ())
    with pytest.raises(ValueError, match="No steps left"):
        copy_series.train_batches(
            5, num_steps=5, batch_size=1, seed=0, series_lengths=(1,), switch_steps=()
        )


def test_bit_errors_count_wrong_bits_in_output_phases_per_sequence():
    _, targets, mask = copy_series.make_batch(tf.constant([0, 0], tf.int64), 2, 2)
    perfect = 20.0 * (2.0 * targets - 1.0)  # logits with the right sign everywhere
    wrong_sum, sequences = copy_series.bit_errors(perfect, targets, mask)
    assert float(wrong_sum) == 0.0 and float(sequences) == 4.0
    # Flip 3 bits inside an output phase and 2 outside it: only the 3 count.
    flipped = perfect.numpy()
    flipped[0, 6, 0] *= -1
    flipped[0, 7, 1] *= -1
    flipped[1, 20, 5] *= -1
    flipped[0, 0, 0] *= -1
    flipped[1, 11, 2] *= -1
    wrong_sum, _ = copy_series.bit_errors(tf.constant(flipped), targets, mask)
    assert float(wrong_sum) == 3.0

"""The copy-series task of chapter 8 (Fig. 8.9): generated, stateless, resumable batches.

Book: chapter 8, "Visualizing the DNC in action" (seed lines 5576-5597, Fig. 8.8 (b)); spec
ch08-09 §1.10 (DNC-tensorflow's `tasks/copy/train-series.py` settings), checklist §6.2.

One sequence is `sequence_length` (5) random binary vectors of `bits` (5) bits. The network sees
the vectors, then an end marker, then must write the vectors back while it sees zeros:

    time      0 .. L-1        L          L+1 .. 2L
    inputs    bits, 0         0.., 1     zeros
    targets   zeros           zeros      the L vectors (marker channel 0)

so a sequence takes `2 L + 1` steps (11) and a series of S sequences, one after another,
`S (2 L + 1)` steps; the width is `bits + 1` (6), the last channel being the marker. Targets are
zero outside the output phases, and the loss counts every step (the upstream BCE over batch,
time and bits); `output_mask` marks the output phases for the bit-error count.

The batch of training step s is a pure function of `(seed, s)` (stateless random ops), so a
resumed run sees the batches it would have seen, and the curriculum (`series_lengths` switched
at `switch_steps`) is a function of s too.
"""

import tensorflow as tf


def sequence_steps(sequence_length: int) -> int:
    """Time steps of one sequence: L inputs, the marker, L outputs."""
    return 2 * sequence_length + 1


def make_batch(seed, batch_size: int, series_length, sequence_length: int = 5, bits: int = 5):
    """One batch of copy series, from a stateless seed.

    Args:
        seed: `(2,)` int, for `tf.random.stateless_uniform`.
        batch_size: B.
        series_length: S, sequences per series (a Python int or a scalar tensor).
        sequence_length: L, vectors per sequence.
        bits: random bits per vector.

    Returns:
        `(inputs, targets, output_mask)`: inputs and targets `(B, S (2L+1), bits + 1)` float32,
        output_mask `(B, S (2L+1))` float32, 1 where the network must write the vectors back.
    """
    shape = (batch_size, series_length, sequence_length, bits)
    vectors = tf.cast(tf.random.stateless_uniform(shape, seed) < 0.5, tf.float32)  # (B,S,L,b)
    zero_bits = tf.zeros((batch_size, series_length, sequence_length, 1))
    vectors_in = tf.concat([vectors, zero_bits], axis=-1)  # (B, S, L, b + 1)
    marker = tf.one_hot(tf.fill((batch_size, series_length, 1), bits), bits + 1)  # (B, S, 1, b + 1)
    silence = tf.zeros_like(vectors_in)
    inputs = tf.concat([vectors_in, marker, silence], axis=2)  # (B, S, 2L+1, b + 1)
    targets = tf.concat([silence, tf.zeros_like(marker), vectors_in], axis=2)
    phase = tf.concat(
        [tf.zeros((sequence_length + 1,)), tf.ones((sequence_length,))], axis=0
    )  # (2L+1,)
    output_mask = tf.broadcast_to(phase, (batch_size, series_length, 2 * sequence_length + 1))
    steps = series_length * sequence_steps(sequence_length)
    return (
        tf.reshape(inputs, (batch_size, steps, bits + 1)),
        tf.reshape(targets, (batch_size, steps, bits + 1)),
        tf.reshape(output_mask, (batch_size, steps)),
    )


def curriculum_length(step, series_lengths, switch_steps) -> int:
    """The series length at training `step`: `series_lengths[i]` from `switch_steps[i - 1]` on."""
    if len(switch_steps) != len(series_lengths) - 1:
        raise ValueError(
            f"{len(series_lengths)} series lengths need {len(series_lengths) - 1} switch steps, "
            f"got {list(switch_steps)}."
        )
    stage = sum(int(step) >= boundary for boundary in switch_steps)
    return int(series_lengths[stage])


def train_batches(
    start_step: int,
    *,
    num_steps: int,
    batch_size: int,
    seed: int,
    series_lengths=(2, 4),
    switch_steps=(0,),
    sequence_length: int = 5,
    bits: int = 5,
) -> tf.data.Dataset:
    """The batches of steps `start_step, ..., num_steps - 1`, along the curriculum.

    Each stage is its own `Dataset.range(...).map(...)`, so one stage has one static shape; the
    stages are concatenated (time axis `None`). Element k is `make_batch((seed, start_step + k),
    ...)` at the series length of that step.

    Returns:
        A dataset of `(inputs, targets, output_mask)`, see `make_batch`.
    """
    boundaries = [0, *switch_steps, num_steps]
    curriculum_length(0, series_lengths, switch_steps)  # validates the lengths
    dataset = None
    for stage, length in enumerate(series_lengths):
        first, last = max(boundaries[stage], start_step), boundaries[stage + 1]
        if first >= last:
            continue
        part = tf.data.Dataset.range(first, last).map(
            lambda step, length=length: make_batch(
                tf.stack([tf.constant(seed, tf.int64), step]),
                batch_size,
                length,
                sequence_length,
                bits,
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        dataset = part if dataset is None else dataset.concatenate(part)
    if dataset is None:
        raise ValueError(f"No steps left: start_step {start_step} >= num_steps {num_steps}.")
    return dataset.prefetch(tf.data.AUTOTUNE)


def bit_errors(logits, targets, output_mask, sequence_length: int = 5):
    """Wrong bits per sequence, thresholding `sigmoid(logits)` at 0.5 in the output phases.

    Args:
        logits: `(B, T, bits + 1)`.
        targets: `(B, T, bits + 1)`.
        output_mask: `(B, T)`.

    Returns:
        `(sum, count)`: the wrong bits of the batch and the number of sequences, so that
        `sum / count` is the mean number of wrong bits per sequence (the marker channel included:
        the network must keep it at 0).
    """
    wrong = tf.cast(tf.not_equal(tf.cast(logits > 0.0, tf.float32), targets), tf.float32)
    per_step = tf.reduce_sum(wrong, axis=-1) * output_mask  # (B, T)
    sequences = tf.reduce_sum(output_mask) / sequence_length
    return tf.reduce_sum(per_step), sequences

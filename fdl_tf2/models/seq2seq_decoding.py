"""Greedy and beam-search decoding of `seq2seq.Seq2SeqAttention`, inside the graph.

Book: chapter 7 (seed lines 4531-4634, the repository's `decode()`: greedy arg-max decoding,
cut at the first EOS) and "Beam Search and Global Normalization" (lines 3750-3785); spec
ch06-07 checklist §5.3 item 34. The pure-Python `beam_search.beam_search` of chapter 7 part 1 is
the reference these functions are tested against, with the same rules:

- a hypothesis is finished once it emits `eos_id`; it keeps its score and competes for the b
  slots with the expansions of the unfinished ones (in the graph: a finished row may only
  "continue" with PAD at log-probability 0, and its length stays);
- pruning and the final ranking use `score / lp(length)` (length in tokens, EOS included):
  `lp = ((5 + L) / 6) ** alpha` (GNMT, `length_penalty=alpha`, 0 = plain log-probability) or
  `lp = L` (`length_penalty="average"`);
- decoding stops when every hypothesis is finished or after `max_length` tokens.

Both are `tf.while_loop`s over batched tensors, so they run in a `tf.function` and in the
exported SavedModel, with no Python per step. The beam carries, per hypothesis, the recurrent
states, the attention context, the token history and the attention weights (rows of
`batch * beam_size`, reordered with `tf.gather` at every step).

Inputs: `encoder_inputs` int32 `(batch, source_time)` in the training layout (reversed, pads
first: `data.translation`). Outputs (`Decoded`): `tokens` int32 `(batch, [beam,] max_length)`,
PAD after EOS (EOS itself is kept), `lengths` (tokens including EOS), `scores` (sum of
log-probabilities), `normalized_scores` and `attention` `(batch, [beam,] max_length,
source_time)`.
"""

from typing import NamedTuple

import tensorflow as tf

from fdl_tf2.models import seq2seq

GO_ID = 1
EOS_ID = 2
PAD_ID = seq2seq.PAD_ID


class Decoded(NamedTuple):
    """A decoding result; see the module docstring for the shapes."""

    tokens: tf.Tensor
    lengths: tf.Tensor
    scores: tf.Tensor
    normalized_scores: tf.Tensor
    attention: tf.Tensor


def length_penalty(lengths: tf.Tensor, length_penalty: float | str = 0.0) -> tf.Tensor:
    """`lp(L)` of `beam_search.length_penalty_factor`, float32, elementwise."""
    lengths = tf.cast(lengths, tf.float32)
    if isinstance(length_penalty, str):
        if length_penalty != "average":
            raise ValueError(
                f"length_penalty must be a number >= 0 or 'average'; got {length_penalty!r}"
            )
        return tf.maximum(lengths, 1.0)
    if not float(length_penalty) >= 0:
        raise ValueError(f"length_penalty must be a number >= 0 or 'average'; got {length_penalty}")
    return ((5.0 + lengths) / 6.0) ** float(length_penalty)


def _keep_shapes(new_values: tuple, old_values: tuple) -> tuple:
    """Loop variables with their entry shapes (a static batch size must survive the loop)."""

    def keep(new, old):
        return tf.ensure_shape(new, old.shape) if isinstance(old, tf.Tensor) else new

    return tf.nest.map_structure(keep, new_values, old_values)


def _log_probs(model: seq2seq.Seq2SeqAttention, outputs: tf.Tensor) -> tf.Tensor:
    return tf.nn.log_softmax(model.logits(outputs), axis=-1)  # (rows, Vt), float32


def greedy_decode(
    model: seq2seq.Seq2SeqAttention,
    encoder_inputs: tf.Tensor,
    max_length,
    *,
    eos_id: int = EOS_ID,
    go_id: int = GO_ID,
) -> Decoded:
    """The book's decoder: feed back the arg-max token until EOS (`feed_previous=True`).

    Returns `Decoded` with tokens `(batch, max_length)`; `normalized_scores` equals `scores`.
    """
    memory, cell_states = model.encode(encoder_inputs)
    state = model.initial_state(memory, cell_states)
    batch = tf.shape(encoder_inputs)[0]
    source_time = tf.shape(encoder_inputs)[1]
    max_length = tf.convert_to_tensor(max_length, tf.int32)
    tokens = tf.TensorArray(tf.int32, size=max_length, element_shape=[None])
    attention = tf.TensorArray(tf.float32, size=max_length, element_shape=[None, None])
    finished = tf.zeros([batch], tf.bool)

    def body(*loop_vars):
        return _keep_shapes(greedy_body(*loop_vars), loop_vars)

    def greedy_body(t, previous, state, finished, lengths, scores, tokens, attention):
        output, state, weights = model.decoder_step(memory, state, previous)
        log_probs = _log_probs(model, output)  # (batch, Vt)
        chosen = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
        step_score = tf.gather(log_probs, chosen, batch_dims=1)
        live = tf.logical_not(finished)
        scores += tf.where(live, step_score, 0.0)
        lengths += tf.cast(live, tf.int32)
        written = tf.where(live, chosen, PAD_ID)
        weights = tf.where(live[:, None], tf.cast(weights, tf.float32), 0.0)
        finished = tf.logical_or(finished, tf.equal(chosen, eos_id))
        return (
            t + 1, chosen, state, finished, lengths, scores,
            tokens.write(t, written), attention.write(t, weights),
        )  # fmt: skip

    _, _, _, _, lengths, scores, tokens, attention = tf.while_loop(
        lambda t, p, s, finished, *_: tf.logical_and(
            t < max_length, tf.logical_not(tf.reduce_all(finished))
        ),
        body,
        (
            tf.constant(0),
            tf.fill([batch], go_id),
            state,
            finished,
            tf.zeros([batch], tf.int32),
            tf.zeros([batch], tf.float32),
            tokens,
            attention,
        ),  # fmt: skip
    )
    steps = tokens.size()
    pad = max_length - steps  # Stopped early: every row finished.
    token_matrix = tf.pad(tf.transpose(tokens.stack()), [[0, 0], [0, pad]])
    token_matrix = tf.reshape(token_matrix, [batch, max_length])
    attention_cube = tf.transpose(attention.stack(), [1, 0, 2])
    attention_cube = tf.reshape(
        tf.pad(attention_cube, [[0, 0], [0, pad], [0, 0]]), [batch, max_length, source_time]
    )
    return Decoded(token_matrix, lengths, scores, scores, attention_cube)


def _tile(tensor: tf.Tensor, beam_size: int) -> tf.Tensor:
    """`(batch, ...)` -> `(batch * beam_size, ...)`, each row repeated beam_size times."""
    return tf.repeat(tensor, beam_size, axis=0)


def beam_decode(
    model: seq2seq.Seq2SeqAttention,
    encoder_inputs: tf.Tensor,
    max_length,
    *,
    beam_size: int,
    length_penalty_alpha: float | str = 0.0,
    eos_id: int = EOS_ID,
    go_id: int = GO_ID,
) -> Decoded:
    """Beam search in the graph, ranked by `score / lp(length)`.

    Returns:
      `Decoded` with a beam axis: tokens `(batch, beam_size, max_length)`, lengths, scores and
      normalized_scores `(batch, beam_size)`, attention `(batch, beam_size, max_length,
      source_time)`; hypothesis 0 of each sentence is the best. `beam_size=1` is greedy.

    Raises:
      ValueError: beam_size < 1 or larger than the target vocabulary.
    """
    vocabulary = model.target_vocabulary_size
    if not 1 <= beam_size <= vocabulary:
        raise ValueError(f"beam_size must be in [1, {vocabulary}], got {beam_size}.")
    length_penalty(tf.constant(1), length_penalty_alpha)  # Validates it before tracing on.
    memory, cell_states = model.encode(encoder_inputs)
    batch = tf.shape(encoder_inputs)[0]
    source_time = tf.shape(encoder_inputs)[1]
    rows = batch * beam_size
    memory = seq2seq.Memory(*(_tile(t, beam_size) for t in memory))
    state = model.initial_state(
        memory, tf.nest.map_structure(lambda t: _tile(t, beam_size), cell_states)
    )
    max_length = tf.convert_to_tensor(max_length, tf.int32)
    # Only hypothesis 0 is alive at the start, so the first expansion has no duplicates.
    first = tf.one_hot(0, beam_size, on_value=0.0, off_value=-float("inf"))
    scores = tf.tile(first[None, :], [batch, 1])  # (batch, beam)
    history = tf.zeros([batch, beam_size, max_length], tf.int32)
    attention = tf.zeros([batch, beam_size, max_length, source_time], tf.float32)
    stay = tf.one_hot(PAD_ID, vocabulary, on_value=0.0, off_value=-float("inf"))  # (Vt,)

    def body(*loop_vars):
        return _keep_shapes(beam_body(*loop_vars), loop_vars)

    def beam_body(t, previous, state, finished, lengths, scores, history, attention):
        output, state, weights = model.decoder_step(memory, state, tf.reshape(previous, [rows]))
        log_probs = tf.reshape(_log_probs(model, output), [batch, beam_size, vocabulary])
        log_probs = tf.where(finished[:, :, None], stay, log_probs)
        candidates = scores[:, :, None] + log_probs  # (batch, beam, Vt)
        candidate_lengths = lengths + tf.cast(tf.logical_not(finished), tf.int32)
        ranked = candidates / length_penalty(candidate_lengths, length_penalty_alpha)[:, :, None]
        _, flat = tf.math.top_k(tf.reshape(ranked, [batch, -1]), k=beam_size)  # (batch, beam)
        parents, chosen = flat // vocabulary, flat % vocabulary
        scores = tf.gather(tf.reshape(candidates, [batch, -1]), flat, batch_dims=1)
        lengths = tf.gather(candidate_lengths, parents, batch_dims=1)
        was_finished = tf.gather(finished, parents, batch_dims=1)
        finished = tf.logical_or(was_finished, tf.equal(chosen, eos_id))
        rows_index = tf.reshape(parents + tf.range(batch)[:, None] * beam_size, [rows])
        state = tf.nest.map_structure(lambda s: tf.gather(s, rows_index), state)
        at_t = tf.one_hot(t, max_length, dtype=tf.int32)  # (max_length,)
        history = tf.gather(history, parents, batch_dims=1) * (1 - at_t) + chosen[..., None] * at_t
        weights = tf.reshape(
            tf.gather(tf.cast(weights, tf.float32), rows_index), [batch, beam_size, -1]
        )
        weights = tf.where(was_finished[..., None], 0.0, weights)
        at_t = tf.cast(at_t, tf.float32)[:, None]  # (max_length, 1)
        attention = (
            tf.gather(attention, parents, batch_dims=1) * (1.0 - at_t)
            + weights[:, :, None, :] * at_t
        )
        return t + 1, chosen, state, finished, lengths, scores, history, attention

    _, _, _, _, lengths, scores, history, attention = tf.while_loop(
        lambda t, p, s, finished, *_: tf.logical_and(
            t < max_length, tf.logical_not(tf.reduce_all(finished))
        ),
        body,
        (
            tf.constant(0),
            tf.fill([batch, beam_size], go_id),
            state,
            tf.zeros([batch, beam_size], tf.bool),
            tf.zeros([batch, beam_size], tf.int32),
            scores,
            history,
            attention,
        ),  # fmt: skip
    )
    normalized = scores / length_penalty(lengths, length_penalty_alpha)
    return Decoded(history, lengths, scores, normalized, attention)


def best(decoded: Decoded) -> Decoded:
    """Hypothesis 0 of a `beam_decode` result: tokens `(batch, max_length)` and so on."""
    return Decoded(*(t[:, 0] for t in decoded))

"""The chapter-7 attention encoder-decoder, its losses and its in-graph decoders."""

import math

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.models import beam_search, seq2seq, seq2seq_decoding

SOURCE_VOCABULARY, TARGET_VOCABULARY = 23, 19


def small_model(**kwargs) -> seq2seq.Seq2SeqAttention:
    options = dict(units=8, num_layers=2, seed=3)
    options.update(kwargs)
    return seq2seq.Seq2SeqAttention(SOURCE_VOCABULARY, TARGET_VOCABULARY, **options)


def sharpen(model: seq2seq.Seq2SeqAttention, scale: float = 6.0) -> None:
    """Larger output weights: peaked, sentence-dependent distributions, so beams differ, and
    a larger EOS bias, so that some hypotheses end before `max_length` and others do not."""
    kernel, bias = model.projection_weights
    rng = np.random.default_rng(0)
    kernel.assign(rng.normal(0, scale / math.sqrt(model.units), kernel.shape).astype("float32"))
    bias_values = rng.normal(0, 1.0, bias.shape).astype("float32")
    bias_values[seq2seq_decoding.EOS_ID] += 2.0
    bias.assign(bias_values)


SOURCES = tf.constant([[0, 0, 5, 6, 7, 8], [0, 0, 0, 0, 9, 4], [11, 12, 13, 14, 15, 16]])
DECODER_INPUTS = tf.constant([[1, 4, 5, 6, 0], [1, 7, 0, 0, 0], [1, 8, 9, 10, 11]])


@pytest.mark.parametrize("cell", seq2seq.CELLS)
def test_parameter_count_matches_the_formula(cell):
    model = small_model(cell=cell, num_layers=3)
    assert model.count_params() == seq2seq.book_parameter_count(
        SOURCE_VOCABULARY, TARGET_VOCABULARY, 8, 3, cell
    )


def test_book_size_parameter_count():
    # Worked out in the module docstring: 81,920,000 + 41,000,000 + 37,767,168 + 8,392,704.
    assert seq2seq.book_parameter_count() == 169_079_872
    assert 81_920_000 + 41_000_000 + 6 * 6_294_528 + 8_392_704 == 169_079_872


def test_encoder_and_decoder_stacks_are_distinct_layers():
    model = small_model(num_layers=3)
    weights = [id(w) for layer in model.encoder_layers + model.decoder_cells for w in layer.weights]
    assert len(weights) == len(set(weights)) == 6 * 3  # kernel, recurrent kernel, bias each


@pytest.mark.parametrize("attention", seq2seq.ATTENTIONS)
@pytest.mark.parametrize("cell", seq2seq.CELLS)
def test_shapes_and_attention_rows(cell, attention):
    model = small_model(cell=cell, attention=attention)
    result = model.teacher_forced(SOURCES, DECODER_INPUTS)
    assert result.outputs.shape == (3, 5, 8)
    assert result.attention.shape == (3, 5, 6)
    weights = result.attention.numpy()
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert np.all(weights[0, :, :2] == 0) and np.all(weights[1, :, :4] == 0)  # PAD positions
    assert model((SOURCES, DECODER_INPUTS)).shape == (3, 5, TARGET_VOCABULARY)


@pytest.mark.parametrize("cell", seq2seq.CELLS)
def test_translation_does_not_depend_on_the_padding(cell):
    """Masking: the pads-first layout of a larger bucket changes nothing."""
    model = small_model(cell=cell)
    short = model((tf.constant([[0, 5, 6, 7]]), DECODER_INPUTS[:1]))
    long = model((tf.constant([[0, 0, 0, 0, 0, 5, 6, 7]]), DECODER_INPUTS[:1]))
    np.testing.assert_allclose(short.numpy(), long.numpy(), atol=1e-5)


def numpy_additive_step(model, source_outputs, mask, state_vectors, top_output):
    """The repository's attention from its equations, in NumPy, for one decoder step."""
    w1 = model.attention_keys.kernel.numpy()
    w2, b2 = model.attention_query.kernel.numpy(), model.attention_query.bias.numpy()
    v = model.attention_v.numpy()
    query = np.concatenate(state_vectors, -1)
    scores = np.tanh(source_outputs @ w1 + (query @ w2 + b2)[:, None, :]) @ v  # (batch, time)
    scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    context = np.einsum("bs,bsu->bu", weights, source_outputs)
    wo, bo = model.output_dense.kernel.numpy(), model.output_dense.bias.numpy()
    return np.concatenate([top_output, context], -1) @ wo + bo, weights


def test_additive_attention_matches_numpy_equations():
    model = small_model()
    memory, cell_states = model.encode(SOURCES)
    state = model.initial_state(memory, cell_states)
    output, new_state, weights = model.decoder_step(memory, state, tf.constant([1, 1, 1]))
    states = [s.numpy() for s in new_state.cell_states]
    expected_output, expected_weights = numpy_additive_step(
        model, memory.outputs.numpy(), memory.mask.numpy(), states, states[-1]
    )
    np.testing.assert_allclose(weights.numpy(), expected_weights, atol=1e-6)
    np.testing.assert_allclose(output.numpy(), expected_output, atol=1e-5)
    np.testing.assert_allclose(new_state.context.numpy(), np.einsum(
        "bs,bsu->bu", expected_weights, memory.outputs.numpy()), atol=1e-6)  # fmt: skip


def test_empty_source_gives_finite_outputs_and_zero_context():
    model = small_model()
    result = model.teacher_forced(tf.zeros([2, 4], tf.int32), DECODER_INPUTS[:2])
    assert np.all(np.isfinite(result.outputs.numpy()))
    assert np.all(result.attention.numpy() == 0)


def test_unknown_options_are_refused():
    with pytest.raises(ValueError, match="cell"):
        small_model(cell="rnn")
    with pytest.raises(ValueError, match="attention"):
        small_model(attention="multihead")
    with pytest.raises(ValueError, match="average"):
        seq2seq.sequence_loss(tf.ones([1, 2]), tf.ones([1, 2]), average="batch")


# --- Losses -----------------------------------------------------------------------------------


def test_sampled_softmax_with_all_classes_is_the_full_softmax():
    model = small_model()
    targets = tf.constant([[4, 5, 6, 2, 0], [7, 2, 0, 0, 0], [8, 9, 10, 11, 2]])
    outputs = model.teacher_forced(SOURCES, DECODER_INPUTS).outputs
    full = seq2seq.token_cross_entropy(model, outputs, targets)
    logits = model.logits(outputs).numpy()
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(log_softmax, targets.numpy()[..., None], -1)[..., 0]
    np.testing.assert_allclose(full.numpy(), expected, rtol=1e-5)
    for num_sampled in (TARGET_VOCABULARY, 10 * TARGET_VOCABULARY):
        fallback = seq2seq.token_cross_entropy(model, outputs, targets, num_sampled=num_sampled)
        np.testing.assert_allclose(fallback.numpy(), full.numpy(), rtol=1e-6)
    sampled = seq2seq.token_cross_entropy(model, outputs, targets, num_sampled=5, seed=(1, 7))
    assert sampled.shape == full.shape and np.all(np.isfinite(sampled.numpy()))
    again = seq2seq.token_cross_entropy(model, outputs, targets, num_sampled=5, seed=(1, 7))
    np.testing.assert_array_equal(sampled.numpy(), again.numpy())  # Stateless: reproducible.
    other = seq2seq.token_cross_entropy(model, outputs, targets, num_sampled=5, seed=(1, 8))
    assert not np.array_equal(sampled.numpy(), other.numpy())


def test_log_uniform_candidates_are_unique_and_match_tf_expected_counts():
    labels = tf.constant([[0], [9]], tf.int64)
    sampled, true_count, sampled_count = seq2seq.log_uniform_candidates(labels, 4, 10, (3, 4))
    assert len(set(sampled.numpy().tolist())) == 4  # Unique: no repeated true class.
    # TF's own unique sampler with the same arguments: its expected counts use the number of
    # draws it needed; ours the number expected. The first-drawn distribution must agree.
    probabilities = np.log(np.arange(2, 12) / np.arange(1, 11)) / np.log(11)
    tries = np.log(1 - np.clip(sampled_count.numpy(), 0, 1 - 1e-12))
    tries = tries / np.log1p(-probabilities[sampled.numpy()])
    np.testing.assert_allclose(tries, tries[0], rtol=1e-5)  # One T for every id.
    distinct = np.sum(1 - (1 - probabilities) ** tries[0])
    assert distinct == pytest.approx(4.0, rel=1e-6)
    np.testing.assert_allclose(
        true_count.numpy()[:, 0], 1 - (1 - probabilities[[0, 9]]) ** tries[0], rtol=1e-5
    )
    np.testing.assert_allclose(seq2seq.log_uniform_probabilities(10), probabilities)
    numpy_counts = seq2seq.unique_sampling_expected_counts(10, 4)  # The same, in NumPy.
    np.testing.assert_allclose(numpy_counts[sampled.numpy()], sampled_count.numpy(), rtol=1e-5)
    # Frequencies: over many seeds, how often each id is among the candidates equals TF's
    # unique sampler's (estimated from its own kernel) within sampling noise.
    rounds = 2000
    ours = tf.function(lambda s: seq2seq.log_uniform_candidates(labels, 4, 10, [s, 1])[0])
    theirs = tf.function(
        lambda: (
            tf.random.log_uniform_candidate_sampler(
                labels, 1, 4, unique=True, range_max=10, seed=5
            ).sampled_candidates
        )
    )  # A stateful op: a new draw at every call.
    hits = np.bincount(
        np.concatenate([ours(tf.constant(i, tf.int64)) for i in range(rounds)]), minlength=10
    )
    tf_hits = np.bincount(np.concatenate([theirs() for _ in range(rounds)]), minlength=10)
    np.testing.assert_allclose(hits / rounds, tf_hits / rounds, atol=0.05)


def test_sequence_loss_weighting():
    losses = tf.constant([[1.0, 3.0, 100.0], [2.0, 100.0, 100.0]])
    weights = tf.constant([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    total, count = seq2seq.sequence_loss(losses, weights, "sequence")
    assert float(total) == pytest.approx(2.0 + 2.0) and float(count) == 2  # means 2 and 2
    total, count = seq2seq.sequence_loss(losses, weights, "token")
    assert float(total) == pytest.approx(6.0) and float(count) == 3


def test_training_reduces_the_loss_on_a_copy_task():
    model = small_model(units=16, num_layers=1)
    optimizer = tf.keras.optimizers.Adam(0.02)
    rng = np.random.default_rng(0)
    tokens = rng.integers(4, TARGET_VOCABULARY, size=(32, 5)).astype("int32")
    encoder = tf.constant(tokens[:, ::-1])
    decoder = tf.constant(np.concatenate([np.ones((32, 1), "int32"), tokens], 1))
    targets = tf.constant(np.concatenate([tokens, np.full((32, 1), 2, "int32")], 1))
    weights = tf.ones(targets.shape)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            outputs = model.teacher_forced(encoder, decoder, training=True).outputs
            seed = tf.stack(
                [tf.constant(0, tf.int64), tf.cast(optimizer.iterations.value, tf.int64)]
            )
            losses = seq2seq.token_cross_entropy(model, outputs, targets, num_sampled=8, seed=seed)
            total, count = seq2seq.sequence_loss(losses, weights)
            loss = total / count
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    first = float(step())
    for _ in range(60):
        last = float(step())
    assert last < 0.5 * first


# --- Decoding ---------------------------------------------------------------------------------


def python_step_fn(model, sentence: int, memory):
    """`beam_search` step function over one sentence's rows of the model (eager)."""
    row = seq2seq.Memory(*(t[sentence : sentence + 1] for t in memory))

    def step_fn(state, token):
        output, new_state, _ = model.decoder_step(row, state, tf.constant([token]))
        return np.log(tf.nn.softmax(model.logits(output))[0].numpy().astype(np.float64)), new_state

    return row, step_fn


def reference_hypotheses(model, sources, beam_size, max_length, alpha=0.0):
    memory, cell_states = model.encode(sources)
    results = []
    for sentence in range(sources.shape[0]):
        row, step_fn = python_step_fn(model, sentence, memory)
        states = tf.nest.map_structure(lambda t, i=sentence: t[i : i + 1], cell_states)
        results.append(
            beam_search.beam_search(
                step_fn,
                model.initial_state(row, states),
                beam_size,
                max_length,
                eos_id=seq2seq_decoding.EOS_ID,
                start_token=seq2seq_decoding.GO_ID,
                length_penalty=alpha,
            )  # fmt: skip
        )
    return results


@pytest.fixture(scope="module")
def sharp_model():
    model = small_model(units=8, num_layers=1)
    sharpen(model)
    return model


def test_greedy_equals_beam_one_and_the_python_greedy(sharp_model):
    greedy = seq2seq_decoding.greedy_decode(sharp_model, SOURCES, 7)
    beam = seq2seq_decoding.best(seq2seq_decoding.beam_decode(sharp_model, SOURCES, 7, beam_size=1))
    np.testing.assert_array_equal(greedy.tokens.numpy(), beam.tokens.numpy())
    np.testing.assert_allclose(greedy.scores.numpy(), beam.scores.numpy(), rtol=1e-5)
    for sentence, hypotheses in enumerate(reference_hypotheses(sharp_model, SOURCES, 1, 7)):
        tokens = tuple(greedy.tokens.numpy()[sentence, : int(greedy.lengths[sentence])])
        assert tokens == hypotheses[0].tokens
        assert float(greedy.scores[sentence]) == pytest.approx(hypotheses[0].score, rel=1e-4)
    assert greedy.attention.shape == (3, 7, 6)


@pytest.mark.parametrize("beam_size, alpha", [(2, 0.0), (3, 0.6), (4, "average")])
def test_beam_matches_the_python_beam_search(sharp_model, beam_size, alpha):
    decoded = seq2seq_decoding.beam_decode(
        sharp_model, SOURCES, 6, beam_size=beam_size, length_penalty_alpha=alpha
    )
    expected = reference_hypotheses(sharp_model, SOURCES, beam_size, 6, alpha)
    finished = {h.finished for hypotheses in expected for h in hypotheses}
    assert finished == {True, False}  # Both kinds of hypothesis are compared.
    for sentence, hypotheses in enumerate(expected):
        for rank, hypothesis in enumerate(hypotheses):
            length = int(decoded.lengths[sentence, rank])
            assert tuple(decoded.tokens.numpy()[sentence, rank, :length]) == hypothesis.tokens
            assert float(decoded.scores[sentence, rank]) == pytest.approx(
                hypothesis.score, rel=1e-4
            )
            assert float(decoded.normalized_scores[sentence, rank]) == pytest.approx(
                hypothesis.normalized_score, rel=1e-4
            )
            assert np.all(decoded.tokens.numpy()[sentence, rank, length:] == 0)


def test_beam_scores_at_least_greedy(sharp_model):
    greedy = seq2seq_decoding.greedy_decode(sharp_model, SOURCES, 8)
    for beam_size in (2, 5):
        beam = seq2seq_decoding.beam_decode(sharp_model, SOURCES, 8, beam_size=beam_size)
        assert np.all(beam.scores.numpy()[:, 0] >= greedy.scores.numpy() - 1e-5)
    assert np.any(beam.scores.numpy()[:, 0] > greedy.scores.numpy() + 0.1)  # Beam 5 helps.


def test_beam_decoding_inside_a_function_does_not_retrace(sharp_model):
    traces = []

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def translate(sources):
        traces.append(1)
        return seq2seq_decoding.beam_decode(sharp_model, sources, 6, beam_size=3).tokens

    assert translate(SOURCES).shape == (3, 3, 6)
    assert translate(SOURCES[:1, 2:]).shape == (1, 3, 6)
    assert len(traces) == 1


def test_invalid_beam_arguments(sharp_model):
    with pytest.raises(ValueError, match="beam_size"):
        seq2seq_decoding.beam_decode(sharp_model, SOURCES, 5, beam_size=0)
    with pytest.raises(ValueError, match="length_penalty"):
        seq2seq_decoding.beam_decode(sharp_model, SOURCES, 5, beam_size=2, length_penalty_alpha=-1)

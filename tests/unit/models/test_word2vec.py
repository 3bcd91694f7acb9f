"""Tests of the chapter-6 skip-gram (spec ch06-07 §5.2 items 13-14): parameters and their
initialisation, the book's NCE loss and the fast negative-sampling loss against NumPy, the
in-graph pair generator, neighbours and the book's console lines, the similarity and analogy
scores, and the serving functions.

Vocabularies, embeddings and corpora are tiny (a dozen words, 4-8 dimensions) so that the
file runs in seconds; only the parameter count builds the book's 10,000 x 128 model.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.models import word2vec
from fdl_tf2.training import step


def _model(vocabulary_size=12, embedding_size=4, initialization="book", seed=0):
    return word2vec.build_skipgram(
        vocabulary_size, embedding_size, initialization=initialization, seed=seed
    )


def _set_weights(model, embeddings, output_weights, output_biases):
    layer = word2vec.skipgram_layer(model)
    layer.embeddings.assign(embeddings)
    layer.output_weights.assign(output_weights)
    layer.output_biases.assign(output_biases)


def _random_weights(vocabulary_size, embedding_size, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(vocabulary_size, embedding_size)).astype(np.float32),
        rng.normal(size=(vocabulary_size, embedding_size)).astype(np.float32),
        rng.normal(size=(vocabulary_size,)).astype(np.float32),
    )


def _softplus(x):
    return np.logaddexp(0.0, x)


# --- Model: parameters and initialisation --------------------------------------------------


def test_book_model_has_2vd_plus_v_parameters_and_round_trips_its_config():
    model = word2vec.build_skipgram()  # V = 10,000, d = 128.
    assert 2 * 10_000 * 128 + 10_000 == 2_570_000
    assert model.count_params() == 2_570_000
    layer = word2vec.skipgram_layer(model)
    assert [tuple(w.shape) for w in layer.trainable_weights] == [
        (10_000, 128),
        (10_000, 128),
        (10_000,),
    ]
    clone = word2vec.SkipGram.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    ids = np.array([0, 5, 9_999], np.int32)
    np.testing.assert_array_equal(model(ids), layer.embeddings.numpy()[ids])


def test_book_initialisation_is_uniform_embeddings_and_truncated_normal_output():
    layer = word2vec.skipgram_layer(_model(2_000, 64, "book"))
    embeddings, weights = layer.embeddings.numpy(), layer.output_weights.numpy()
    assert -1.0 <= embeddings.min() < -0.99 and 0.99 < embeddings.max() <= 1.0
    assert abs(embeddings.std() - 1 / math.sqrt(3)) < 0.005  # U(-1, 1).
    stddev = 1 / math.sqrt(64)
    assert np.abs(weights).max() <= 2 * stddev + 1e-6  # Truncated at 2 standard deviations,
    assert abs(weights.std() / stddev - 0.8796) < 0.01  # which leaves 0.8796 of the std.
    np.testing.assert_array_equal(layer.output_biases.numpy(), 0.0)


def test_word2vec_initialisation_is_small_uniform_and_zero_output():
    layer = word2vec.skipgram_layer(_model(2_000, 64, "word2vec"))
    embeddings = layer.embeddings.numpy()
    assert np.abs(embeddings).max() <= 0.5 / 64
    assert abs(embeddings.std() - 0.5 / 64 / math.sqrt(3)) < 1e-4
    np.testing.assert_array_equal(layer.output_weights.numpy(), 0.0)
    with pytest.raises(ValueError, match="initialization"):
        _model(initialization="glove")


# --- The book's NCE loss -------------------------------------------------------------------


def _fixed_sampler(sampled, true_expected=0.5, sampled_expected=0.25):
    """Always the same negatives and expected counts (the sampler NCE corrects for)."""
    sampled = tf.constant(sampled, tf.int64)

    def draw(labels):
        return (
            sampled,
            tf.fill(tf.shape(labels), true_expected),
            tf.fill(tf.shape(sampled), sampled_expected),
        )

    return draw


def test_nce_loss_matches_numpy_and_removes_accidental_hits():
    vocabulary_size, embedding_size = 12, 4
    embeddings, weights, biases = _random_weights(vocabulary_size, embedding_size)
    model = _model(vocabulary_size, embedding_size)
    _set_weights(model, embeddings, weights, biases)
    centres, contexts = np.array([1, 2, 3]), np.array([4, 5, 7])
    sampled = np.array([5, 7, 9])  # 5 and 7 are the true contexts of pairs 1 and 2.
    q_true, q_sampled = 0.5, 0.25

    def numpy_loss(remove_hits):
        h = embeddings[centres]
        positive = np.sum(h * weights[contexts], 1) + biases[contexts] - np.log(q_true)
        negative = h @ weights[sampled].T + biases[sampled] - np.log(q_sampled)  # (3, 3)
        terms = _softplus(negative)
        if remove_hits:
            terms = np.where(contexts[:, None] == sampled[None, :], 0.0, terms)
        return _softplus(-positive) + terms.sum(1)

    for remove_hits in (True, False):
        loss = word2vec.make_nce_loss(
            3, remove_accidental_hits=remove_hits, sampler=_fixed_sampler(sampled)
        )
        (total, count), metrics = loss(model, (centres, contexts), True)
        assert metrics == {} and float(count) == 3
        np.testing.assert_allclose(float(total), numpy_loss(remove_hits).sum(), rtol=1e-5)
    assert numpy_loss(False).sum() > numpy_loss(True).sum() + 0.1  # The hits did count.


def test_nce_loss_falls_on_a_toy_corpus_with_the_book_sgd():
    # Word i is always followed by word i + 1 (mod 20): contexts are predictable.
    vocabulary_size = 20
    centres = np.arange(256) % vocabulary_size
    contexts = (centres + 1) % vocabulary_size
    batches = tf.data.Dataset.from_tensor_slices((centres, contexts)).shuffle(256, seed=0)
    model = _model(vocabulary_size, 8, "book", seed=1)
    loss = word2vec.make_nce_loss(8, seed=3)
    optimizer = keras.optimizers.SGD(2.0)  # The book's 0.1 suits 64 negatives of 10,000.
    means = []
    for batch in batches.batch(64).repeat(6):  # 24 eager steps: no tracing to wait for.
        with tf.GradientTape() as tape:
            (total, count), _ = loss(model, batch, True)
            mean = total / count
        optimizer.apply(tape.gradient(mean, model.trainable_variables), model.trainable_variables)
        means.append(float(mean))
    assert all(map(math.isfinite, means))
    assert np.mean(means[-4:]) < 0.5 * np.mean(means[:4])


# --- The fast path: negative sampling with shared negatives ---------------------------------


def test_negative_sampling_loss_matches_numpy_and_skips_hits():
    vocabulary_size, embedding_size = 12, 4
    embeddings, weights, biases = _random_weights(vocabulary_size, embedding_size, seed=1)
    model = _model(vocabulary_size, embedding_size)
    _set_weights(model, embeddings, weights, biases)
    centres = np.array([1, 2, 3, 3, 11], np.int32)
    contexts = np.array([4, 5, 7, 8, 1], np.int32)
    negatives = np.array([5, 9, 10], np.int32)  # 5 is pair 1's context.
    (total, count), _ = word2vec.negative_sampling_loss(model, (centres, contexts, negatives), True)
    h = embeddings[centres]
    positive = np.sum(h * weights[contexts], 1) + biases[contexts]
    negative = h @ weights[negatives].T + biases[negatives]
    negative = np.where(contexts[:, None] == negatives[None, :], 0.0, _softplus(negative))
    expected = _softplus(-positive) + negative.sum(1)
    assert float(count) == 5
    np.testing.assert_allclose(float(total), expected.sum(), rtol=1e-5)


def test_negative_sampling_gradients_are_sparse_and_move_only_rows_used():
    vocabulary_size, embedding_size = 12, 4
    model = _model(vocabulary_size, embedding_size)
    _set_weights(model, *_random_weights(vocabulary_size, embedding_size, seed=2))
    batch = (np.array([1, 2], np.int32), np.array([3, 4], np.int32), np.array([5, 6], np.int32))
    layer = word2vec.skipgram_layer(model)
    with tf.GradientTape() as tape:
        (total, _), _ = word2vec.negative_sampling_loss(model, batch, True)
    gradients = tape.gradient(total, layer.trainable_weights)
    assert all(isinstance(g, tf.IndexedSlices) for g in gradients)
    before = [w.numpy() for w in layer.trainable_weights]
    keras.optimizers.SGD(0.1).apply(gradients, layer.trainable_weights)
    moved = [
        np.flatnonzero(np.any((w.numpy() != b).reshape(len(b), -1), 1))
        for w, b in zip(layer.trainable_weights, before, strict=True)
    ]
    assert moved[0].tolist() == [1, 2]  # Embeddings: the centres.
    assert moved[1].tolist() == [3, 4, 5, 6] == moved[2].tolist()  # Contexts and negatives.


def test_sgd_steps_the_per_pair_rate_decaying_linearly():
    optimizer = word2vec.make_sgd(100, batch_size=256, learning_rate=0.025)
    rates = []
    for step_index in (0, 50, 100, 200):
        optimizer.iterations.assign(step_index)
        rates.append(float(optimizer.learning_rate) / 256)  # Per pair: the loss is a mean.
    np.testing.assert_allclose(rates, [0.025, (0.025 + 1e-4) / 2, 1e-4, 1e-4], rtol=1e-5)


def test_keep_probabilities_follow_word2vec_subsampling():
    counts = np.array([50, 600, 300, 100], np.int64)  # Id 0 is UNK.
    keep = word2vec.keep_probabilities(counts, sample=0.1)
    frequency = counts[1:] / 1000
    expected = np.minimum(1.0, (np.sqrt(frequency / 0.1) + 1) * 0.1 / frequency)
    np.testing.assert_allclose(keep[1:], expected, rtol=1e-6)
    assert keep[0] == 0.0 and keep[1] < keep[2] < keep[3] == 1.0
    np.testing.assert_array_equal(word2vec.keep_probabilities(counts, sample=0)[1:], 1.0)


def test_negatives_follow_unigram_to_the_three_quarters_without_unk():
    counts = np.array([1_000, 16, 81, 0, 1], np.int64)
    probabilities = word2vec.noise_distribution(counts, power=0.75)
    np.testing.assert_allclose(probabilities, np.array([0, 8, 27, 0, 1]) / 36, atol=1e-12)
    cumulative = tf.constant(np.cumsum(probabilities))
    draws = word2vec.sample_negatives(cumulative, (400, 100), tf.constant([4, 2], tf.int64))
    assert draws.dtype == tf.int32 and draws.shape == (400, 100)
    frequencies = np.bincount(draws.numpy().ravel(), minlength=5) / 40_000
    np.testing.assert_allclose(frequencies, probabilities, atol=0.01)  # 4 sigma: ~0.009.
    assert frequencies[0] == 0 == frequencies[3]  # Never UNK, never an unseen word.


def test_dynamic_windows_give_symmetric_contiguous_contexts_within_the_window():
    ids = np.arange(1, 201, dtype=np.int32)  # Distinct ids: a token's id is its position + 1.
    keep = np.ones(201, np.float32)
    centres, contexts = word2vec.dynamic_window_pairs(
        tf.constant(ids), tf.constant(keep), window=3, key=tf.constant([1, 2], tf.int64)
    )
    centres, contexts = centres.numpy(), contexts.numpy()
    distance = np.abs(centres - contexts)
    assert distance.min() == 1 and distance.max() == 3
    widths = []
    for centre in ids[3:-3]:  # Away from the edges every window is whole.
        found = sorted(contexts[centres == centre] - centre)
        width = len(found) // 2
        assert found == [*range(-width, 0), *range(1, width + 1)]
        widths.append(width)
    assert set(widths) == {1, 2, 3}  # Widths are drawn from 1..window.
    assert abs(len(centres) / len(ids) - 4) < 0.4  # window + 1 contexts on average.


def test_fast_batches_are_reproducible_resumable_and_valid():
    rng = np.random.default_rng(0)
    counts = np.array([5, 400, 300, 200, 100, 50, 30, 20], np.int64)
    ids = rng.choice(8, size=600, p=counts / counts.sum()).astype(np.int32)
    counts = np.bincount(ids, minlength=8)
    batches, steps_per_epoch = word2vec.fast_batches(
        ids, counts, batch_size=64, num_negatives=5, window=2, sample=0.1, seed=3
    )
    keep = word2vec.keep_probabilities(counts, 0.1)
    assert steps_per_epoch == int(word2vec.expected_pairs(ids, keep, 2) // 64)
    stream = list(batches(0).take(steps_per_epoch + 2).as_numpy_iterator())
    resumed = list(batches(steps_per_epoch - 1).take(3).as_numpy_iterator())
    for expected, got in zip(stream[-3:], resumed, strict=True):
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b)
    centres, contexts, negatives = stream[0]
    assert centres.shape == contexts.shape == (64,) and negatives.shape == (5,)
    assert centres.dtype == contexts.dtype == negatives.dtype == np.int32
    everything = np.concatenate([np.concatenate(batch[:3]) for batch in stream])
    assert everything.min() >= 1 and everything.max() <= 7  # UNK (0) never appears.
    assert not np.array_equal(stream[0][0], stream[steps_per_epoch][0])  # A new epoch.


def test_fast_path_trains_through_the_engine_on_a_toy_corpus():
    # Two topics: words 1-5 and words 6-10 only co-occur within their own topic.
    rng = np.random.default_rng(1)
    topics = rng.integers(0, 2, 400)
    ids = (1 + 5 * np.repeat(topics, 5) + rng.integers(0, 5, 2_000)).astype(np.int32)
    counts = np.bincount(ids, minlength=11)
    batches, steps_per_epoch = word2vec.fast_batches(
        ids, counts, batch_size=128, num_negatives=4, window=2, sample=0, seed=0
    )
    model = _model(11, 8, "word2vec")
    optimizer = word2vec.make_sgd(80, batch_size=128, learning_rate=0.025)
    train_step = step.make_train_step(
        model, optimizer, word2vec.negative_sampling_loss, steps_per_call=20
    )
    iterator = iter(batches(0))
    losses = [train_step(iterator, 20)["loss"] for _ in range(4)]
    means = [float(s / c) for s, c in losses]
    assert means[-1] < 0.9 * means[0]
    similarity = word2vec.normalize(word2vec.skipgram_layer(model).embeddings.numpy())
    similarity = similarity @ similarity.T
    within = np.mean([similarity[i, j] for i in range(1, 6) for j in range(1, 6) if i != j])
    across = np.mean([similarity[i, j] for i in range(1, 6) for j in range(6, 11)])
    assert within > across + 0.3


# --- Evaluation ----------------------------------------------------------------------------


_EMBEDDINGS = np.array(
    [
        [0.0, 0.0, 1.0],  # 0 UNK
        [1.0, 0.0, 0.0],  # 1 a
        [2.0, 0.1, 0.0],  # 2 b: nearly a's direction, longer (cosine ignores the norm).
        [0.0, 1.0, 0.0],  # 3 c
        [0.7, 0.7, 0.0],  # 4 d: between a and c.
        [-1.0, 0.0, 0.0],  # 5 e: opposite a.
    ],
    np.float32,
)
_VOCABULARY = ["UNK", "a", "b", "c", "d", "e"]


def test_neighbours_rank_by_cosine_and_skip_the_word_itself():
    found = word2vec.neighbours(_EMBEDDINGS, [1, 3, 5], k=3)
    np.testing.assert_array_equal(found, [[2, 4, 0], [4, 2, 0], [0, 3, 4]])
    assert found.shape == (3, 3)
    # The word itself is skipped even when a duplicate row ties with it.
    duplicated = np.vstack([_EMBEDDINGS, _EMBEDDINGS[1:2]])  # Id 6 == a.
    assert word2vec.neighbours(duplicated, [6], k=1).tolist() == [[1]]


def test_neighbour_lines_use_the_book_format():
    lines = word2vec.neighbour_lines(_EMBEDDINGS, _VOCABULARY, [1, 3], k=2)
    assert lines == ["Nearest neighbor of a: b, d", "Nearest neighbor of c: d, b"]


def test_validation_ids_are_twenty_distinct_words_of_the_500_most_frequent():
    ids = word2vec.validation_ids(seed=0)
    assert len(ids) == 20 == len(set(ids.tolist())) and ids.min() >= 0 and ids.max() < 500
    np.testing.assert_array_equal(ids, np.random.RandomState(0).choice(500, 20, replace=False))
    assert not np.array_equal(ids, word2vec.validation_ids(seed=1))


def _wordsim_pairs():
    from gensim.test.utils import datapath

    pairs = []
    with open(datapath("wordsim353.tsv"), encoding="utf8") as lines:
        for line in lines:
            if not line.startswith("#"):
                first, second, score = line.rstrip("\n").split("\t")
                pairs.append((first.lower(), second.lower(), float(score)))
    return pairs


def _disjoint_pairs(pairs, count):
    """`count` pairs with distinct scores such that no other pair has both words among them."""
    chosen, words = [], set()
    for first, second, score in pairs:
        if first == second or {first, second} & words or score in {s for *_, s in chosen}:
            continue
        candidate = words | {first, second}
        if sum(a in candidate and b in candidate for a, b, _ in pairs) == len(chosen) + 1:
            chosen.append((first, second, score))
            words = candidate
        if len(chosen) == count:
            return chosen
    raise AssertionError("not enough disjoint pairs")


def test_similarity_scores_and_coverage_on_a_hand_made_matrix():
    pytest.importorskip("gensim")
    pairs = _wordsim_pairs()
    chosen = _disjoint_pairs(pairs, 6)
    # Pair i lives in its own plane at angle theta_i: cosine = cos(theta_i) follows the score.
    scores = np.array([score for *_, score in chosen])
    vocabulary = ["UNK"] + [word for first, second, _ in chosen for word in (first, second)]
    results = {}
    for sign in (1, -1):
        embeddings = np.zeros((len(vocabulary), 2 * len(chosen)), np.float32)
        embeddings[0, 0] = 1.0
        for i, score in enumerate(scores):
            theta = np.pi / 2 * (1 - sign * (score - scores.min()) / np.ptp(scores)) * 0.9
            embeddings[1 + 2 * i, 2 * i] = 1.0
            embeddings[2 + 2 * i, 2 * i : 2 * i + 2] = [np.cos(theta), np.sin(theta)]
        results[sign] = word2vec.evaluate(embeddings, vocabulary)
    assert results[1]["wordsim353_rho"] == pytest.approx(1.0)
    assert results[-1]["wordsim353_rho"] == pytest.approx(-1.0)
    assert results[1]["wordsim353_coverage"] == pytest.approx(6 / len(pairs))
    assert len(pairs) == 353


def _three_cos_add(embeddings, vocabulary, questions):
    """NumPy 3CosAdd: argmax over the other words (not UNK) of cos(w, b - a + c), unit rows."""
    unit = word2vec.normalize(embeddings)
    index = {word: i for i, word in enumerate(vocabulary)}
    correct = 0
    for a, b, c, d in questions:
        query = unit[index[b]] - unit[index[a]] + unit[index[c]]
        scores = unit @ query
        scores[[0, index[a], index[b], index[c]]] = -np.inf
        correct += int(np.argmax(scores) == index[d])
    return correct / len(questions)


def test_analogy_accuracy_matches_numpy_3cosadd_with_its_coverage():
    pytest.importorskip("gensim")
    from gensim.test.utils import datapath

    # Only athens : greece :: baghdad : iraq and the reverse question (the first in two
    # sections) are within this vocabulary; "other" is a distractor.
    vocabulary = ["UNK", "athens", "greece", "baghdad", "iraq", "other"]
    with open(datapath("questions-words.txt"), encoding="utf8") as lines:
        questions = [line.lower().split() for line in lines if not line.startswith(":")]
    covered = [question for question in questions if set(question) <= set(vocabulary)]
    assert len(questions) == 19_544 and len(covered) == 3
    parallelogram = np.zeros((6, 5), np.float32)
    parallelogram[0, 4] = 1.0
    parallelogram[1:] = [[1, 0, 0, 0, 0], [1, 0, 1, 0, 0], [0, 1, 0, 0, 0], [0, 1, 1, 0, 0]] + [
        [0, 0, 0, 1, 0]
    ]
    results = word2vec.evaluate(parallelogram, vocabulary)
    assert results["analogy_accuracy"] == 1.0
    assert results["analogy_coverage"] == pytest.approx(3 / 19_544)
    accuracies = []
    for seed in range(6):
        embeddings = np.random.default_rng(seed).normal(size=(6, 3)).astype(np.float32)
        expected = _three_cos_add(embeddings, vocabulary, covered)
        assert word2vec.evaluate(embeddings, vocabulary)["analogy_accuracy"] == expected
        accuracies.append(expected)
    assert len(set(accuracies)) > 1  # Random vectors get some questions wrong.


def test_train_gensim_returns_a_row_per_id_and_zero_for_unk():
    pytest.importorskip("gensim")
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 6, 3_000).astype(np.int32)
    counts = np.bincount(ids, minlength=6)
    embeddings, seconds = word2vec.train_gensim(
        ids, _VOCABULARY, counts, embedding_size=8, window=2, negative=3, epochs=1, workers=1
    )
    assert embeddings.shape == (6, 8) and seconds > 0
    np.testing.assert_array_equal(embeddings[0], 0.0)  # UNK is not trained.
    assert np.all(np.linalg.norm(embeddings[1:], axis=1) > 0)


# --- Serving -------------------------------------------------------------------------------


@pytest.fixture
def service():
    model = _model(len(_VOCABULARY), 3)
    layer = word2vec.skipgram_layer(model)
    layer.embeddings.assign(_EMBEDDINGS)
    return word2vec.WordVectors(model, _VOCABULARY)


def test_embed_maps_unknown_and_empty_words_to_unk_and_flags_them(service):
    words = tf.constant(["a", "C", "zebra", "", "UNK"])
    outputs = tf.function(service.embed)(words)
    assert outputs["vectors"].dtype == tf.float32 and outputs["vectors"].shape == (5, 3)
    assert outputs["in_vocabulary"].dtype == tf.bool
    np.testing.assert_array_equal(outputs["in_vocabulary"], [True, True, False, False, False])
    np.testing.assert_array_equal(outputs["vectors"], _EMBEDDINGS[[1, 3, 0, 0, 0]])


def test_nearest_returns_cosine_neighbours_without_self_or_unk(service):
    nearest = tf.function(service.nearest)
    outputs = nearest(tf.constant(["a", "e", "nope"]), tf.constant(2))
    assert outputs["neighbours"].dtype == tf.string and outputs["neighbours"].shape == (3, 2)
    assert outputs["similarities"].dtype == tf.float32
    np.testing.assert_array_equal(
        outputs["neighbours"].numpy().astype(str), [["b", "d"], ["c", "d"], ["a", "b"]]
    )
    normalized = word2vec.normalize(_EMBEDDINGS)
    np.testing.assert_allclose(
        outputs["similarities"][0], normalized[[2, 4]] @ normalized[1], rtol=1e-5
    )
    np.testing.assert_array_equal(outputs["in_vocabulary"], [True, True, False])
    assert nearest(tf.constant(["a"]), tf.constant(0))["neighbours"].shape == (1, 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="k must be"):
        nearest(tf.constant(["a"]), tf.constant(len(_VOCABULARY) - 1))


def test_endpoints_name_their_inputs_for_export(service):
    endpoints = service.endpoints()
    assert set(endpoints) == {"embed", "nearest"}
    assert [spec.name for spec in endpoints["nearest"][1]] == ["words", "k"]
    assert endpoints["embed"][1][0].shape.as_list() == [None]
    assert endpoints["nearest"][1][1].shape.rank == 0

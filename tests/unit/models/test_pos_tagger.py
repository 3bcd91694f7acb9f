import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import conll2000, word_shape
from fdl_tf2.models import pos_tagger


def _count(weights):
    return sum(int(np.prod(weight.shape)) for weight in weights)


def _tiny_tagger(matrix, **kwargs):
    return pos_tagger.build_pos_tagger(matrix, hidden_units=(8, 6), num_tags=5, seed=0, **kwargs)


def _matrix(vocabulary_size=12, size=4, seed=0):
    matrix = np.random.default_rng(seed).uniform(-0.25, 0.25, (vocabulary_size, size))
    matrix[conll2000.PAD_ID] = 0.0
    return matrix.astype(np.float32)


@pytest.mark.parametrize("batch_norm", pos_tagger.BATCH_NORM_KINDS)
def test_the_books_tagger_has_605572_trainable_parameters(batch_norm):
    matrix = np.zeros((50, 300), np.float32)
    book = pos_tagger.build_pos_tagger(matrix, faithful_sigmoid_logits=True, batch_norm=batch_norm)
    # 900*512+512 + 2*512 (BN) + 512*256+256 + 2*256 + 256*44+44 + 2*44 (the output's BN).
    assert _count(book.trainable_weights) == 605_572
    default = pos_tagger.build_pos_tagger(matrix, batch_norm=batch_norm)
    assert _count(default.trainable_weights) == 605_572 - 88  # A linear head: no output BN.
    head = book.get_layer("classifier")
    assert head.input_shape == (None, 900) and _count(head.trainable_weights) == 605_572
    assert book.get_layer("embedding").trainable is False
    embedding_weights = _count(book.get_layer("embedding").weights)
    assert embedding_weights == 50 * 300
    fine_tuned = pos_tagger.build_pos_tagger(matrix, trainable_embeddings=True)
    assert _count(fine_tuned.trainable_weights) == 605_484 + embedding_weights


def test_the_feature_tagger_has_703868_trainable_parameters():
    matrix = np.zeros((50, 300), np.float32)
    model = pos_tagger.build_pos_tagger(matrix, num_suffixes=1_153)
    assert model.input_shape == (None, 3, 3) and model.output_shape == (None, 44)
    assert pos_tagger.has_features(model) and not pos_tagger.has_features(
        pos_tagger.build_pos_tagger(matrix)
    )
    # Each position: 300 (word) + 8 (shape) + 32 (suffix) = 340, so 1020 inputs.
    # 1020*512+512 + 2*512 (BN) + 512*256+256 + 2*256 + 256*44+44 = 666,924 in the head,
    # + 6*8 (shape embedding) + 1153*32 (suffix embedding) = 48 + 36,896.
    assert _count(model.get_layer("classifier").trainable_weights) == 666_924
    assert _count(model.trainable_weights) == 666_924 + 48 + 36_896 == 703_868
    assert model.get_layer("embedding").trainable is False  # The word vectors stay frozen.
    assert model.get_layer("features").output.shape == (None, 3, 340)
    fine_tuned = pos_tagger.build_pos_tagger(matrix, num_suffixes=1_153, trainable_embeddings=True)
    assert _count(fine_tuned.trainable_weights) == 703_868 + 50 * 300


def test_feature_ids_are_embedded_per_position_and_concatenated():
    matrix = _matrix()
    model = _tiny_tagger(matrix, num_suffixes=7, shape_embedding_size=2, suffix_embedding_size=3)
    ids = np.array([[[0, 0, 0], [3, 4, 2], [7, 3, 6]], [[11, 1, 1], [0, 0, 0], [5, 5, 0]]])
    ids = ids.astype(np.int32)  # (batch 2, n 3, columns 3)
    shapes = model.get_layer("shape_embedding").embeddings.numpy()  # (6, 2)
    suffixes = model.get_layer("suffix_embedding").embeddings.numpy()  # (7, 3)
    expected = np.concatenate([matrix[ids[..., 0]], shapes[ids[..., 1]], suffixes[ids[..., 2]]], -1)
    features = keras.Model(model.input, model.get_layer("features").output)
    np.testing.assert_allclose(features(ids), expected, atol=1e-7)  # (2, 3, 4 + 2 + 3)
    logits = model(ids, training=False)
    assert logits.shape == (2, 5)
    np.testing.assert_allclose(
        logits, model.get_layer("classifier")(expected.reshape(2, 27), training=False), atol=1e-6
    )


def test_the_saved_feature_tagger_reloads(tmp_path):
    model = _tiny_tagger(_matrix(), num_suffixes=7)
    ids = np.random.default_rng(0).integers(0, 5, (4, 3, 3)).astype(np.int32)
    model.save(tmp_path / "tagger.keras")
    reloaded = keras.saving.load_model(tmp_path / "tagger.keras")
    np.testing.assert_allclose(reloaded(ids, training=False), model(ids, training=False), atol=1e-6)


def test_ids_are_embedded_with_the_cached_matrix_and_fed_to_the_books_network():
    matrix = _matrix()
    model = _tiny_tagger(matrix)
    np.testing.assert_array_equal(model.get_layer("embedding").embeddings.numpy(), matrix)
    ids = np.array([[0, 0, 3], [0, 3, 7], [3, 7, 11]], np.int32)
    logits = model(ids, training=False)
    assert logits.shape == (3, 5) and logits.dtype == tf.float32
    vectors = matrix[ids].reshape(3, 12)  # The book's concatenated window vectors.
    head = model.get_layer("classifier")
    np.testing.assert_allclose(logits, head(vectors, training=False), atol=1e-6)
    window = keras.Model(model.input, model.get_layer("window").output)
    np.testing.assert_array_equal(window(ids), vectors)


def test_the_faithful_head_ends_in_sigmoids_and_the_default_in_linear_logits():
    ids = np.random.default_rng(0).integers(0, 12, (16, 3)).astype(np.int32)
    faithful = _tiny_tagger(_matrix(), faithful_sigmoid_logits=True)
    outputs = faithful(ids, training=True).numpy()
    assert 0.0 < outputs.min() and outputs.max() < 1.0
    assert faithful.get_layer("classifier").get_layer("output_sigmoid") is not None
    linear = _tiny_tagger(_matrix())
    assert linear.get_layer("classifier").get_layer("output").activation.__name__ == "linear"


def test_softmax_over_sigmoid_outputs_cannot_go_below_2_8225_for_44_tags():
    floor = pos_tagger.sigmoid_logits_loss_floor(44)
    assert floor == pytest.approx(-math.log(math.e / (math.e + 43)))
    assert 2.8225 - 1e-4 < floor < 2.8225 + 1e-4
    assert pos_tagger.sigmoid_logits_loss_floor(2) == pytest.approx(0.3133, abs=1e-4)
    # A faithful model driven to perfectly confident sigmoids: output BN gamma 0, beta +-30.
    model = pos_tagger.build_pos_tagger(
        np.ones((10, 300), np.float32), faithful_sigmoid_logits=True
    )
    output_bn = model.get_layer("classifier").get_layer("output_bn")
    target = 7
    beta = np.full(44, -30.0, np.float32)
    beta[target] = 30.0
    output_bn.gamma.assign(np.zeros(44, np.float32))
    output_bn.beta.assign(beta)
    ids = np.random.default_rng(0).integers(0, 10, (32, 3)).astype(np.int32)
    outputs = model(ids, training=False)
    labels = np.full(32, target, np.int32)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=outputs).numpy()
    np.testing.assert_allclose(loss, floor, atol=1e-5)  # The floor is reached ...
    assert loss.min() >= 2.8225 - 1e-4  # ... and not passed.
    # Any sigmoid outputs stay above it; linear logits can go (far) below.
    random_outputs = tf.sigmoid(tf.random.normal((1000, 44), stddev=10.0, seed=1))
    random_labels = np.random.default_rng(1).integers(0, 44, 1000)
    random_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=random_labels, logits=random_outputs
    )
    assert float(tf.reduce_min(random_loss)) >= floor - 1e-6
    # Keras' own loss sees the sigmoid outputs too (it would swap in the pre-sigmoid tensor
    # of an Activation("sigmoid") output).
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    np.testing.assert_allclose(keras_loss(labels, outputs), loss, rtol=1e-6)
    linear_logits = np.repeat(beta[None], 32, axis=0)  # The same +-30, without the sigmoid.
    linear_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=linear_logits
    )
    assert float(tf.reduce_max(linear_loss)) < 1e-6


@pytest.mark.parametrize("faithful_sigmoid_logits", [False, True])
def test_a_few_adam_steps_lower_the_loss_on_a_fixed_batch(faithful_sigmoid_logits):
    rng = np.random.default_rng(0)
    ids = rng.integers(2, 12, (64, 3)).astype(np.int32)
    labels = (ids[:, -1] % 5).astype(np.int32)  # The tag is a function of the last word.
    model = _tiny_tagger(_matrix(), faithful_sigmoid_logits=faithful_sigmoid_logits)
    optimizer = keras.optimizers.Adam(0.01)

    def loss_value(training):
        logits = model(ids, training=training)
        return tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        )

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            loss = loss_value(True)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)

    before = float(loss_value(True))
    for _ in range(30):
        train_step()
    assert float(loss_value(True)) < before - 0.1
    np.testing.assert_array_equal(model.get_layer("embedding").embeddings.numpy(), _matrix())


@pytest.mark.parametrize("batch_norm", pos_tagger.BATCH_NORM_KINDS)
def test_the_saved_tagger_reloads_with_its_vectors(tmp_path, batch_norm):
    model = _tiny_tagger(
        _matrix(vocabulary_size=200), faithful_sigmoid_logits=True, batch_norm=batch_norm
    )
    ids = np.array([[0, 2, 3], [4, 5, 6]], np.int32)
    model(ids, training=True)  # Moves the moving moments off their start.
    model.save(tmp_path / "tagger.keras")
    reloaded = keras.saving.load_model(tmp_path / "tagger.keras")
    np.testing.assert_allclose(reloaded(ids, training=False), model(ids, training=False), atol=1e-6)
    np.testing.assert_array_equal(
        reloaded.get_layer("embedding").embeddings.numpy(), _matrix(vocabulary_size=200)
    )
    config = str(model.get_layer("embedding").get_config())
    assert "Constant" not in config and len(config) < 2_000  # Weights, not config values.


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="vocabulary_size"):
        pos_tagger.build_pos_tagger()
    with pytest.raises(ValueError, match="n_gram"):
        pos_tagger.build_pos_tagger(vocabulary_size=5, n_gram=0)
    with pytest.raises(ValueError, match="Unknown batch_norm"):
        pos_tagger.build_pos_tagger(vocabulary_size=5, batch_norm="layer")
    with pytest.raises(ValueError, match="2-D"):
        pos_tagger.build_pos_tagger(np.zeros(5))
    with pytest.raises(ValueError, match="num_tags"):
        pos_tagger.sigmoid_logits_loss_floor(1)


# --- The demo ---------------------------------------------------------------------------

_LOOKUP = {"<pad>": 0, "<unk>": 1, "home": 2, ".": 3, "Then": 4, "the": 5, "####": 6}


def test_demo_windows_take_the_left_context_from_the_prefix():
    sentence = ["Then", "the", "woman", "1989"]
    windows = pos_tagger.sentence_windows(sentence, _LOOKUP, 3, prefix=conll2000.DEMO_PREFIX)
    # The prefix ends "... home ."; "woman" is unknown (UNK); "1989" is found as "####".
    np.testing.assert_array_equal(windows, [[2, 3, 4], [3, 4, 5], [4, 5, 1], [5, 1, 6]])
    no_prefix = pos_tagger.sentence_windows(sentence, _LOOKUP, 3)
    np.testing.assert_array_equal(no_prefix[:2], [[0, 0, 4], [0, 4, 5]])
    short_prefix = pos_tagger.sentence_windows(sentence, _LOOKUP, 3, prefix=["."])
    np.testing.assert_array_equal(short_prefix[0], [0, 3, 4])
    unigrams = pos_tagger.sentence_windows(sentence, _LOOKUP, 1, prefix=conll2000.DEMO_PREFIX)
    np.testing.assert_array_equal(unigrams, [[4], [5], [1], [6]])
    assert windows.dtype == np.int32


def test_centred_demo_windows_take_one_word_of_the_prefix_and_pad_the_end():
    sentence = ["Then", "the", "woman", "1989"]
    windows = pos_tagger.sentence_windows(
        sentence, _LOOKUP, 3, prefix=conll2000.DEMO_PREFIX, window="centered"
    )
    # Left neighbour of "Then" is the prefix's "."; the last word's right neighbour is PAD.
    np.testing.assert_array_equal(windows, [[3, 4, 5], [4, 5, 1], [5, 1, 6], [1, 6, 0]])
    five = pos_tagger.sentence_windows(sentence, _LOOKUP, 5, window="centered")
    np.testing.assert_array_equal(five[0], [0, 0, 4, 5, 1])
    np.testing.assert_array_equal(five[3], [5, 1, 6, 0, 0])


def test_feature_demo_windows_use_the_spelling_that_was_found():
    suffixes = word_shape.SuffixVocabulary(("<pad>", "<unk>", "###", "hen"), 3)
    windows = pos_tagger.sentence_windows(
        ["Then", "1989", "woman"], _LOOKUP, 3, window="centered", suffixes=suffixes
    )
    assert windows.shape == (3, 3, 3) and windows.dtype == np.int32
    init_cap, digit, lower = (word_shape.SHAPE_IDS[k] for k in ("init_cap", "digit", "lower"))
    # "1989" is found as "####" (suffix "###"); "woman" is unknown but keeps its shape.
    np.testing.assert_array_equal(windows[1], [[4, init_cap, 3], [6, digit, 2], [1, lower, 1]])
    np.testing.assert_array_equal(windows[2, 2], [0, 0, 0])
    assert pos_tagger.sentence_windows([], _LOOKUP, 3, suffixes=suffixes).shape == (0, 3, 3)
    model = _tiny_tagger(_matrix(), num_suffixes=4)
    sentence, tags = ["Then", "1989"], ("A", "B", "C", "D", "E")
    tagged = pos_tagger.tag_sentence(
        model, sentence, _LOOKUP, tags, window="centered", suffixes=suffixes
    )
    windows = pos_tagger.sentence_windows(
        sentence, _LOOKUP, 3, window="centered", suffixes=suffixes
    )
    expected = np.argmax(model(windows, training=False), axis=-1)
    assert tagged == [(word, tags[i]) for word, i in zip(sentence, expected, strict=True)]
    with pytest.raises(ValueError, match="exactly for a model with word-shape features"):
        pos_tagger.tag_sentence(model, ["Then"], _LOOKUP, "ABCDE")


def test_tag_sentence_returns_the_arg_max_tag_of_each_word():
    model = _tiny_tagger(_matrix())
    tags = ("NN", "DT", "RB", ".", "VBD")
    sentence = conll2000.DEMO_SENTENCE
    tagged = pos_tagger.tag_sentence(model, sentence, _LOOKUP, tags, prefix=conll2000.DEMO_PREFIX)
    windows = pos_tagger.sentence_windows(sentence, _LOOKUP, 3, prefix=conll2000.DEMO_PREFIX)
    expected = np.argmax(model(windows, training=False), axis=-1)
    assert tagged == [(word, tags[index]) for word, index in zip(sentence, expected, strict=True)]
    lines = pos_tagger.format_tagged(tagged).splitlines()
    assert len(lines) == 18 and lines[0] == f"Then\t\t{tagged[0][1]}"


@pytest.mark.parametrize("n_gram", [1, 3])
def test_an_empty_sentence_has_no_windows(n_gram):
    windows = pos_tagger.sentence_windows([], _LOOKUP, n_gram, prefix=conll2000.DEMO_PREFIX)
    assert windows.shape == (0, n_gram) and windows.dtype == np.int32

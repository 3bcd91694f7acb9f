"""Tests of the chapter-7 sentiment LSTM: parameter count, readouts under masking, dropout,
the book's sigmoid head, XLA, and a short learning check on the synthetic task."""

import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import imdb
from fdl_tf2.models import sentiment
from tests import helpers

_VOCABULARY, _EMBEDDING, _UNITS, _LENGTH = 40, 8, 6, 10  # Small for testing speed.
_REVIEWS = ([5, 9, 3, 17, 2], [33], [4, 8, 15, 16, 23, 39, 12, 7, 30])  # 5, 1 and 10 tokens.


def _numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)


def _count(weights) -> int:
    return sum(int(np.prod(weight.shape)) for weight in weights)


def _small_model(readout="last", **kwargs) -> keras.Model:
    return sentiment.build_sentiment_lstm(
        _VOCABULARY, _EMBEDDING, _UNITS, readout=readout, max_length=_LENGTH, seed=3, **kwargs
    )


def _padded(reviews, padding: str, length: int = _LENGTH) -> np.ndarray:
    rows = []
    for review in reviews:
        pads = [0] * (length - len(review))
        rows.append(list(review) + pads if padding == "post" else pads + list(review))
    return np.array(rows, np.int32)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_lstm_outputs(model: keras.Model, review) -> np.ndarray:
    """Outputs h_t `(len(review), units)` of the model's LSTM on the unpadded review, in NumPy.

    Keras' gate order is i, f, c, o: z = x W + h U + b; c = f * c + i * tanh(z_c);
    h = o * tanh(c), with sigmoid i, f, o and zero initial states.
    """
    embeddings = _numpy(model.get_layer("embedding").embeddings)[list(review)]
    kernel, recurrent_kernel, bias = (_numpy(w) for w in model.get_layer("lstm").weights)
    h = np.zeros(kernel.shape[1] // 4)
    c = np.zeros_like(h)
    outputs = []
    for x in embeddings:
        z_i, z_f, z_c, z_o = np.split(x @ kernel + h @ recurrent_kernel + bias, 4)
        c = _sigmoid(z_f) * c + _sigmoid(z_i) * np.tanh(z_c)
        h = _sigmoid(z_o) * np.tanh(c)
        outputs.append(h)
    return np.array(outputs)


# --- Layout and parameter counts. ---


def test_book_model_has_17460230_trainable_parameters():
    model = sentiment.build_sentiment_lstm(faithful_sigmoid_logits=True, seed=0)

    # Embedding 30000 * 512; LSTM 4 * 512 * (512 + 512 + 1); Dense 512 * 2 + 2; BN gamma, beta.
    assert 15_360_000 + 2_099_200 + 1_026 + 4 == 17_460_230
    assert _count(model.trainable_weights) == 17_460_230
    assert _count(model.non_trainable_weights) == 4  # BN moving mean and variance.
    assert model.count_params() == 17_460_234
    counts = {layer.name: _count(layer.trainable_weights) for layer in model.layers}
    assert counts == {
        "token_ids": 0,
        "embedding": 15_360_000,
        "lstm": 2_099_200,
        "lstm_dropout": 0,
        "readout": 0,
        "output": 1_026,
        "output_bn": 4,
        "output_sigmoid": 0,
    }
    assert tuple(model.input.shape) == (None, 500) and model.input.dtype == "int32"
    assert tuple(model.output.shape) == (None, 2)


def test_default_head_has_17460226_parameters_and_the_books_initialisers():
    model = sentiment.build_sentiment_lstm(seed=0)

    assert model.count_params() == _count(model.trainable_weights) == 17_460_226
    embeddings = _numpy(model.get_layer("embedding").embeddings)
    assert abs(embeddings.mean()) < 1e-5
    assert abs(embeddings.std() / np.sqrt(1 / 30_000) - 1) < 0.01
    lstm = model.get_layer("lstm")
    assert lstm.units == 512 and lstm.dropout == 0.5 and not lstm.return_sequences
    bias = _numpy(lstm.weights[2])
    np.testing.assert_array_equal(bias[512:1024], 1.0)  # TF1's forget_bias=1.0.
    np.testing.assert_array_equal(np.delete(bias, np.s_[512:1024]), 0.0)
    assert model.get_layer("lstm_dropout").rate == 0.5
    kernel = _numpy(model.get_layer("output").kernel)
    assert abs(kernel.std() / np.sqrt(1 / 512) - 1) < 0.15


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="readout"):
        sentiment.build_sentiment_lstm(10, 4, 4, readout="mean")
    with pytest.raises(ValueError, match="dropout"):
        sentiment.build_sentiment_lstm(10, 4, 4, dropout=1.0)


# --- Readouts under masking. ---


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_last_readout_is_the_lstm_output_at_the_last_real_token(padding):
    model = _small_model("last")
    ids = _padded(_REVIEWS, padding)

    readout = _numpy(sentiment.readout_model(model)(ids, training=False))

    lstm, embedding = model.get_layer("lstm"), model.get_layer("embedding")
    for row, review in enumerate(_REVIEWS):
        expected = _numpy_lstm_outputs(model, review)[-1]
        np.testing.assert_allclose(readout[row], expected, atol=1e-5)
        alone = _numpy(lstm(embedding(np.array([review], np.int32))))[0]  # No padding at all.
        np.testing.assert_allclose(readout[row], alone, atol=1e-5)
    other = _padded(_REVIEWS, "pre" if padding == "post" else "post")
    np.testing.assert_allclose(
        _numpy(model(ids, training=False)), _numpy(model(other, training=False)), atol=1e-5
    )


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_max_readout_takes_the_maximum_over_real_steps_only(padding):
    model = _small_model("max")
    ids = _padded(_REVIEWS, padding)

    readout = _numpy(sentiment.readout_model(model)(ids, training=False))

    references = [_numpy_lstm_outputs(model, review).max(axis=0) for review in _REVIEWS]
    np.testing.assert_allclose(readout, np.array(references), atol=1e-5)
    # The test has teeth: some features are negative at every real step, so counting a pad
    # step (zero state or carried output) would change them.
    assert (np.array(references) < 0).any()
    # Pads are masked, not merely embedded: a huge pad embedding changes nothing.
    embedding = model.get_layer("embedding")
    table = _numpy(embedding.embeddings)
    table[0] = 1e3
    embedding.embeddings.assign(table)
    np.testing.assert_allclose(
        _numpy(sentiment.readout_model(model)(ids, training=False)), readout, atol=1e-5
    )


@pytest.mark.parametrize("readout", sentiment.READOUTS)
def test_an_all_padding_review_reads_out_zeros_and_gives_the_output_bias(readout):
    model = _small_model(readout)
    model.get_layer("output").bias.assign([0.25, -0.5])
    ids = np.zeros((2, _LENGTH), np.int32)

    features = _numpy(sentiment.readout_model(model)(ids, training=False))
    logits = _numpy(model(ids, training=False))

    np.testing.assert_array_equal(features, 0.0)
    np.testing.assert_allclose(logits, [[0.25, -0.5]] * 2, atol=1e-7)


def test_masked_max_over_time_layer():
    values = np.array(
        [[[1.0, -2.0], [3.0, -1.0], [9.0, 9.0]], [[-4.0, -5.0], [-3.0, -6.0], [0.0, 0.0]]],
        np.float32,
    )  # (batch 2, time 3, features 2)
    mask = np.array([[True, True, False], [False, True, False]])
    layer = sentiment.MaskedMaxOverTime()

    np.testing.assert_array_equal(_numpy(layer(values, mask=mask)), [[3.0, -1.0], [-3.0, -6.0]])
    np.testing.assert_array_equal(_numpy(layer(values)), [[9.0, 9.0], [0.0, 0.0]])
    nothing_real = np.zeros((2, 3), bool)
    np.testing.assert_array_equal(_numpy(layer(values, mask=nothing_real)), np.zeros((2, 2)))
    restored = sentiment.MaskedMaxOverTime.from_config(layer.get_config())
    np.testing.assert_array_equal(_numpy(restored(values, mask=mask)), [[3.0, -1.0], [-3.0, -6.0]])


# --- Dropout and the two heads. ---


@pytest.mark.parametrize("per_step_input_dropout", [False, True])
def test_dropout_is_on_in_training_and_off_in_evaluation(per_step_input_dropout):
    model = _small_model("max", per_step_input_dropout=per_step_input_dropout)
    ids = _padded(_REVIEWS, "post")

    evaluation = [_numpy(model(ids, training=False)) for _ in range(2)]
    training = [_numpy(model(ids, training=True)) for _ in range(2)]

    np.testing.assert_array_equal(evaluation[0], evaluation[1])
    assert not np.allclose(training[0], training[1])
    assert not np.allclose(training[0], evaluation[0])
    names = [layer.name for layer in model.layers]
    assert ("input_dropout" in names) == per_step_input_dropout
    assert model.get_layer("lstm").dropout == (0.0 if per_step_input_dropout else 0.5)


def test_faithful_head_feeds_sigmoid_outputs_to_the_softmax_with_a_loss_floor():
    model = _small_model("last", faithful_sigmoid_logits=True)
    ids = _padded(_REVIEWS, "post")
    targets = np.array([0, 1, 1], np.int32)

    outputs = _numpy(model(ids, training=True))  # Batch statistics: outputs spread in (0, 1).
    losses = _numpy(tf.nn.sparse_softmax_cross_entropy_with_logits(targets, outputs))

    assert ((outputs > 0) & (outputs < 1)).all()
    assert (losses >= sentiment.FAITHFUL_LOSS_FLOOR).all()
    assert sentiment.FAITHFUL_LOSS_FLOOR == pytest.approx(0.3132617, abs=1e-7)
    # The floor is reached by the perfect sigmoid outputs (1, 0).
    best = tf.nn.sparse_softmax_cross_entropy_with_logits([0], [[1.0, 0.0]])
    assert float(best[0]) == pytest.approx(sentiment.FAITHFUL_LOSS_FLOOR, abs=1e-6)
    assert [layer.name for layer in model.layers][-2:] == ["output_bn", "output_sigmoid"]


# --- cuDNN, XLA and the serving copy. ---


def test_lstm_use_cudnn_only_for_post_padding_without_xla():
    assert sentiment.lstm_use_cudnn("post", jit_compile=False) == "auto"
    assert sentiment.lstm_use_cudnn("post", jit_compile=True) is False
    assert sentiment.lstm_use_cudnn("pre", jit_compile=False) is False
    with pytest.raises(ValueError, match="padding"):
        sentiment.lstm_use_cudnn("middle", jit_compile=False)


def test_xla_compiled_training_step_matches_eager_for_both_paddings():
    model = _small_model("last", dropout=0.0, use_cudnn=False)
    # Post- and pre-padded rows and an empty review in one batch: one compilation.
    ids = np.concatenate([_padded(_REVIEWS, "post"), _padded((*_REVIEWS, []), "pre")])
    targets = tf.constant([0, 1, 1, 0, 1, 1, 0])
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(inputs, labels):
        logits = model(inputs, training=True)
        return tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        )

    @tf.function(jit_compile=True)
    def train_step(inputs, labels):
        with tf.GradientTape() as tape:
            loss = loss_of(inputs, labels)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        return loss

    eager_loss = float(loss_of(ids, targets))
    before = _numpy(model.get_layer("lstm").weights[0])
    assert float(train_step(ids, targets)) == pytest.approx(eager_loss, abs=1e-5)
    assert not np.array_equal(_numpy(model.get_layer("lstm").weights[0]), before)


def test_serving_copy_has_the_weights_and_outputs_without_cudnn():
    model = _small_model("max")
    ids = _padded((*_REVIEWS, []), "pre")

    copy = sentiment.serving_copy(model)

    assert copy.get_layer("lstm").use_cudnn is False
    assert model.get_layer("lstm").use_cudnn == "auto"
    np.testing.assert_array_equal(
        _numpy(copy(ids, training=False)), _numpy(model(ids, training=False))
    )


# --- Learning. ---


@pytest.mark.parametrize("sort_by_len", [False, True])
def test_last_readout_learns_an_early_sentiment_word_through_long_post_padding(
    tmp_path, sort_by_len
):
    # Reviews of 3-8 words (+ ".") with the sentiment word among the first 30 %, padded to 40:
    # the readout comes >= 31 pad steps after the word, which the mask skips. Trained by the
    # engine the experiment uses, in both training orders.
    options = dict(min_words=3, max_words=8, early_fraction=0.3, num_filler_words=20)
    train = imdb.synthetic_reviews("train", num_examples=1_600, **options)
    test = imdb.synthetic_reviews("test", num_examples=300, **options)
    data = imdb.from_reviews(train, test, name="synthetic", max_length=40, sort_by_len=sort_by_len)
    model = sentiment.build_sentiment_lstm(
        data.vocabulary_size, 16, 16, dropout=0.0, readout="last", max_length=40, seed=0
    )
    inputs, _ = data.splits["validation"]
    assert (np.count_nonzero(inputs, axis=1) <= 9).all()  # 8 words and a final ".".

    start = time.perf_counter()
    helpers.train_classifier(
        model, keras.optimizers.Adam(1e-2), data, tmp_path, batch_size=32, epochs=3
    )  # 3 * 45 = 135 steps.
    seconds = time.perf_counter() - start

    validation = helpers.evaluate_classifier(
        model, data.dataset("validation", batch_size=100, training=False)
    )
    assert validation["accuracy"] > 0.95, f"validation accuracy {validation['accuracy']:.3f}"
    assert seconds < 30.0

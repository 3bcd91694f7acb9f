"""The `sentiment_lstm` export of ch07.lstm_sentiment, tested on its reloaded SavedModel.

Raw review strings go in; the tokenisation runs in the graph. Empty, very long, non-ASCII and
invalid UTF-8 reviews get defined outputs; a wrong dtype or rank is refused.
"""

import numpy as np
import pytest
import tensorflow as tf

from experiments.ch07_sequences import lstm_sentiment
from fdl_tf2.data import imdb
from fdl_tf2.export import saved_model
from fdl_tf2.models import sentiment

_MAX_LENGTH = 12  # Small for testing speed; reviews of 5-40 words are often cut.
_BIAS = np.array([0.3, -0.2], np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module", params=["post", "pre"])
def exported(request, tmp_path_factory):
    """`(serve, model, data)`: the reloaded signature, the in-memory model and its data."""
    truncating = request.param
    train = imdb.synthetic_reviews("train", num_examples=200)
    test = imdb.synthetic_reviews("test", num_examples=20)
    data = imdb.from_reviews(
        train, test, name="synthetic", max_length=_MAX_LENGTH, truncating=truncating
    )
    model = sentiment.build_sentiment_lstm(
        data.vocabulary_size, 8, 6, readout="last", max_length=_MAX_LENGTH, seed=1
    )
    model.get_layer("output").bias.assign(_BIAS)
    endpoints, samples, track = lstm_sentiment.serving_endpoints(model, data)
    path = saved_model.export(
        lstm_sentiment.MODEL_NAME,
        endpoints=endpoints,
        samples=samples,
        track=track,
        export_dir=tmp_path_factory.mktemp(f"models_{truncating}"),
        verify=False,  # The reloaded signature is checked here, in this process.
    )
    serve = tf.saved_model.load(str(path)).signatures[saved_model.SIGNATURE_KEY]
    return serve, model, data


def _serve(serve, reviews) -> dict[str, np.ndarray]:
    outputs = serve(reviews=tf.constant(reviews, tf.string))
    return {name: value.numpy() for name, value in outputs.items()}


def _expected_probabilities(model, data, reviews) -> np.ndarray:
    """The in-memory model on ids cut and padded here in NumPy (post-padding, as trained)."""
    rows = []
    for ids in data.encoder.token_ids(tf.constant(reviews, tf.string)).to_list():
        if data.encoder.truncating == "post":
            ids = ids[:_MAX_LENGTH]
        else:
            ids = ids[-_MAX_LENGTH:]
        rows.append(ids + [imdb.PAD_ID] * (_MAX_LENGTH - len(ids)))
    logits = model(np.array(rows, np.int32), training=False)
    return _softmax(np.asarray(logits, np.float64))


def test_signature_takes_a_batch_of_strings_and_names_its_outputs(exported):
    serve, _, _ = exported
    inputs = serve.structured_input_signature[1]
    assert list(inputs) == ["reviews"]
    assert inputs["reviews"].dtype == tf.string and inputs["reviews"].shape.as_list() == [None]
    assert set(serve.structured_outputs) == {"probabilities", "positive_probability", "class_ids"}


def test_reloaded_outputs_equal_the_in_memory_model_on_test_reviews(exported):
    serve, model, data = exported
    reviews = list(data.texts["test"][:8])

    outputs = _serve(serve, reviews)

    expected = _expected_probabilities(model, data, reviews)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-6)
    np.testing.assert_array_equal(outputs["positive_probability"], outputs["probabilities"][:, 1])
    np.testing.assert_array_equal(outputs["class_ids"], expected.argmax(axis=1))
    assert outputs["class_ids"].dtype == np.int64


def test_an_empty_review_gets_the_softmax_of_the_output_bias(exported):
    serve, _, _ = exported

    outputs = _serve(serve, [b"", b"   ", b"<br /><br />"])

    np.testing.assert_allclose(outputs["probabilities"], [_softmax(_BIAS)] * 3, atol=1e-6)
    np.testing.assert_array_equal(outputs["class_ids"], [0, 0, 0])


def test_a_very_long_review_is_cut_to_max_length_tokens_as_in_training(exported):
    serve, model, data = exported
    words = data.encoder.vocabulary[2:]
    rng = np.random.default_rng(0)
    tokens = list(rng.choice(words, 5_000))  # 5,000 tokens, of which 12 are kept.
    long_review = " ".join(tokens).encode()
    kept = tokens[:_MAX_LENGTH] if data.encoder.truncating == "post" else tokens[-_MAX_LENGTH:]

    outputs = _serve(serve, [long_review, " ".join(kept).encode()])

    np.testing.assert_allclose(outputs["probabilities"][0], outputs["probabilities"][1], atol=1e-6)
    expected = _expected_probabilities(model, data, [long_review])
    np.testing.assert_allclose(outputs["probabilities"][:1], expected, atol=1e-6)


def test_non_ascii_and_invalid_utf8_reviews_give_probabilities(exported):
    serve, model, data = exported
    reviews = [
        "Ça, c'est génial ! 日本語のレビュー 👍".encode(),
        b"\xff\xfe broken \xc3 bytes superb",
        "superb\u00a0acting\u2028great".encode(),
    ]

    outputs = _serve(serve, reviews)

    probabilities = outputs["probabilities"]
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        probabilities, _expected_probabilities(model, data, reviews), atol=1e-6
    )


def test_a_wrong_dtype_or_rank_is_refused(exported):
    serve, _, _ = exported
    assert _serve(serve, [b"good"])["probabilities"].shape == (1, 2)  # The accepted layout.
    wrong = {
        "dtype": tf.constant([1, 2], tf.int32),  # Token ids instead of strings.
        "rank 0": tf.constant(b"a single review"),
        "rank 2": tf.constant([[b"good"], [b"bad"]]),
    }
    for label, bad in wrong.items():
        with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
            serve(reviews=bad)
            pytest.fail(f"accepted a wrong {label}")

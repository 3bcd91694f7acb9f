"""Pretrained (word2vec) embeddings of the sentiment LSTM, on the synthetic task (seconds)."""

import dataclasses

import numpy as np
import pytest

from experiments.ch07_sequences import lstm_sentiment
from fdl_tf2 import config as config_lib
from fdl_tf2.data import imdb
from fdl_tf2.models import sentiment


def _smoke(**overrides) -> lstm_sentiment.Config:
    config = config_lib.from_argv(lstm_sentiment.Config, lstm_sentiment.CONFIGS, ["--config=smoke"])
    return config_lib.replace(config, word2vec_epochs=1, **overrides)


@pytest.fixture(scope="module")
def data() -> imdb.SentimentData:
    smoke = _smoke()
    return imdb.sentiment_data(
        dataset="synthetic",
        vocabulary_size=smoke.vocabulary_size,
        max_length=smoke.max_length,
    )


def test_word2vec_sentences_are_the_encoders_tokens_with_unk_for_the_rest(data):
    vocabulary = data.encoder.vocabulary
    texts = np.array([b"Great w1 <br /><br /> qqqunseen .", b""], dtype=object)

    sentences = lstm_sentiment.word2vec_sentences(data.encoder, texts)

    assert sentences == [["great", "w1", imdb.UNK_TOKEN, "."]]  # The empty review is dropped.
    ids = data.encoder.token_ids(texts[:1]).to_list()[0]
    assert [vocabulary[token_id] for token_id in ids] == sentences[0]


def test_word2vec_rows_land_at_their_token_ids_and_pad_unk_stay_random(data, tmp_path):
    config = _smoke(pretrained_embeddings="word2vec_train")
    model = lstm_sentiment.build_model(config, data.vocabulary_size)
    random_rows = model.get_layer(sentiment.EMBEDDING_LAYER).get_weights()[0].copy()

    record = lstm_sentiment.initialise_embedding(model, config, data, tmp_path)

    vectors = lstm_sentiment.wv.load_vectors(tmp_path / lstm_sentiment.WORD2VEC_FILE)
    matrix = model.get_layer(sentiment.EMBEDDING_LAYER).get_weights()[0]
    vocabulary = data.encoder.vocabulary
    for word in ("great", "terrible", "w7", "."):
        token_id = vocabulary.index(word)
        np.testing.assert_allclose(matrix[token_id], vectors[word], rtol=1e-6)
        assert not np.allclose(matrix[token_id], random_rows[token_id])
    np.testing.assert_array_equal(matrix[list(sentiment.RANDOM_ROWS)], random_rows[:2])
    # min_count=1 over the vocabulary's tokens: every word of the vocabulary got a vector.
    assert record["rows_set"] == data.vocabulary_size - 2
    assert set(vectors.index_to_key) - {imdb.UNK_TOKEN} == set(vocabulary[2:])
    assert record["settings"]["vector_size"] == config.embedding_size
    assert record["settings"]["sg"] == 1 and not record["cached"]
    assert record["corpus"]["sentences"] == len(data.texts["train"])  # Training reviews only.
    assert model.get_layer(sentiment.EMBEDDING_LAYER).trainable


def test_a_resumed_run_reuses_the_cached_vectors_and_freezing_works(data, tmp_path):
    config = _smoke(pretrained_embeddings="word2vec_train", freeze_embedding=True)
    first = lstm_sentiment.build_model(config, data.vocabulary_size)
    lstm_sentiment.initialise_embedding(first, config, data, tmp_path)
    second = lstm_sentiment.build_model(config, data.vocabulary_size)

    record = lstm_sentiment.initialise_embedding(second, config, data, tmp_path)

    assert record["cached"] and record["frozen"]
    layer = second.get_layer(sentiment.EMBEDDING_LAYER)
    assert not layer.trainable and not layer.trainable_weights
    np.testing.assert_array_equal(
        layer.get_weights()[0], first.get_layer(sentiment.EMBEDDING_LAYER).get_weights()[0]
    )


def test_pretrained_embedding_matrix_skips_pad_unk_and_words_without_vectors():
    initial = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    vocabulary = ["", "[UNK]", "good", "bad", "rare"]
    vectors = {"": np.ones(3), "[UNK]": np.ones(3), "good": [7.0, 8, 9], "bad": [1.0, 2, 3]}

    matrix, found = sentiment.pretrained_embedding_matrix(initial, vocabulary, vectors)

    np.testing.assert_array_equal(matrix[[0, 1, 4]], initial[[0, 1, 4]])
    np.testing.assert_array_equal(matrix[2:4], [[7, 8, 9], [1, 2, 3]])
    np.testing.assert_array_equal(found, [False, False, True, True, False])
    with pytest.raises(ValueError, match="vocabulary_size, embedding_size"):
        sentiment.pretrained_embedding_matrix(initial[:4], vocabulary, vectors)
    with pytest.raises(ValueError, match="'good'"):
        sentiment.pretrained_embedding_matrix(initial, vocabulary, {"good": np.ones(4)})


def test_an_unknown_pretrained_embeddings_value_is_refused(data, tmp_path):
    config = _smoke(pretrained_embeddings="glove")
    with pytest.raises(ValueError, match="pretrained_embeddings must be one of"):
        lstm_sentiment.main(config)  # Refused before any data is read or run dir is made.
    model = lstm_sentiment.build_model(config, data.vocabulary_size)
    with pytest.raises(ValueError, match="'glove'"):
        lstm_sentiment.initialise_embedding(model, config, data, tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_default_keeps_the_random_embedding(data, tmp_path):
    config = _smoke()
    assert config.pretrained_embeddings == "none"
    model = lstm_sentiment.build_model(config, data.vocabulary_size)
    before = model.get_layer(sentiment.EMBEDDING_LAYER).get_weights()[0].copy()

    record = lstm_sentiment.initialise_embedding(model, config, data, tmp_path)

    assert record == {"name": "none", "frozen": False}
    np.testing.assert_array_equal(
        model.get_layer(sentiment.EMBEDDING_LAYER).get_weights()[0], before
    )
    assert not any(tmp_path.iterdir())


def test_the_config_fields_resolve_from_flags():
    config = config_lib.from_argv(
        lstm_sentiment.Config,
        lstm_sentiment.CONFIGS,
        ["--config=cpu", "--pretrained_embeddings=word2vec_train", "--freeze_embedding=True"],
    )
    assert config.pretrained_embeddings == "word2vec_train" and config.freeze_embedding
    assert dataclasses.replace(config, pretrained_embeddings="none", freeze_embedding=False) == (
        config_lib.from_argv(lstm_sentiment.Config, lstm_sentiment.CONFIGS, ["--config=cpu"])
    )


def test_a_smoke_run_trains_the_vectors_in_its_workdir_and_records_them(tmp_path):
    config = _smoke(
        pretrained_embeddings="word2vec_train",
        workdir=str(tmp_path / "run"),
        max_steps=20,
        export=False,
        tensorboard=False,
    )

    results = lstm_sentiment.main(config)

    embedding = results["pretrained_embeddings"]
    assert embedding["name"] == "word2vec_train" and not embedding["cached"]
    assert embedding["path"] == str(tmp_path / "run" / lstm_sentiment.WORD2VEC_FILE)
    assert embedding["training_seconds"] >= 0 and embedding["rows_set"] > 0
    assert (tmp_path / "run" / f"{lstm_sentiment.WORD2VEC_FILE}.json").is_file()


def test_the_cpu_w2v_preset_is_the_cpu_model_for_3_epochs_from_word2vec():
    cpu = config_lib.from_argv(lstm_sentiment.Config, lstm_sentiment.CONFIGS, ["--config=cpu"])
    cpu_w2v = config_lib.from_argv(
        lstm_sentiment.Config, lstm_sentiment.CONFIGS, ["--config=cpu_w2v"]
    )
    assert cpu_w2v == dataclasses.replace(cpu, epochs=3, pretrained_embeddings="word2vec_train")
    assert not cpu_w2v.freeze_embedding and cpu_w2v.word2vec_epochs == 5

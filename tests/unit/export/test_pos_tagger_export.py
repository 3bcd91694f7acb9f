from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from experiments.ch07_sequences import pos_tagger as experiment
from fdl_tf2 import config as config_lib
from fdl_tf2.data import conll2000, word_shape
from fdl_tf2.export import saved_model, text_endpoints
from fdl_tf2.models import pos_tagger

FIXTURE = Path(__file__).parents[2] / "fixtures" / "conll2000_tiny.txt"

# A vocabulary laid out as `VectorCache`'s: PAD, UNK, then words; `found` marks the words with
# a source vector. "a_b", "b_a" and "b_c" chain (greedy merging is tested on them), "buy_out"
# has a vector, "high_school" and "x_y" are known words without one.
WORDS = (
    *conll2000.SPECIAL_TOKENS,
    "the", "New_York", "New", "York", "a_b", "b_a", "b_c", "a", "b", "c", "buy_out", "buy",
    "out", "high_school", "high", "school", "#.#", "####", "%", "rose", "in", ".", "x_y",
    "caf\u00e9", "#",
)  # fmt: skip
FOUND = np.array([w not in (*conll2000.SPECIAL_TOKENS, "high_school", "x_y") for w in WORDS])
TAGS = ("DT", "NNP", "NN", "VBD", "IN", ".")
LOOKUP = {word: index for index, word in enumerate(WORDS)}


def _in_vectors(word):
    return word in LOOKUP and bool(FOUND[LOOKUP[word]])


def _book_words(sentence, max_tokens=text_endpoints.MAX_TOKENS):
    """The reference: the book's preprocessing with one tag for every word, then the cuts."""
    tokens = [(word, "X") for word in sentence.split()[:max_tokens]]
    return [word for word, _ in conll2000.preprocess_tokens(tokens, _in_vectors)][:max_tokens]


def _model(n_gram=3):
    return pos_tagger.build_pos_tagger(
        np.random.default_rng(0).normal(size=(len(WORDS), 4)).astype(np.float32),
        n_gram=n_gram,
        hidden_units=(8,),
        num_tags=len(TAGS),
        seed=0,
    )


def _service(model=None, **kwargs):
    return text_endpoints.PosTaggerService(model or _model(), WORDS, FOUND, TAGS, **kwargs)


SUFFIXES = word_shape.SuffixVocabulary(("<pad>", "<unk>", "the", "ork", "#.#", "ose", "\u00e9"), 3)
"""A suffix vocabulary of 3-character suffixes (hand-made; a run builds it from training)."""


def _feature_model():
    return pos_tagger.build_pos_tagger(
        np.random.default_rng(0).normal(size=(len(WORDS), 4)).astype(np.float32),
        hidden_units=(8,),
        num_tags=len(TAGS),
        num_suffixes=len(SUFFIXES),
        shape_embedding_size=2,
        suffix_embedding_size=3,
        seed=0,
    )


def _feature_service(model=None, **kwargs):
    return text_endpoints.PosTaggerService(
        model or _feature_model(),
        WORDS,
        FOUND,
        TAGS,
        window="centered",
        suffixes=SUFFIXES,
        **kwargs,
    )


@pytest.fixture(scope="module")
def preprocess():
    """The service's preprocessing, traced once: sentences `(batch,)` -> words as lists."""
    service = _service(max_tokens=6)
    traced = tf.function(
        service.preprocess, input_signature=[tf.TensorSpec((None,), tf.string)], autograph=False
    )

    def run(sentences):
        tokens, _ = traced(tf.constant(sentences, tf.string))
        return [[token.decode() for token in row] for row in tokens.to_list()]

    return run


def _decode(row, length):
    return [value.decode() for value in row[:length]]


# --- Tokens and normalisation -------------------------------------------------------------


def test_sentences_split_on_exactly_the_characters_python_splits_on():
    spaces = [chr(c) for c in range(0x3100) if chr(c).isspace()]
    assert len(spaces) == 29 and "\v" in spaces and "\u3000" in spaces
    text = "".join(f"w{index}{space}" for index, space in enumerate(spaces)) + "\u200bz"
    tokens, truncated = text_endpoints.whitespace_tokens(tf.constant([text, "", " \t "]))
    assert tokens.to_list() == [[t.encode() for t in text.split()], [], []]
    assert not truncated.numpy().any()


def test_only_max_tokens_are_read_and_longer_sentences_are_flagged():
    tokens, truncated = text_endpoints.whitespace_tokens(tf.constant(["a b c d", "a b c"]), 3)
    assert tokens.to_list() == [[b"a", b"b", b"c"], [b"a", b"b", b"c"]]
    np.testing.assert_array_equal(truncated, [True, False])


def test_in_graph_normalisation_is_the_books_for_every_unicode_digit():
    words = ["3.5", "buy-out", "1989", "\u0663\u0664-x", "--", "caf\u00e9", "\uff15"]
    normalized = text_endpoints.normalize_words(tf.constant(words)).numpy()
    assert [w.decode() for w in normalized] == [conll2000.normalize_word(w) for w in words]


def test_invalid_utf8_becomes_the_replacement_character():
    sanitized = text_endpoints.sanitize(tf.constant([b"ok \xff\xfe x", b"caf\xc3\xa9"])).numpy()
    assert sanitized.tolist() == ["ok \ufffd\ufffd x".encode(), "caf\u00e9".encode()]


# --- The book's preprocessing in the graph ------------------------------------------------


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("the New York rose", ["the", "New_York", "rose"]),  # Branch 1: a phrase.
        ("a b c", ["a_b", "c"]),  # Greedy from the left: "b_c" loses its "b".
        ("a b a b", ["a_b", "a_b"]),  # A run of four candidates merges pairs 1 and 3.
        ("b a b c", ["b_a", "b_c"]),
        ("3.5 % in 1989", ["#.#", "%", "in", "####"]),  # Branch 2 then 3.
        ("buy-out high-school x-y", ["buy_out", "high", "school", "x", "y"]),  # 3 and 4.
        ("-- __ -x- unknown-", ["x", "unknown"]),  # Dash-only words vanish (the book's).
        ("New", ["New"]),  # No next word: nothing to merge.
    ],
)
def test_preprocessing_equals_the_books_with_one_tag_for_every_word(preprocess, sentence, expected):
    assert preprocess([sentence]) == [expected] and expected == _book_words(sentence, 6)


def test_preprocessing_matches_the_book_on_random_sentences_and_the_fixture(preprocess):
    pool = ["a", "b", "c", "New", "York", "buy-out", "x-y", "3.5", "--", "the", "zzz", "high"]
    rng = np.random.default_rng(0)
    sentences = [" ".join(rng.choice(pool, rng.integers(0, 9))) for _ in range(200)]
    sentences += [" ".join(w for w, _ in s) for s in conll2000.read_conll(FIXTURE)]
    for sentence, words in zip(sentences, preprocess(sentences), strict=True):
        assert words == _book_words(sentence, 6), sentence


@pytest.mark.parametrize("window", conll2000.WINDOWS)
def test_windows_are_those_of_sentence_windows(window):
    sentences = [["the", "New_York", "rose"], [], ["a"], ["zzz", "a", "b", "c", "."]]
    ids = tf.ragged.constant([[LOOKUP.get(w, 1) for w in s] for s in sentences], tf.int32)
    for n_gram in (1, 3, 5):
        windows = text_endpoints.context_windows(ids, n_gram, window).numpy()
        assert windows.shape == (4, 5, n_gram)
        for row, sentence in enumerate(sentences):
            if sentence:  # (`sentence_windows` cannot take an empty sentence.)
                expected = pos_tagger.sentence_windows(sentence, LOOKUP, n_gram, window=window)
                np.testing.assert_array_equal(windows[row, : len(sentence)], expected)


def test_feature_windows_are_those_of_sentence_windows():
    sentences = [["the", "New_York", "rose"], [], ["Zzz", "#.#"]]
    service = _feature_service()
    ids = tf.ragged.constant(sentences, tf.string)
    rows = ids.with_flat_values(service.token_ids(ids.flat_values))  # (3, (time), 3)
    windows = text_endpoints.context_windows(rows, 3, "centered").numpy()
    assert windows.shape == (3, 3, 3, 3)
    for row, sentence in enumerate(sentences):
        if sentence:
            expected = pos_tagger.sentence_windows(
                sentence, LOOKUP, 3, window="centered", suffixes=SUFFIXES
            )
            np.testing.assert_array_equal(windows[row, : len(sentence)], expected)


def test_tags_are_the_models_arg_max_on_the_processed_words():
    model = _model()
    service = _service(model)
    sentences = ["the New York rose in 3.5 % .", "", "caf\u00e9 a b c b"]
    outputs = service.tag(tf.constant(sentences))
    tags, tokens, lengths = (outputs[k].numpy() for k in ("tags", "tokens", "lengths"))
    assert tags.shape == tokens.shape == (3, 7) and lengths.tolist() == [7, 0, 4]
    for row, sentence in enumerate(sentences):
        words = _book_words(sentence)
        assert _decode(tokens[row], lengths[row]) == words
        if words:
            windows = pos_tagger.sentence_windows(words, LOOKUP, 3)
            expected = np.argmax(model(windows, training=False), axis=-1)
            assert _decode(tags[row], lengths[row]) == [TAGS[i] for i in expected]
        assert (tags[row, lengths[row] :] == b"").all() and (
            tokens[row, lengths[row] :] == b""
        ).all()


def test_a_service_refuses_inconsistent_vocabularies_and_tags():
    with pytest.raises(ValueError, match="found flags"):
        text_endpoints.PosTaggerService(_model(), WORDS, FOUND[:-1], TAGS)
    with pytest.raises(ValueError, match="must start with"):
        text_endpoints.PosTaggerService(_model(), WORDS[::-1], FOUND, TAGS)
    with pytest.raises(ValueError, match="6 outputs"):
        text_endpoints.PosTaggerService(_model(), WORDS, FOUND, TAGS[:-1])


# --- The reloaded export ------------------------------------------------------------------


def _export(service, export_dir) -> str:
    """Exports `service` as "pos_tagger" under `export_dir`; returns the version's path."""
    samples = np.array([b"the New York rose .", b""], dtype=np.bytes_)
    return saved_model.export(
        "pos_tagger",
        endpoints=service.endpoints(),
        samples={"serving_default": (samples,)},
        track=[service, service.model],
        export_dir=export_dir,
        verify=False,  # The smoke preset verifies in a fresh process; this reloads here.
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`(reloaded serving_default, in-memory tag function)` of a tiny tagger."""
    service = _service()
    path = _export(service, tmp_path_factory.mktemp("models"))
    return tf.saved_model.load(str(path)).signatures["serving_default"], service.tag


def test_the_reloaded_export_equals_the_in_memory_tagger(exported):
    serve, tag = exported
    sentences = tf.constant(["the New York rose in 3.5 % .", "a b c", "zzz"])
    reloaded, expected = serve(sentences=sentences), tag(sentences)
    assert set(reloaded) == {"tokens", "tags", "lengths", "truncated"}
    for name, value in expected.items():
        np.testing.assert_array_equal(reloaded[name].numpy(), value.numpy(), err_msg=name)
    assert reloaded["lengths"].dtype == tf.int32


def test_the_export_gives_empty_strings_and_empty_batches_length_zero(exported):
    serve, _ = exported
    outputs = serve(sentences=tf.constant(["", "  \t\n ", "the"]))
    assert outputs["lengths"].numpy().tolist() == [0, 0, 1]
    assert outputs["tags"].shape == (3, 1) and outputs["tags"].numpy()[:2].tolist() == [[b""]] * 2
    empty = serve(sentences=tf.constant([], tf.string))
    assert empty["tags"].shape == (0, 0) and empty["lengths"].shape == (0,)


def test_the_export_tags_at_most_max_tokens_of_a_very_long_input(exported):
    serve, _ = exported
    long_sentence = " ".join(["the", "New", "York"] * 100_000)  # 300,000 tokens, 3.3 MB.
    outputs = serve(sentences=tf.constant([long_sentence, "a b c"]))
    lengths = outputs["lengths"].numpy()
    # 512 words read: 170 x (the, New, York) + (the, New) -> 170 x (the, New_York) + 2.
    assert lengths.tolist() == [342, 2] and len(_book_words(long_sentence)) == 342
    assert outputs["truncated"].numpy().tolist() == [True, False]
    assert outputs["tags"].shape == (2, lengths[0])
    assert set(outputs["tags"].numpy()[0].tolist()) <= {t.encode() for t in TAGS}


def test_the_export_tags_non_ascii_and_invalid_utf8_without_error(exported):
    serve, _ = exported
    sentences = ["caf\u00e9 \u00fcber \u6f22\u5b57 \U0001f600 \u0663\u0664 .".encode(),
                 b"\xff\xfe the \xc3"]  # fmt: skip
    outputs = serve(sentences=tf.constant(sentences))
    lengths = outputs["lengths"].numpy().tolist()
    tokens = [_decode(row, n) for row, n in zip(outputs["tokens"].numpy(), lengths, strict=True)]
    assert tokens == [
        ["caf\u00e9", "\u00fcber", "\u6f22\u5b57", "\U0001f600", "##", "."],
        ["\ufffd\ufffd", "the", "\ufffd"],
    ]
    tags = outputs["tags"].numpy()
    assert all(tags[r, i].decode() in TAGS for r in range(2) for i in range(lengths[r]))


@pytest.mark.parametrize(
    "bad",
    [
        lambda: tf.constant([1, 2], tf.int32),
        lambda: tf.constant("the New York rose"),  # A scalar.
        lambda: tf.constant([["the"]]),  # (1, 1).
    ],
    ids=["int32", "scalar", "rank2"],
)
def test_the_export_refuses_a_wrong_dtype_or_rank(exported, bad):
    serve, _ = exported
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        serve(sentences=bad())


# --- The experiment's pieces --------------------------------------------------------------


@pytest.mark.parametrize("num_windows, batch_size", [(23, 5), (10, 3), (7, 7)])
def test_book_minibatch_stream_replays_the_repos_pointer_from_any_step(num_windows, batch_size):
    windows = np.arange(num_windows * 3, dtype=np.int32).reshape(num_windows, 3)
    labels = np.arange(num_windows, dtype=np.int32)
    book = conll2000.BookMinibatches(windows, labels)
    stream = experiment.book_minibatch_stream(windows, labels, batch_size)
    batches = [labels for _, labels in stream(0).take(40).as_numpy_iterator()]
    for got in batches:
        expected = book.minibatch(batch_size)[1]
        # The repo's one over-long batch (ptr + size == M - 1) loses its extra last window.
        assert got.tolist() == expected[:batch_size].tolist()
    resumed = [labels for _, labels in stream(17).take(5).as_numpy_iterator()]
    np.testing.assert_array_equal(np.stack(resumed), np.stack(batches[17:22]))


def test_the_project_vectors_file_is_named_by_its_dimension(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    config = experiment.Config()
    assert experiment.vectors_file(config).name == "gutenberg_conll2000_sg300.bin"
    small = experiment.vectors_file(experiment.Config(embedding_size=50))
    assert small.name == "gutenberg_conll2000_sg50.bin" and small.parent.is_relative_to(tmp_path)
    given = experiment.vectors_file(experiment.Config(vectors="~/GoogleNews.bin"))
    assert given == Path("~/GoogleNews.bin").expanduser()


def test_the_synthetic_corpus_exercises_every_preprocessing_branch(tmp_path):
    config = experiment.Config(dataset="synthetic", embedding_size=8)
    cache, corpus, _ = experiment.synthetic_vectors(config, tmp_path)
    words = set(corpus.words())
    assert {"New_York", "#.#", "####", "buy_out", "old", "fashioned", "Diego"} <= words
    assert not cache.in_vectors("Diego") and cache.in_vectors("New_York")
    assert [len(corpus.splits[s]) for s in conll2000.SPLITS] == [320, 40, 40]
    assert corpus.num_tags == 11 and cache.embedding_size == 8


# --- Word-shape features in the graph -----------------------------------------------------

# Every branch of `word_shape.shape_id` and `suffix` (their values are checked by hand in
# tests/unit/data/test_conll2000.py): empty, one character, capitals, digits, phrases,
# punctuation, non-ASCII letters (one and two UTF-8 bytes and more), an emoji.
FEATURE_WORDS = [
    "", "a", "A", "the", "Dealers", "McDonald", "iPhone", "IBM", "U.S.", "New_York", "####",
    "#.#", "####s", "1989", "%", "--", "caf\u00e9", "CAF\u00c9", "\u00dcber", "\u00c9T\u00c9",
    "\u6f22\u5b57", "\U0001f600x", "\u00e9", "ose", "rose", "ROSE",
]  # fmt: skip


@pytest.mark.parametrize("length", [1, 2, 3, 5])
def test_in_graph_shapes_and_suffixes_equal_the_python_ones(length):
    words = tf.constant(FEATURE_WORDS)
    shapes = text_endpoints.shape_ids(words).numpy().tolist()
    assert shapes == [word_shape.shape_id(word) for word in FEATURE_WORDS]
    suffixes = [s.decode() for s in text_endpoints.suffixes_of(words, length).numpy()]
    assert suffixes == [word_shape.suffix(word, length) for word in FEATURE_WORDS]
    grid = tf.reshape(words[:24], (4, 6))  # Any shape.
    assert text_endpoints.shape_ids(grid).shape == (4, 6)


def test_in_graph_token_ids_equal_word_features():
    service = _feature_service()
    ids = service.token_ids(tf.constant(FEATURE_WORDS)).numpy()
    expected = word_shape.word_features(FEATURE_WORDS, LOOKUP, SUFFIXES)
    assert ids.shape == (len(FEATURE_WORDS), 3) and ids.dtype == np.int32
    np.testing.assert_array_equal(ids, expected)
    assert set(ids[:, 2]) == {1, 2, 3, 4, 5, 6}  # Every kept suffix and UNK occur.


def test_a_feature_service_needs_its_suffixes_and_a_valid_window():
    with pytest.raises(ValueError, match="exactly for a model with word-shape features"):
        text_endpoints.PosTaggerService(_feature_model(), WORDS, FOUND, TAGS)
    with pytest.raises(ValueError, match="exactly for a model with word-shape features"):
        _service(suffixes=SUFFIXES)
    with pytest.raises(ValueError, match="odd n"):
        _service(_model(n_gram=4), window="centered")


@pytest.fixture(scope="module")
def exported_features(tmp_path_factory):
    """`(reloaded serving_default, in-memory service)` of a tiny centred feature tagger."""
    service = _feature_service()
    path = _export(service, tmp_path_factory.mktemp("feature_models"))
    return tf.saved_model.load(str(path)).signatures["serving_default"], service


def test_the_reloaded_feature_export_equals_the_in_memory_model(exported_features):
    serve, service = exported_features
    sentences = ["the New York rose in 3.5 % .", "ROSE caf\u00e9 Zzz", "", "a"]
    reloaded = serve(sentences=tf.constant(sentences))
    expected = service.tag(tf.constant(sentences))
    for name, value in expected.items():
        np.testing.assert_array_equal(reloaded[name].numpy(), value.numpy(), err_msg=name)
    tags, lengths = reloaded["tags"].numpy(), reloaded["lengths"].numpy()
    assert lengths.tolist() == [7, 3, 0, 1]
    for row, sentence in enumerate(sentences):
        words = _book_words(sentence)
        if words:  # The model on the Python pipeline's windows of the processed words.
            windows = pos_tagger.sentence_windows(
                words, LOOKUP, 3, window="centered", suffixes=SUFFIXES
            )
            predicted = np.argmax(service.model(windows, training=False), axis=-1)
            assert _decode(tags[row], lengths[row]) == [TAGS[i] for i in predicted]


def test_the_feature_export_serves_non_ascii_and_very_long_input(exported_features):
    serve, _ = exported_features
    long_sentence = " ".join(["The", "New", "York", "ROSE"] * 50_000)  # 200,000 tokens.
    sentences = ["\u00c9T\u00c9 \u6f22\u5b57 \U0001f600 \u0663 .".encode(), b"\xff x",
                 long_sentence.encode()]  # fmt: skip
    outputs = serve(sentences=tf.constant(sentences))
    lengths = outputs["lengths"].numpy().tolist()
    # 512 words read: 128 x (The, New_York, ROSE); "\u0663" -> "#"; "\xff" -> U+FFFD.
    assert lengths == [5, 2, 384] and outputs["truncated"].numpy().tolist() == [0, 0, 1]
    assert outputs["tokens"].numpy()[0, 3].decode() == "#"
    tags = outputs["tags"].numpy()
    assert all(tags[r, i].decode() in TAGS for r in range(3) for i in range(lengths[r]))
    empty = serve(sentences=tf.constant([], tf.string))
    assert empty["tags"].shape == (0, 0) and empty["lengths"].shape == (0,)


@pytest.mark.parametrize(
    "bad",
    [lambda: tf.constant([1.0]), lambda: tf.constant("a b"), lambda: tf.constant([["a"]])],
    ids=["float32", "scalar", "rank2"],
)
def test_the_feature_export_refuses_a_wrong_dtype_or_rank(exported_features, bad):
    serve, _ = exported_features
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        serve(sentences=bad())


def test_the_experiment_trains_and_exports_a_centred_feature_tagger(tmp_path):
    """End to end on the synthetic corpus (the smoke harness runs only the "smoke" preset)."""
    config = config_lib.from_argv(
        experiment.Config,
        experiment.CONFIGS,
        [
            "--config=smoke",
            "--window=centered",
            "--word_features=true",
            "--suffix_min_count=1",
            f"--workdir={tmp_path / 'run'}",
            "--verify_export=false",  # Reloaded below instead.
            "--tensorboard=false",
        ],
    )
    results = experiment.main(config)
    raw = experiment.synthetic_splits(config.seed)
    _, corpus, _ = experiment.synthetic_vectors(config, tmp_path / "vectors")
    suffixes = corpus.suffix_vocabulary(3, 1)
    assert results["suffixes"] == len(suffixes) > 2
    head = (3 * (16 + 8 + 32)) * 512 + 512 + 2 * 512 + 512 * 256 + 256 + 2 * 256 + 256 * 11 + 11
    assert results["trainable_parameters"] == head + 6 * 8 + len(suffixes) * 32
    by_word = results["test_by_word"]  # Every synthetic test word occurs in training.
    assert by_word["unseen_tokens"] == 0 and by_word["unseen_accuracy"] is None
    assert by_word["seen_accuracy"] == pytest.approx(results["test_accuracy"], abs=1e-6)
    assert results["export_test"]["tokens"] == sum(len(s) for s in corpus.splits["test"])
    serve = tf.saved_model.load(results["export"]).signatures["serving_default"]
    sentence = " ".join(word for word, _ in raw["test"][0])
    outputs = serve(sentences=tf.constant([sentence]))
    assert outputs["lengths"].numpy().tolist() == [len(corpus.splits["test"][0])]

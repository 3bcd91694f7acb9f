import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fdl_tf2.data import conll2000
from fdl_tf2.data import word_vectors as wv

KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # The "text" extra.
datapath = pytest.importorskip("gensim.test.utils").datapath

FIXTURE = Path(__file__).parents[2] / "fixtures" / "conll2000_tiny.txt"
BINARY_VECTORS = Path(datapath("euclidean_vectors.bin"))  # 2,747 x 10, binary.
TEXT_VECTORS = Path(datapath("word2vec_pre_kv_c"))  # 1,750 x 10, text.


def _fixture_splits():
    sentences = conll2000.read_conll(FIXTURE)
    return {"train": sentences[:2], "validation": sentences[2:3], "test": sentences[3:]}


def _fixture_vectors(size=10):
    """Vectors with the fixture's phrases: New_York merges, high_school has unequal tags."""
    keys = ["the", "in", "New_York", "high_school", "buy_out", "#.#", ".", "never_emitted"]
    weights = np.random.default_rng(1).normal(size=(len(keys), size)).astype(np.float32)
    vectors = KeyedVectors(size)
    vectors.add_vectors(keys, weights)
    return vectors


# --- Tokenising for tagging -------------------------------------------------------------


def test_tokenize_follows_the_penn_treebank_conventions_and_keeps_case():
    text = (
        "\"I don't know,\" said Mr. Smith of the U.S. (in 1989) -- it cost $1,000 or 1/2 of John's."
    )
    assert wv.tokenize(text) == [
        ["``", "I", "do", "n't", "know", ",", "''", "said", "Mr.", "Smith", "of", "the",
         "U.S.", "-LRB-", "in", "1989", "-RRB-", "--", "it", "cost", "$", "1,000", "or",
         "1\\/2", "of", "John", "'s", "."],
    ]  # fmt: skip


def test_tokenize_ends_sentences_after_final_punctuation_and_at_paragraphs():
    text = "Alice was _very_ tired!' said she. Caf\xe9s close?\n\nNo\nmore. well-known"
    assert wv.tokenize(text) == [
        ["Alice", "was", "very", "tired", "!", "'"],
        ["said", "she", "."],
        ["Cafes", "close", "?"],
        ["No", "more", "."],
        ["well-known"],
    ]


def test_conll_sentences_are_normalised_like_the_preprocessing():
    sentences = conll2000.read_conll(FIXTURE)
    words = wv.conll_sentences(sentences)
    assert words[1][5:] == ["#.#", "%", "in", "####", "."]
    assert words[2][1] == "buy_out" and words[2][12] == "__"


@pytest.mark.data
def test_gutenberg_sentences_are_cased_normalised_tokens():
    root = os.environ.get("FDL_DATA_DIR")
    if not root or not (Path(root) / "text" / "gutenberg" / "blake-poems.txt.gz").is_file():
        pytest.skip("the Gutenberg books need $FDL_DATA_DIR (e.g. ../shared/data)")
    sentences = wv.gutenberg_sentences(["blake-poems"], data_dir=root)
    tokens = [token for sentence in sentences for token in sentence]
    assert 5_000 < len(tokens) < 12_000
    assert tokens[:7] == ["_LSB_", "Poems", "by", "William", "Blake", "####", "_RSB_"]
    assert "Lamb" in tokens and "``" in tokens and "," in tokens
    assert not any(any(char.isdigit() or char == "-" for char in token) for token in tokens)
    with pytest.raises(ValueError, match="Unknown Gutenberg books"):
        wv.gutenberg_sentences(["tolkien-hobbit"], data_dir=root)


# --- Loading ----------------------------------------------------------------------------


def test_load_vectors_reads_gensims_binary_and_text_test_files():
    binary = wv.load_vectors(BINARY_VECTORS)  # Binary, from the ".bin" name.
    assert (len(binary), binary.vector_size) == (2_747, 10)
    text = wv.load_vectors(TEXT_VECTORS)
    assert (len(text), text.vector_size) == (1_750, 10)
    limited = wv.load_vectors(BINARY_VECTORS, limit=100)
    assert len(limited) == 100 and limited.index_to_key == binary.index_to_key[:100]
    np.testing.assert_array_equal(limited["said"], binary["said"])
    assert binary["the"].dtype == np.float32


def test_load_vectors_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="GoogleNews-vectors-negative300.bin"):
        wv.load_vectors(tmp_path / "GoogleNews-vectors-negative300.bin")


def test_train_vectors_on_a_tiny_corpus_writes_a_loadable_binary_file(tmp_path):
    rng = np.random.default_rng(0)
    vocabulary = ["the", "cat", "dog", "sat", "ran", "on", "mat", ",", "."]
    sentences = [list(rng.choice(vocabulary, 12)) for _ in range(30)]  # 360 tokens.
    path = wv.train_vectors(
        tmp_path / "tiny.bin", sentences=sentences, vector_size=10, min_count=1, epochs=2, workers=1
    )
    vectors = wv.load_vectors(path)
    assert vectors.vector_size == 10 and set(vectors.index_to_key) == set(vocabulary)
    record = json.loads(Path(f"{path}.json").read_text())
    assert record["settings"]["sg"] == 1 and record["settings"]["vector_size"] == 10
    assert record["corpus"] == {"sentences": 30, "tokens": 360} and record["vocabulary_size"] == 9
    again = wv.train_vectors(
        tmp_path / "again.bin",
        sentences=sentences,
        vector_size=10,
        min_count=1,
        epochs=2,
        workers=1,
    )
    assert again.read_bytes() == path.read_bytes()  # One thread and a fixed seed repeat.


def test_the_default_vectors_live_in_the_per_user_cache():
    path = wv.default_vectors_path()
    assert path.name == wv.DEFAULT_VECTORS_NAME and path.parent.parent.name == "fdl_tf2"


# --- OOV vectors and coverage -----------------------------------------------------------


def test_oov_vectors_are_the_books_uniform_and_depend_only_on_word_and_seed():
    vector = wv.oov_vector("Confidence", 300)
    assert vector.shape == (300,) and vector.dtype == np.float32
    np.random.seed(123)  # No global random state is involved.
    np.testing.assert_array_equal(wv.oov_vector("Confidence", 300), vector)
    assert not np.array_equal(wv.oov_vector("confidence", 300), vector)
    assert not np.array_equal(wv.oov_vector("Confidence", 300, seed=1), vector)
    np.testing.assert_array_equal(wv.oov_vector("Confidence", 10), vector[:10])
    many = np.stack([wv.oov_vector(f"word{index}", 300) for index in range(200)])
    assert many.min() >= -0.25 and many.max() <= 0.25
    assert abs(many.mean()) < 0.005 and abs(many.std() - 0.5 / np.sqrt(12)) < 0.002


def test_coverage_counts_types_and_tokens():
    result = wv.coverage(["a", "b", "a", "c", "a"], {"a", "c"}.__contains__)
    assert result == {
        "types": 3,
        "types_found": 2,
        "type_coverage": 2 / 3,
        "tokens": 5,
        "tokens_found": 4,
        "token_coverage": 4 / 5,
    }


# --- The cache --------------------------------------------------------------------------


def test_the_cache_round_trip_keeps_vectors_oov_rows_and_the_id_layout(tmp_path):
    vectors = wv.load_vectors(BINARY_VECTORS)
    corpus = conll2000.prepare_corpus(vectors.__contains__, raw_splits=_fixture_splits())
    source = wv.source_identity(BINARY_VECTORS, vectors)
    built = wv.build_cache(tmp_path / "cache", corpus.words(), vectors, source=source, seed=5)
    cache = wv.load_cache(tmp_path / "cache")
    assert isinstance(cache.matrix, np.memmap) and cache.matrix.dtype == np.float32
    np.testing.assert_array_equal(cache.matrix, built.matrix)
    assert cache.words == built.words and cache.words[:2] == conll2000.SPECIAL_TOKENS
    assert cache.words[2:] == tuple(dict.fromkeys(corpus.words()))
    assert cache.embedding_size == 10 and cache.metadata["source"] == source
    assert (
        source["name"] == "euclidean_vectors.bin"
        and source["size"] == BINARY_VECTORS.stat().st_size
    )
    np.testing.assert_array_equal(cache.matrix[conll2000.PAD_ID], np.zeros(10))
    np.testing.assert_array_equal(
        cache.vector(conll2000.UNK_TOKEN), wv.oov_vector("<unk>", 10, seed=5)
    )
    for word in cache.words[2:]:
        if word in vectors:
            assert cache.in_vectors(word)
            np.testing.assert_array_equal(cache.vector(word), vectors[word])
        else:
            assert not cache.in_vectors(word)
            np.testing.assert_array_equal(cache.vector(word), wv.oov_vector(word, 10, seed=5))
    np.testing.assert_array_equal(cache.vector("never-seen"), cache.matrix[conll2000.UNK_ID])
    found = [word for word in corpus.words() if word in vectors]
    assert cache.metadata["coverage"]["tokens"] == len(corpus.words())
    assert cache.metadata["coverage"]["tokens_found"] == len(found)
    assert cache.metadata["coverage"]["types_found"] == int(cache.found.sum()) == len(set(found))


def test_the_cache_predicate_reprocesses_the_corpus_exactly(tmp_path):
    vectors = _fixture_vectors()
    corpus = conll2000.prepare_corpus(vectors.__contains__, raw_splits=_fixture_splits())
    assert ("New_York", "NNP") in corpus.splits["train"][1]
    cache = wv.build_cache(tmp_path, corpus.words(), vectors)
    assert not cache.in_vectors("never_emitted") and not cache.in_vectors("high_school")
    again = conll2000.prepare_corpus(cache.in_vectors, raw_splits=_fixture_splits())
    assert again.splits == corpus.splits and again.tags == corpus.tags


def test_the_cache_and_oov_vectors_are_the_same_in_a_fresh_process(tmp_path):
    vectors = wv.load_vectors(BINARY_VECTORS, limit=500)
    corpus = conll2000.prepare_corpus(vectors.__contains__, raw_splits=_fixture_splits())
    cache = wv.build_cache(tmp_path / "cache", corpus.words(), vectors, seed=3)
    program = (
        "import sys; from fdl_tf2.data import word_vectors as wv; "
        "cache = wv.load_cache(sys.argv[1]); "
        "oov = wv.oov_vector('Confidence', 10, seed=3); "
        "sys.stdout.write(cache.matrix.tobytes().hex() + ' ' + oov.tobytes().hex())"
    )
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}  # A different str hash.
    result = subprocess.run(
        [sys.executable, "-c", program, str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd=Path(__file__).parents[3],
        timeout=60,
    )
    matrix_hex, oov_hex = result.stdout.split()
    assert matrix_hex == np.asarray(cache.matrix).tobytes().hex()
    assert oov_hex == wv.oov_vector("Confidence", 10, seed=3).tobytes().hex()
    assert not cache.in_vectors("Confidence")  # So its row is that OOV vector.
    np.testing.assert_array_equal(
        cache.vector("Confidence"), wv.oov_vector("Confidence", 10, seed=3)
    )


def test_cached_vectors_reuses_a_matching_cache_without_loading_the_source(tmp_path, monkeypatch):
    source = tmp_path / "vectors.bin"
    shutil.copy(BINARY_VECTORS, source)
    calls = []

    def dataset_words(in_vocabulary):
        calls.append(in_vocabulary)
        return conll2000.prepare_corpus(in_vocabulary, raw_splits=_fixture_splits()).words()

    first = wv.cached_vectors(tmp_path / "cache", source, dataset_words)
    assert first.metadata["source"]["name"] == "vectors.bin" and len(calls) == 1
    real_load = wv.load_vectors

    def no_loading(*args, **kwargs):
        raise AssertionError("the source vectors were loaded again")

    monkeypatch.setattr(wv, "load_vectors", no_loading)
    second = wv.cached_vectors(tmp_path / "cache", source, dataset_words)
    assert second.words == first.words and isinstance(second.matrix, np.memmap)
    source.rename(tmp_path / "elsewhere.bin")  # A cache outlives its (large) source file.
    assert wv.cached_vectors(tmp_path / "cache", source, dataset_words).words == first.words
    (tmp_path / "elsewhere.bin").rename(source)
    monkeypatch.setattr(wv, "load_vectors", real_load)
    rebuilt = wv.cached_vectors(tmp_path / "cache", source, dataset_words, seed=9)  # New seed.
    assert rebuilt.metadata["oov"]["seed"] == 9
    limited = wv.cached_vectors(tmp_path / "cache", source, dataset_words, limit=50)
    assert limited.metadata["source"]["count"] == 50 and limited.found.sum() < first.found.sum()


def test_incomplete_or_inconsistent_caches_are_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="No word-vector cache"):
        wv.load_cache(tmp_path)
    wv.build_cache(tmp_path, ["a", "b"], _fixture_vectors())
    np.save(tmp_path / "found.npy", np.zeros(3, bool))
    with pytest.raises(ValueError, match="rebuild the cache"):
        wv.load_cache(tmp_path)
    with pytest.raises(ValueError, match="special tokens"):
        wv.build_cache(tmp_path, ["a", "<pad>"], _fixture_vectors())


@pytest.mark.data
def test_the_cache_predicate_reprocesses_real_conll2000_exactly(tmp_path):
    root = os.environ.get("FDL_DATA_DIR")
    if not root or not (Path(root) / "conll2000" / "train.txt.gz").is_file():
        pytest.skip("real CoNLL-2000 needs $FDL_DATA_DIR (e.g. ../shared/data)")
    vectors = wv.load_vectors(BINARY_VECTORS)
    vectors.add_vectors(["New_York", "Wall_Street", "vice_president"], np.ones((3, 10), np.float32))
    corpus = conll2000.prepare_corpus(vectors.__contains__, data_dir=root)
    assert any(word == "New_York" for word in corpus.words())
    cache = wv.build_cache(tmp_path, corpus.words(), vectors)
    again = conll2000.prepare_corpus(cache.in_vectors, data_dir=root)
    assert again.splits == corpus.splits
    coverage = cache.metadata["coverage"]
    assert 0.5 < coverage["token_coverage"] < 1.0 and coverage["type_coverage"] < 0.2

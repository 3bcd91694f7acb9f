import gzip
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import conll2000, download, word_shape

FIXTURE = Path(__file__).parents[2] / "fixtures" / "conll2000_tiny.txt"

# The fixture's vocabulary of "pre-trained vectors" for the preprocessing branches.
VOCABULARY = {"New_York", "buy_out", "high_school", "the", "in", "#.#", "#_#", "."}


def _in_vocabulary(word):
    return word in VOCABULARY


def _book_preprocess(pairs, model):
    """The repo's `read_pos_data.py` preprocessing loop, as the reference."""
    dataset = []
    counter = 0
    while counter < len(pairs):
        pair = pairs[counter]
        if counter < len(pairs) - 1:
            next_pair = pairs[counter + 1]
            if (pair[0] + "_" + next_pair[0] in model) and (pair[1] == next_pair[1]):
                dataset.append((pair[0] + "_" + next_pair[0], pair[1]))
                counter += 2
                continue
        word = re.sub(r"\d", "#", pair[0])
        word = re.sub("-", "_", word)
        if word in model:
            dataset.append((word, pair[1]))
            counter += 1
            continue
        if "_" in word:
            for subword in word.split("_"):
                if not (subword.isspace() or len(subword) == 0):
                    dataset.append((subword, pair[1]))
            counter += 1
            continue
        dataset.append((word, pair[1]))
        counter += 1
    return dataset


class _BookPOSDataset:
    """The repo's `POSDataset` (inputs = one vector per token), as the reference."""

    def __init__(self, vectors, tags, n, get_all=False):
        self.inputs, self.tags, self.n, self.get_all, self.ptr = vectors, tags, n, get_all, 0

    def minibatch(self, size):
        batch_inputs, batch_tags = [], []
        if self.get_all:
            counter = 0
            while counter < len(self.inputs) - self.n + 1:
                batch_inputs.append(self.inputs[counter : counter + self.n].flatten())
                batch_tags.append(self.tags[counter + self.n - 1])
                counter += 1
        elif self.ptr + size < len(self.inputs) - self.n:
            counter = self.ptr
            while counter < self.ptr + size:
                batch_inputs.append(self.inputs[counter : counter + self.n].flatten())
                batch_tags.append(self.tags[counter + self.n - 1])
                counter += 1
        else:
            counter = self.ptr
            while counter < len(self.inputs) - self.n + 1:
                batch_inputs.append(self.inputs[counter : counter + self.n].flatten())
                batch_tags.append(self.tags[counter + self.n - 1])
                counter += 1
            counter2 = 0
            while counter2 < size - counter + self.ptr:
                batch_inputs.append(self.inputs[counter2 : counter2 + self.n].flatten())
                batch_tags.append(self.tags[counter2 + self.n - 1])
                counter2 += 1
        self.ptr = (self.ptr + size) % (len(self.inputs) - self.n)
        return np.array(batch_inputs, dtype=np.float32), np.array(batch_tags)


@pytest.fixture
def conll_dir():
    """The data root holding the real CoNLL-2000 files, or a skip naming what is missing."""
    root = os.environ.get("FDL_DATA_DIR")
    if not root:
        pytest.skip("real CoNLL-2000 needs $FDL_DATA_DIR (e.g. ../shared/data)")
    missing = [f.name for f in conll2000.FILES if not (Path(root) / "conll2000" / f.name).is_file()]
    if missing:
        pytest.skip(f"missing CoNLL-2000 files under {root}/conll2000: {missing}")
    return Path(root)


# --- Reading ----------------------------------------------------------------------------


def test_the_fixture_reads_as_sentences_of_word_tag_pairs_without_chunks():
    sentences = conll2000.read_conll(FIXTURE)
    assert [len(sentence) for sentence in sentences] == [22, 10, 15, 2]
    assert sentences[0][:3] == [("Confidence", "NN"), ("in", "IN"), ("the", "DT")]
    assert sentences[0][17] == (",", ",")  # The seed's garbled "' '" line (errata item 15).
    assert sentences[0][-1] == ("tomorrow", "NN")
    assert sentences[1][2:4] == [("New", "NNP"), ("York", "NNP")]
    assert sentences[3] == [("Why", "WRB"), ("?", ".")]


def test_gzip_and_the_books_two_column_format_read_the_same(tmp_path):
    two_columns = "\n".join(" ".join(line.split()[:2]) for line in FIXTURE.read_text().splitlines())
    (tmp_path / "pos.train.txt.gz").write_bytes(gzip.compress(two_columns.encode()))
    assert conll2000.read_conll(tmp_path / "pos.train.txt.gz") == conll2000.read_conll(FIXTURE)


def test_malformed_lines_and_truncated_gzip_raise_one_clear_error(tmp_path):
    (tmp_path / "bad.txt").write_text("Confidence NN B-NP\nin IN B-PP extra\n")
    with pytest.raises(conll2000.ConllFormatError, match=r"bad.txt:2: expected 'word POS"):
        conll2000.read_conll(tmp_path / "bad.txt")
    data = gzip.compress(FIXTURE.read_bytes())
    (tmp_path / "short.txt.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(conll2000.ConllFormatError, match="short.txt.gz: not a readable"):
        conll2000.read_conll(tmp_path / "short.txt.gz")


def test_a_corrupt_file_raises_checksum_error_and_a_missing_one_fails_at_once(tmp_path):
    folder = tmp_path / "conll2000"
    folder.mkdir()
    (folder / "train.txt.gz").write_bytes(gzip.compress(FIXTURE.read_bytes()))
    with pytest.raises(download.ChecksumError, match="train.txt.gz is corrupt or truncated"):
        conll2000.load_sentences("train", data_dir=tmp_path)
    start = time.monotonic()
    with pytest.raises(download.DatasetNotFoundError) as error:
        conll2000.load_sentences("test", data_dir=tmp_path)
    assert time.monotonic() - start < 1.0
    assert "test.txt.gz" in str(error.value) and "FDL_OFFLINE" in str(error.value)
    with pytest.raises(ValueError, match="Unknown split"):
        conll2000.load_sentences("validation", data_dir=tmp_path)


def test_the_download_sources_are_the_books_urls():
    assert conll2000.TRAIN_FILE.url == "http://www.cnts.ua.ac.be/conll2000/chunking/train.txt.gz"
    assert conll2000.TEST_FILE.url == "http://www.cnts.ua.ac.be/conll2000/chunking/test.txt.gz"
    for data_file in conll2000.FILES:
        assert len(data_file.sha256) == 2 and data_file.download_sha256 == data_file.sha256[1]


# --- Preprocessing ----------------------------------------------------------------------


def test_every_preprocessing_branch_on_the_fixture():
    _, prices, buyout, why = conll2000.read_conll(FIXTURE)
    # Branch 1: New York -> New_York (in the vocabulary, both NNP); digits -> "#" (branches 2
    # and 3 for "3.5" -> "#.#", branch 5 for "1989" -> "####", not in the vocabulary).
    assert conll2000.preprocess_tokens(prices, _in_vocabulary) == [
        ("Prices", "NNS"),
        ("in", "IN"),
        ("New_York", "NNP"),
        ("rose", "VBD"),
        ("#.#", "CD"),
        ("%", "NN"),
        ("in", "IN"),
        ("####", "CD"),
        (".", "."),
    ]
    # "high school" is in the vocabulary but JJ != NN: no merge. "buy-out" -> "buy_out" is
    # in it (branch 3); "near-record" is not, so it splits (branch 4); "--" -> "__" splits
    # into nothing and vanishes, as in the book.
    assert conll2000.preprocess_tokens(buyout, _in_vocabulary) == [
        ("The", "DT"),
        ("buy_out", "NN"),
        ("of", "IN"),
        ("the", "DT"),
        ("high", "JJ"),
        ("school", "NN"),
        (",", ","),
        ("a", "DT"),
        ("near", "JJ"),
        ("record", "JJ"),
        ("deal", "NN"),
        (",", ","),
        ("won", "VBD"),
        ("barely", "RB"),
        (".", "."),
    ]
    assert conll2000.preprocess_tokens(why, _in_vocabulary) == why  # Branch 5: kept as is.


def test_the_phrase_check_uses_the_raw_words_and_a_last_token_never_merges():
    tokens = [("3", "CD"), ("4", "CD"), ("New", "NNP")]
    # "#_#" is in the vocabulary but the raw "3_4" is not: no merge (the book's order).
    assert conll2000.preprocess_tokens(tokens, _in_vocabulary) == [
        ("#", "CD"),
        ("#", "CD"),
        ("New", "NNP"),
    ]
    assert conll2000.normalize_word("near-record-1990s") == "near_record_####s"


@pytest.mark.parametrize(
    "vocabulary",
    [
        VOCABULARY,
        set(),
        {"Confidence_in", "the_pound", "near_record", "__", "#.#_%", "sharp_dive"},
        {"trade_figures", "New_York", "September_,", "won_--", "barely_."},
    ],
)
def test_preprocessing_equals_the_books_loop_on_the_flattened_fixture(vocabulary):
    tokens = conll2000.flatten(conll2000.read_conll(FIXTURE))
    expected = _book_preprocess(tokens, vocabulary)
    assert conll2000.preprocess_tokens(tokens, vocabulary.__contains__) == expected


def test_phrases_merge_inside_sentences_only_unless_flattened():
    sentences = [[("the", "DT"), ("U.S.", "NNP")], [("Army", "NNP"), ("won", "VBD")]]
    vocabulary = {"U.S._Army"}.__contains__
    per_sentence = conll2000.preprocess_sentences(sentences, vocabulary)
    assert per_sentence == sentences
    flat = conll2000.preprocess_tokens(conll2000.flatten(sentences), vocabulary)
    assert flat == [("the", "DT"), ("U.S._Army", "NNP"), ("won", "VBD")]
    # A sentence made only of vanishing dashes is dropped.
    assert conll2000.preprocess_sentences([[("--", ":")], *sentences], set().__contains__) == [
        *sentences
    ]


# --- Indices and splits -----------------------------------------------------------------


def test_tags_are_indexed_in_first_seen_order_over_the_given_lists():
    sentences = conll2000.read_conll(FIXTURE)
    assert conll2000.tag_index(sentences[3:], sentences[:1])[:4] == ("WRB", ".", "NN", "IN")
    tags = conll2000.tag_index(sentences)
    assert tags[:5] == ("NN", "IN", "DT", "VBZ", "RB") and len(tags) == len(set(tags))
    assert set(tags) == {tag for sentence in sentences for _, tag in sentence}
    words = conll2000.word_index(sentences)
    assert words[:3] == ("Confidence", "in", "the") and words.count("in") == 1


def test_the_validation_split_is_the_last_fraction_of_training_sentences():
    sentences = [[(str(index), "CD")] for index in range(20)]
    train, validation = conll2000.split_training_sentences(sentences, 0.1)
    assert train == sentences[:18] and validation == sentences[18:]
    assert conll2000.split_training_sentences(sentences, 0.0) == (sentences, [])
    with pytest.raises(ValueError, match="validation_fraction"):
        conll2000.split_training_sentences(sentences, 1.0)


def test_prepare_corpus_on_raw_splits_and_the_train_only_tag_order():
    sentences = conll2000.read_conll(FIXTURE)
    raw = {"train": sentences[:2], "validation": sentences[2:3], "test": sentences[3:]}
    corpus = conll2000.prepare_corpus(_in_vocabulary, raw_splits=raw)
    assert corpus.splits["train"][1][2] == ("New_York", "NNP")
    assert corpus.words()[:2] == ["Confidence", "in"] and corpus.words()[-2:] == ["Why", "?"]
    assert len(corpus.words()) == 22 + 9 + 15 + 2
    assert "WRB" in corpus.tags and corpus.tags[corpus.tag_lookup["WRB"]] == "WRB"
    train_only = conll2000.prepare_corpus(_in_vocabulary, raw_splits=raw, tag_order="train")
    assert "WRB" not in train_only.tags  # Only in the test split.
    with pytest.raises(ValueError, match=r"Tags \['WRB'\] are not in the tag index"):
        train_only.ids("test", {})
    with pytest.raises(ValueError, match="Unknown tag_order"):
        conll2000.prepare_corpus(_in_vocabulary, raw_splits=raw, tag_order="alphabetical")


def test_sentence_ids_map_unknown_words_to_unk():
    words, tags = conll2000.sentence_ids(
        [[("the", "DT"), ("cat", "NN")], [("sat", "VBD")]],
        {"the": 2, "sat": 3},
        {"DT": 0, "NN": 1, "VBD": 2},
    )
    assert [w.tolist() for w in words] == [[2, conll2000.UNK_ID], [3]]
    assert [t.tolist() for t in tags] == [[0, 1], [2]]
    assert words[0].dtype == np.int32 and tags[0].dtype == np.int32


# --- Windows ----------------------------------------------------------------------------

_IDS = [np.array([5, 6, 7]), np.array([8, 9]), np.array([4])]
_TAGS = [np.array([1, 2, 3]), np.array([4, 0]), np.array([2])]


def test_trigram_windows_end_at_the_target_and_pad_at_sentence_starts():
    windows, labels = conll2000.ngram_windows(_IDS, _TAGS, 3)
    np.testing.assert_array_equal(
        windows, [[0, 0, 5], [0, 5, 6], [5, 6, 7], [0, 0, 8], [0, 8, 9], [0, 0, 4]]
    )
    np.testing.assert_array_equal(labels, [1, 2, 3, 4, 0, 2])
    assert windows.dtype == np.int32 and labels.dtype == np.int32


def test_cross_sentence_trigram_windows_are_the_books():
    windows, labels = conll2000.ngram_windows(_IDS, _TAGS, 3, cross_sentence=True)
    np.testing.assert_array_equal(windows, [[5, 6, 7], [6, 7, 8], [7, 8, 9], [8, 9, 4]])
    np.testing.assert_array_equal(labels, [3, 4, 0, 2])  # tags[c + n - 1]


@pytest.mark.parametrize("cross_sentence", [False, True])
def test_unigram_windows_are_every_token_in_both_modes(cross_sentence):
    windows, labels = conll2000.ngram_windows(_IDS, _TAGS, 1, cross_sentence=cross_sentence)
    np.testing.assert_array_equal(windows, [[5], [6], [7], [8], [9], [4]])
    np.testing.assert_array_equal(labels, [1, 2, 3, 4, 0, 2])


def test_windows_reject_bad_orders_and_mismatched_lengths():
    with pytest.raises(ValueError, match="n must be >= 1"):
        conll2000.ngram_windows(_IDS, _TAGS, 0)
    with pytest.raises(ValueError, match="same sentences and lengths"):
        conll2000.ngram_windows(_IDS, _TAGS[:2], 3)
    windows, labels = conll2000.ngram_windows(
        [np.array([1, 2])], [np.array([0, 0])], 3, cross_sentence=True
    )
    assert windows.shape == (0, 3) and labels.shape == (0,)


def test_centred_trigram_windows_pad_both_sentence_ends():
    windows, labels = conll2000.ngram_windows(_IDS, _TAGS, 3, window="centered")
    np.testing.assert_array_equal(
        windows, [[0, 5, 6], [5, 6, 7], [6, 7, 0], [0, 8, 9], [8, 9, 0], [0, 4, 0]]
    )
    np.testing.assert_array_equal(labels, [1, 2, 3, 4, 0, 2])  # Every token, in order.
    assert windows.dtype == np.int32 and labels.dtype == np.int32


def test_centred_five_word_windows_never_reach_into_the_next_sentence():
    windows, labels = conll2000.ngram_windows(_IDS, _TAGS, 5, window="centered")
    np.testing.assert_array_equal(
        windows,
        [
            [0, 0, 5, 6, 7],
            [0, 5, 6, 7, 0],
            [5, 6, 7, 0, 0],
            [0, 0, 8, 9, 0],
            [0, 8, 9, 0, 0],
            [0, 0, 4, 0, 0],
        ],
    )
    np.testing.assert_array_equal(labels, [1, 2, 3, 4, 0, 2])


def test_cross_sentence_centred_windows_label_the_middle_word():
    windows, labels = conll2000.ngram_windows(
        _IDS, _TAGS, 3, cross_sentence=True, window="centered"
    )
    np.testing.assert_array_equal(windows, [[5, 6, 7], [6, 7, 8], [7, 8, 9], [8, 9, 4]])
    np.testing.assert_array_equal(labels, [2, 3, 4, 0])  # tags[c + 1]: 5 and 4 are never targets.


def test_windows_of_feature_rows_pad_every_column():
    rows = [np.array([[5, 4, 2], [6, 3, 7]]), np.array([[8, 5, 1]])]
    tags = [np.array([1, 2]), np.array([3])]
    windows, labels = conll2000.ngram_windows(rows, tags, 3, window="centered")
    assert windows.shape == (3, 3, 3) and windows.dtype == np.int32
    pad = [0, 0, 0]
    np.testing.assert_array_equal(
        windows,
        [
            [pad, [5, 4, 2], [6, 3, 7]],
            [[5, 4, 2], [6, 3, 7], pad],
            [pad, [8, 5, 1], pad],
        ],
    )
    np.testing.assert_array_equal(labels, [1, 2, 3])
    left, _ = conll2000.ngram_windows(rows, tags, 2)
    np.testing.assert_array_equal(left[:, :, 0], [[0, 5], [5, 6], [0, 8]])  # Word ids only.
    with pytest.raises(ValueError, match="same shape past the first axis"):
        conll2000.ngram_windows([rows[0], np.array([8])], tags, 3)


def test_centred_windows_need_an_odd_length_and_a_known_kind():
    assert conll2000.target_position(5, "left") == 4
    assert conll2000.target_position(5, "centered") == 2
    assert conll2000.target_position(1, "centered") == 0
    with pytest.raises(ValueError, match="odd n"):
        conll2000.ngram_windows(_IDS, _TAGS, 4, window="centered")
    with pytest.raises(ValueError, match="Unknown window"):
        conll2000.ngram_windows(_IDS, _TAGS, 3, window="right")


@pytest.mark.parametrize("n", [1, 3])
def test_book_minibatches_equal_the_repos_indexing(n):
    rng = np.random.default_rng(0)
    ids = [rng.integers(2, 30, length) for length in (7, 4, 9, 3)]
    tags = [rng.integers(0, 5, len(sentence)) for sentence in ids]
    matrix = rng.normal(size=(30, 4)).astype(np.float32)
    windows, labels = conll2000.ngram_windows(ids, tags, n, cross_sentence=True)
    stream, stream_tags = np.concatenate(ids), np.concatenate(tags)
    reference = _BookPOSDataset(matrix[stream], np.eye(5)[stream_tags], n)
    ours = conll2000.BookMinibatches(windows, labels)
    # Sizes that stay inside, hit ptr + size == M - 1 (the size + 1 batch) and wrap around.
    lengths = []
    for size in (5, 4, 3, 6, 10, 2, 10, 17, 1, 8):
        expected_inputs, expected_tags = reference.minibatch(size)
        batch, batch_labels = ours.minibatch(size)
        lengths.append(len(batch) - size)
        np.testing.assert_array_equal(matrix[batch].reshape(len(batch), -1), expected_inputs)
        np.testing.assert_array_equal(batch_labels, expected_tags.argmax(axis=1))
        assert ours.ptr == reference.ptr
    assert lengths.count(1) == 1 and lengths.count(0) == 9  # One size + 1 batch (the quirk).
    everything = _BookPOSDataset(matrix[stream], np.eye(5)[stream_tags], n, get_all=True)
    expected_inputs, _ = everything.minibatch(0)
    batch, _ = conll2000.BookMinibatches(windows, labels, get_all=True).minibatch(0)
    np.testing.assert_array_equal(matrix[batch].reshape(len(batch), -1), expected_inputs)


def _fixture_corpus_and_lookup():
    """The fixture's first 3 sentences as train, the rest as test; word -> id in corpus order."""
    sentences = conll2000.read_conll(FIXTURE)
    raw = {"train": sentences[:3], "validation": [], "test": sentences[3:]}
    corpus = conll2000.prepare_corpus(_in_vocabulary, raw_splits=raw)
    lookup = {
        word: index
        for index, word in enumerate((*conll2000.SPECIAL_TOKENS, *dict.fromkeys(corpus.words())))
    }
    return corpus, lookup


def test_classification_data_has_id_windows_and_integer_tags():
    corpus, lookup = _fixture_corpus_and_lookup()
    data = conll2000.classification_data(corpus, lookup, n=3)
    assert set(data.splits) == {"train", "test"}  # The empty validation split is left out.
    assert data.num_examples("train") == 22 + 9 + 15
    train = data.dataset("train", batch_size=8, training=True)
    assert train.element_spec == (
        tf.TensorSpec((8, 3), tf.int32),
        tf.TensorSpec((8,), tf.int32),
    )
    windows, labels = data.splits["test"]
    np.testing.assert_array_equal(windows, [[0, 0, lookup["Why"]], [0, lookup["Why"], lookup["?"]]])
    assert [corpus.tags[label] for label in labels] == ["WRB", "."]


def test_feature_windows_use_the_training_suffixes_and_the_processed_words():
    corpus, lookup = _fixture_corpus_and_lookup()
    suffixes = corpus.suffix_vocabulary(length=2, min_count=1)
    train_words = [word for word, _ in conll2000.flatten(corpus.splits["train"])]
    assert set(suffixes.suffixes[2:]) == {word_shape.suffix(w, 2) for w in train_words}
    data = conll2000.classification_data(corpus, lookup, n=3, window="centered", suffixes=suffixes)
    assert data.serving_spec.shape.as_list() == [None, 3, 3]
    windows, labels = data.splits["test"]  # "Why ?": a two-token test sentence.
    why = [lookup["Why"], word_shape.SHAPE_IDS["init_cap"], suffixes.suffix_id("Why")]
    mark = [lookup["?"], word_shape.SHAPE_IDS["other"], suffixes.suffix_id("?")]
    np.testing.assert_array_equal(windows, [[[0, 0, 0], why, mark], [why, mark, [0, 0, 0]]])
    assert [corpus.tags[label] for label in labels] == ["WRB", "."]
    # The test split's own suffixes are not in the (training) vocabulary.
    assert why[2] == word_shape.UNK_ID and "hy" not in suffixes.lookup


def test_the_demo_constants_are_the_books():
    assert len(conll2000.DEMO_SENTENCE) == 18 and len(conll2000.DEMO_PREFIX) == 10
    assert " ".join(conll2000.DEMO_SENTENCE[:3]) == "Then the woman"
    assert conll2000.DEMO_SENTENCE.count("her") == 2 and conll2000.DEMO_SENTENCE[-1] == "."
    assert " ".join(conll2000.DEMO_PREFIX) == "She decided that it was time to leave home ."


# --- The real files ---------------------------------------------------------------------


@pytest.mark.data
def test_real_conll2000_has_the_shared_task_sizes_and_44_tags(conll_dir):
    train = conll2000.load_sentences("train", data_dir=conll_dir)
    test = conll2000.load_sentences("test", data_dir=conll_dir)
    assert (len(train), len(test)) == (8_936, 2_012)
    assert (len(conll2000.flatten(train)), len(conll2000.flatten(test))) == (211_727, 47_377)
    tags = conll2000.tag_index(train, test)
    assert len(tags) == conll2000.NUM_TAGS == len(conll2000.tag_index(train))
    assert tags[:6] == ("NN", "IN", "DT", "VBZ", "RB", "VBN")  # Confidence in the pound is ...
    assert train[0][:2] == [("Confidence", "NN"), ("in", "IN")]
    splits = conll2000.load_splits(data_dir=conll_dir)
    assert [len(splits[split]) for split in conll2000.SPLITS] == [8_042, 894, 2_012]
    assert splits["validation"][-1] == train[-1]
    assert conll2000.files_read(conll_dir) == {
        data_file.name: data_file.sha256[0] for data_file in conll2000.FILES
    }
    assert all(word in conll2000.word_index(train, test) for word in conll2000.DEMO_SENTENCE)


@pytest.mark.data
def test_preprocessing_equals_the_books_loop_on_the_real_training_file(conll_dir):
    train = conll2000.load_sentences("train", data_dir=conll_dir)
    words = conll2000.word_index([[(conll2000.normalize_word(w), t) for w, t in s] for s in train])
    phrases = {
        f"{first[0]}_{second[0]}"
        for sentence in train[:2_000]
        for first, second in zip(sentence, sentence[1:], strict=False)
        if first[1] == second[1]
    }
    vocabulary = set(words[::2]) | set(sorted(phrases)[::2])
    tokens = conll2000.flatten(train)
    processed = conll2000.preprocess_tokens(tokens, vocabulary.__contains__)
    assert processed == _book_preprocess(tokens, vocabulary)
    merged = [word for word, _ in processed if word in phrases]
    assert len(merged) > 1_000 and len(processed) != len(tokens)


# --- Word-shape features ------------------------------------------------------------------

# Every branch of `word_shape.shape_id` and `suffix`: (word, shape, 3-character suffix).
SHAPE_FIXTURE = [
    ("", "other", ""),  # The empty string.
    ("a", "lower", "a"),  # One character: the suffix is the whole word.
    ("A", "all_caps", "a"),
    ("the", "lower", "the"),
    ("Dealers", "init_cap", "ers"),
    ("McDonald", "init_cap", "ald"),
    ("iPhone", "lower", "one"),  # A lower-case letter and a capital not first: lower.
    ("IBM", "all_caps", "ibm"),
    ("U.S.", "all_caps", ".s."),
    ("New_York", "init_cap", "ork"),  # A phrase keeps its case.
    ("####", "digit", "###"),  # Digits after the book's normalisation ...
    ("#.#", "digit", "#.#"),
    ("####s", "digit", "##s"),
    ("1989", "digit", "989"),  # ... and raw ones (phrases are not normalised).
    ("%", "other", "%"),
    ("--", "other", "--"),
    ("caf\u00e9", "lower", "af\u00e9"),  # Non-ASCII: suffixes count code points.
    ("CAF\u00c9", "all_caps", "af\u00c9"),  # Only A-Z are lower-cased.
    ("\u00dcber", "lower", "ber"),  # "\u00dc" is no ASCII capital.
    ("\u00c9T\u00c9", "all_caps", "\u00c9t\u00c9"),
    ("\u6f22\u5b57", "other", "\u6f22\u5b57"),
    ("\U0001f600x", "lower", "\U0001f600x"),
]


def test_shape_ids_and_suffixes_on_a_fixture_with_every_branch():
    for word, shape, suffix in SHAPE_FIXTURE:
        assert word_shape.SHAPES[word_shape.shape_id(word)] == shape, word
        assert word_shape.suffix(word, 3) == suffix, word
    assert word_shape.suffix("Dealers", 2) == "rs" and word_shape.suffix("Dealers", 1) == "s"
    with pytest.raises(ValueError, match="suffix length"):
        word_shape.suffix("the", 0)


def test_the_suffix_vocabulary_keeps_frequent_training_suffixes_in_count_order():
    words = ["walked", "talked", "baked", "Dealers", "sellers", "the", "THE", "a"]
    vocabulary = word_shape.SuffixVocabulary.build(words, length=3, min_count=2)
    # "ked" x 3, "ers" x 2, "the" x 2 (case-folded); "a" once: dropped.
    assert vocabulary.suffixes == ("<pad>", "<unk>", "ked", "ers", "the")
    assert [vocabulary.suffix_id(w) for w in ("cooked", "BUYERS", "a", "xyz")] == [2, 3, 1, 1]
    everything = word_shape.SuffixVocabulary.build(words, length=3, min_count=1)
    assert everything.suffixes[2:] == ("ked", "ers", "the", "a")  # Ties alphabetically.
    lookup = {"<pad>": 0, "<unk>": 1, "walked": 2}
    features = word_shape.word_features(["walked", "Dealers", "1989"], lookup, vocabulary)
    np.testing.assert_array_equal(features, [[2, 4, 2], [1, 3, 3], [1, 1, 1]])
    assert features.dtype == np.int32
    assert word_shape.word_features([], lookup, vocabulary).shape == (0, 3)
    with pytest.raises(ValueError, match="must start with"):
        word_shape.SuffixVocabulary(("ked",))
    with pytest.raises(ValueError, match="min_count"):
        word_shape.SuffixVocabulary.build(words, min_count=0)

import collections
import dataclasses
import gzip
import hashlib
import http.server
import io
import os
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import download, paths
from fdl_tf2.data import text_corpus as tc


def _book_build_dataset(words, vocabulary_size):
    """The book's `build_dataset` (repo `input_word_data.py`), as the reference."""
    count = [["UNK", -1]]
    count.extend(collections.Counter(words).most_common(vocabulary_size - 1))
    dictionary = {word: index for index, (word, _) in enumerate(count)}
    data = [dictionary.get(word, 0) for word in words]
    count[0][1] = data.count(0)
    return data, count, dictionary


def _signed_offsets(centres, contexts, num_tokens):
    """Context position minus centre position, in (-n/2, n/2], for corpora `ids = arange(n)`."""
    offsets = (contexts.astype(np.int64) - centres) % num_tokens
    return np.where(offsets > num_tokens // 2, offsets - num_tokens, offsets)


# --- Normalisation ----------------------------------------------------------------------


def test_text8_words_lowercases_and_turns_every_non_letter_into_a_space():
    text = "Hello, World!  It's 1984--\tthe_end.\n[Emma]"
    assert tc.text8_words(text) == ["hello", "world", "it", "s", "the", "end", "emma"]
    spelled = tc.text8_words("Chapter 12: 3rd", spell_digits=True)
    assert spelled == ["chapter", "one", "two", "three", "rd"]


def test_latin1_letters_are_folded_and_crlf_is_whitespace():
    # The bytes of shakespeare-caesar (latin-1 "æ") and chesterton-ball ("è", "é").
    raw = b"Ant. C\xe6sar, my Lord\r\nBruneti\xe8re, Copp\xe9e\r\n"
    assert tc.text8_words(raw.decode("latin-1")) == [
        "ant",
        "caesar",
        "my",
        "lord",
        "brunetiere",
        "coppee",
    ]
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # Why the books are decoded as latin-1.


def test_text8_style_text_is_left_unchanged():
    text8_like = " anarchism originated as a term of abuse first used against"
    assert tc.text8_words(text8_like) == text8_like.split()


# --- Vocabulary -------------------------------------------------------------------------


def test_build_vocabulary_on_a_hand_made_list():
    words = "the cat sat on the mat the cat ran".split()
    ids, vocabulary = tc.build_vocabulary(words, size=4)
    # Counts: the 3, cat 2, then sat/on/mat/ran 1 each; the tie keeps first-occurrence order.
    assert vocabulary.words == ("UNK", "the", "cat", "sat")
    np.testing.assert_array_equal(vocabulary.counts, [3, 3, 2, 1])  # UNK = on, mat, ran.
    np.testing.assert_array_equal(ids, [1, 2, 3, 0, 1, 0, 1, 2, 0])
    assert ids.dtype == np.int32
    assert vocabulary.lookup == {"UNK": 0, "the": 1, "cat": 2, "sat": 3}


def test_build_vocabulary_matches_the_books_build_dataset():
    rng = np.random.default_rng(0)
    # Zipf-like with many ties among the rare words.
    words = [f"w{index}" for index in rng.zipf(1.3, 20_000) % 3_000]
    for size in (1, 2, 50, 10_000):
        ids, vocabulary = tc.build_vocabulary(words, size=size)
        data, count, dictionary = _book_build_dataset(words, size)
        np.testing.assert_array_equal(ids, data)
        assert list(vocabulary.words) == [word for word, _ in count]
        assert vocabulary.counts.tolist() == [number for _, number in count]
        assert vocabulary.lookup == dictionary
        assert vocabulary.counts.sum() == len(words)


def test_build_vocabulary_rejects_a_size_below_one():
    with pytest.raises(ValueError, match="size must be >= 1"):
        tc.build_vocabulary(["a"], size=0)


def test_vocabulary_file_round_trip_and_tf_lookup_reads_it(tmp_path):
    _, vocabulary = tc.build_vocabulary("b a b c b a d".split(), size=3)
    path = tc.write_vocabulary(tmp_path / "vocab" / "words.txt", vocabulary.words)
    assert path.read_text() == "UNK\nb\na\n"
    assert tc.read_vocabulary(path) == vocabulary.words
    table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            str(path),
            tf.string,
            tf.lookup.TextFileIndex.WHOLE_LINE,
            tf.int64,
            tf.lookup.TextFileIndex.LINE_NUMBER,
        ),
        default_value=0,
    )
    looked_up = table.lookup(tf.constant(["a", "b", "UNK", "zebra"])).numpy()
    np.testing.assert_array_equal(looked_up, [2, 1, 0, 0])


def test_write_vocabulary_rejects_words_that_break_line_ids(tmp_path):
    for words in (("UNK", "two words"), ("UNK", ""), ("UNK", "a\n"), ("UNK", "a", "a")):
        with pytest.raises(ValueError, match="whitespace|repeat"):
            tc.write_vocabulary(tmp_path / "words.txt", words)
    assert not (tmp_path / "words.txt").exists()


# --- The book's generate_batch ---------------------------------------------------------


def test_generate_batch_8_2_1_pairs_each_centre_twice_with_its_two_neighbours():
    generator = tc.SkipGramBatchGenerator(np.arange(20), seed=0)
    batch, labels = generator.generate_batch(batch_size=8, num_skips=2, skip_window=1)
    assert batch.dtype == np.int32 and labels.shape == (8, 1) and labels.dtype == np.int32
    np.testing.assert_array_equal(batch, [1, 1, 2, 2, 3, 3, 4, 4])
    assert np.all(np.abs(labels[:, 0] - batch) == 1)
    for centre in range(4):  # num_skips = 2 * skip_window: both neighbours, in some order.
        assert sorted(labels[2 * centre : 2 * centre + 2, 0]) == [centre, centre + 2]
    # The next call slides on by one word per centre, skipping nothing.
    batch, _ = generator.generate_batch(batch_size=8, num_skips=2, skip_window=1)
    np.testing.assert_array_equal(batch, [5, 5, 6, 6, 7, 7, 8, 8])


def test_book_skips_reproduces_the_books_jump_between_calls():
    generator = tc.SkipGramBatchGenerator(np.arange(20), seed=0, book_skips=True)
    generator.generate_batch(batch_size=8, num_skips=2, skip_window=1)
    batch, _ = generator.generate_batch(batch_size=8, num_skips=2, skip_window=1)
    # data_index ended at span + 4 = 7, so the next window is 7, 8, 9 (centres 5-7 skipped).
    np.testing.assert_array_equal(batch, [8, 8, 9, 9, 10, 10, 11, 11])


def test_generate_batch_wraps_around_the_corpus():
    generator = tc.SkipGramBatchGenerator(np.arange(7), seed=1)
    generator.generate_batch(batch_size=8, num_skips=2, skip_window=1)  # Centres 1-4.
    batch, labels = generator.generate_batch(batch_size=8, num_skips=2, skip_window=1)
    np.testing.assert_array_equal(batch, [5, 5, 6, 6, 0, 0, 1, 1])
    assert sorted(labels[2:4, 0]) == [0, 5]  # Centre 6: its right neighbour is word 0.
    assert sorted(labels[4:6, 0]) == [1, 6]  # Centre 0: its left neighbour is word 6.


def test_generate_batch_draws_distinct_contexts_inside_the_window():
    generator = tc.SkipGramBatchGenerator(np.arange(500), seed=2)
    for _ in range(20):
        batch, labels = generator.generate_batch(batch_size=12, num_skips=3, skip_window=2)
        offsets = _signed_offsets(batch, labels[:, 0], 500).reshape(4, 3)
        assert np.all((np.abs(offsets) >= 1) & (np.abs(offsets) <= 2))
        assert all(len(set(row)) == 3 for row in offsets.tolist())
        assert np.all(batch.reshape(4, 3) == batch.reshape(4, 3)[:, :1])


def test_bad_arguments_raise_value_errors():
    cases = [  # batch_size, num_skips, skip_window, message.
        (9, 2, 1, "multiple of num_skips"),
        (0, 2, 1, "multiple of num_skips"),
        (8, 4, 1, "exceeds the 2\\*skip_window"),
        (8, 2, 0, "must be >= 1"),
        (8, 0, 1, "must be >= 1"),
        (8, 2, 5, "fewer than one window"),  # The corpus has 10 tokens, the window 11.
    ]
    generator = tc.SkipGramBatchGenerator(np.arange(10))
    for batch_size, num_skips, skip_window, match in cases:
        with pytest.raises(ValueError, match=match):
            generator.generate_batch(batch_size, num_skips, skip_window)
        if "num_skips" not in match:  # skipgram_pairs has no batch_size.
            with pytest.raises(ValueError, match=match):
                tc.skipgram_pairs(np.arange(10), num_skips, skip_window, np.random.default_rng())
            with pytest.raises(ValueError, match=match):
                tc.SkipGramData(np.arange(10), num_skips=num_skips, skip_window=skip_window)
    assert generator.data_index == 0  # Nothing was consumed.
    with pytest.raises(ValueError, match="batch_size must be positive"):
        tc.SkipGramData(np.arange(10), num_skips=2, skip_window=1).steps_per_epoch(0)
    with pytest.raises(ValueError, match="exceeds the pairs"):
        tc.SkipGramData(np.arange(10), num_skips=2, skip_window=1).epoch_dataset(
            0, batch_size=21, seed=0
        )
    with pytest.raises(ValueError, match="seed and epoch"):
        tc.SkipGramData(np.arange(10), num_skips=2, skip_window=1).epoch_pairs(seed=-1, epoch=0)


# --- The vectorised epoch of pairs ------------------------------------------------------


def test_skipgram_pairs_cover_every_centre_num_skips_times_with_distinct_window_offsets():
    num_tokens, num_skips, skip_window = 1_000, 4, 5
    centres, contexts = tc.skipgram_pairs(
        np.arange(num_tokens), num_skips, skip_window, np.random.default_rng(0)
    )
    assert centres.dtype == np.int32 and contexts.dtype == np.int32
    assert centres.shape == contexts.shape == (num_tokens * num_skips,)
    # The book's centre order: w, w+1, ..., n-1, 0, ..., w-1, each num_skips times.
    expected = np.repeat((np.arange(num_tokens) + skip_window) % num_tokens, num_skips)
    np.testing.assert_array_equal(centres, expected)
    offsets = _signed_offsets(centres, contexts, num_tokens).reshape(num_tokens, num_skips)
    assert np.all((np.abs(offsets) >= 1) & (np.abs(offsets) <= skip_window))
    sorted_offsets = np.sort(offsets, axis=1)
    assert np.all(np.diff(sorted_offsets, axis=1) != 0)  # Distinct per centre.


def test_skipgram_pairs_offsets_are_uniform_over_the_window():
    num_tokens, num_skips, skip_window = 20_000, 4, 5
    centres, contexts = tc.skipgram_pairs(
        np.arange(num_tokens), num_skips, skip_window, np.random.default_rng(3)
    )
    offsets = _signed_offsets(centres, contexts, num_tokens).reshape(num_tokens, num_skips)
    window = [*range(-skip_window, 0), *range(1, skip_window + 1)]
    # Each offset is one of a centre's 4 of 10 with probability 0.4: mean 8,000, sd 69.
    counts = np.array([np.sum(offsets == offset) for offset in window])
    assert np.all(np.abs(counts - num_tokens * num_skips / 10) < 400), counts
    # The first draw alone is uniform too (the order is random): mean 2,000, sd 42.
    first = np.array([np.sum(offsets[:, 0] == offset) for offset in window])
    assert np.all(np.abs(first - num_tokens / 10) < 250), first


def test_the_books_generator_and_the_fast_path_visit_the_same_centres():
    ids = np.random.default_rng(4).integers(0, 50, 30)
    generator = tc.SkipGramBatchGenerator(ids, seed=5)
    book = [generator.generate_batch(batch_size=6, num_skips=2, skip_window=3) for _ in range(10)]
    centres, _ = tc.skipgram_pairs(ids, 2, 3, np.random.default_rng(6))
    # 10 batches of 3 centres = one epoch of the 30 tokens, wrap-around included.
    np.testing.assert_array_equal(np.concatenate([batch for batch, _ in book]), centres)
    assert generator.data_index == 0  # Back at the start after exactly one epoch.


def test_shuffled_pairs_keep_each_centres_pairs_together_and_cover_the_corpus():
    num_tokens = 300
    centres, contexts = tc.skipgram_pairs(
        np.arange(num_tokens), 2, 2, np.random.default_rng(7), shuffle=True
    )
    np.testing.assert_array_equal(np.bincount(centres), np.full(num_tokens, 2))
    assert np.all(centres[0::2] == centres[1::2])
    assert not np.array_equal(centres[0::2], (np.arange(num_tokens) + 2) % num_tokens)
    offsets = _signed_offsets(centres, contexts, num_tokens).reshape(-1, 2)
    assert np.all((np.abs(offsets) >= 1) & (np.abs(offsets) <= 2))
    assert np.all(offsets[:, 0] != offsets[:, 1])


def test_keep_probabilities_follow_word2vecs_formula():
    counts = np.array([10, 1_000, 100_000, 0])
    frequency = counts / counts.sum()
    keep = tc.keep_probabilities(counts, 1e-3)
    expected = np.minimum(1.0, np.sqrt(1e-3 / frequency[:3]) + 1e-3 / frequency[:3])
    np.testing.assert_allclose(keep[:3], expected)
    assert keep[3] == 1.0  # A word that never occurs is never dropped.
    assert 0.03 < keep[2] < 0.04  # f = 0.99: sqrt(0.00101) + 0.00101.
    with pytest.raises(ValueError, match="threshold must be positive"):
        tc.keep_probabilities(counts, 0.0)


def test_subsampling_drops_frequent_words_at_the_expected_rate():
    rng = np.random.default_rng(8)
    ids = np.where(rng.random(40_000) < 0.5, 1, rng.integers(2, 2_000, 40_000))
    keep = tc.keep_probabilities(np.bincount(ids, minlength=2_000), 1e-3)
    data = tc.SkipGramData(ids, num_skips=2, skip_window=2, keep_probability=keep, shuffle=False)
    centres, _ = data.epoch_pairs(seed=0, epoch=0)
    kept_ones = np.sum(centres == 1) / 2  # Each kept token is a centre num_skips = 2 times.
    expected = keep[1] * np.sum(ids == 1)  # About 0.046 * 20,000 = 920, sd 30.
    assert abs(kept_ones - expected) < 150, (kept_ones, expected)
    assert np.sum(centres > 1) / 2 == np.sum(ids > 1)  # Rare words are all kept.


# --- Epochs for the training loop -------------------------------------------------------


def test_epoch_pairs_are_a_pure_function_of_seed_and_epoch():
    data = tc.SkipGramData(np.arange(5_000) % 97, num_skips=4, skip_window=5)
    first = data.epoch_pairs(seed=1, epoch=3)
    again = tc.SkipGramData(np.arange(5_000) % 97).epoch_pairs(seed=1, epoch=3)
    for part, same in zip(first, again, strict=True):
        np.testing.assert_array_equal(part, same)
    other_epoch = data.epoch_pairs(seed=1, epoch=4)
    other_seed = data.epoch_pairs(seed=2, epoch=3)
    assert not np.array_equal(first[0], other_epoch[0])
    assert not np.array_equal(first[1], other_seed[1])


def test_epoch_dataset_streams_fixed_shape_batches_and_resumes_mid_epoch():
    data = tc.SkipGramData(np.arange(101), num_skips=2, skip_window=3)
    steps = data.steps_per_epoch(8)
    assert steps == 101 * 2 // 8 == 25  # The last 2 pairs are dropped.
    dataset = data.epoch_dataset(1, batch_size=8, seed=9)
    assert dataset.element_spec == (
        tf.TensorSpec((8,), tf.int32),
        tf.TensorSpec((8, 1), tf.int32),
    )
    batches = list(dataset.as_numpy_iterator())
    assert len(batches) == steps
    centres, contexts = data.epoch_pairs(seed=9, epoch=1)
    np.testing.assert_array_equal(np.concatenate([c for c, _ in batches]), centres[: steps * 8])
    np.testing.assert_array_equal(np.concatenate([x[:, 0] for _, x in batches]), contexts[:200])
    # A run resumed at step steps + 3 reads batch 3 of epoch 1, then batch 4.
    stream = data.train_stream(batch_size=8, seed=9)
    resumed = list(stream(steps + 3).take(2).as_numpy_iterator())
    for (centre, context), (expected_centre, expected_context) in zip(
        resumed, batches[3:5], strict=True
    ):
        np.testing.assert_array_equal(centre, expected_centre)
        np.testing.assert_array_equal(context, expected_context)


def test_subsampled_epochs_have_the_same_number_of_steps():
    rng = np.random.default_rng(10)
    ids = np.where(rng.random(3_000) < 0.3, 1, rng.integers(2, 500, 3_000))
    keep = tc.keep_probabilities(np.bincount(ids, minlength=500), 1e-3)
    data = tc.SkipGramData(ids, num_skips=2, skip_window=2, keep_probability=keep)
    steps = data.steps_per_epoch(16)
    assert steps == int(np.sum(keep[ids])) * 2 // 16
    for epoch in (0, 1):
        assert len(list(data.epoch_dataset(epoch, batch_size=16, seed=0))) == steps


# --- Files: checksums, offline failure, the text8 download ------------------------------


def test_a_corrupt_book_raises_checksum_error(tmp_path):
    folder = tmp_path / "text" / "gutenberg"
    folder.mkdir(parents=True)
    (folder / "blake-poems.txt.gz").write_bytes(gzip.compress(b"Tyger Tyger, burning bright"))
    with pytest.raises(download.ChecksumError, match="blake-poems.txt.gz"):
        tc.read_gutenberg(["blake-poems"], data_dir=tmp_path)


def test_missing_corpus_offline_fails_at_once_naming_files(tmp_path):
    for corpus, file_name in (("gutenberg", "bible-kjv.txt.gz"), ("text8", "text8.zip")):
        start = time.monotonic()
        with pytest.raises(download.DatasetNotFoundError) as error:
            tc.read_words(corpus, data_dir=tmp_path)
        assert time.monotonic() - start < 1.0
        message = str(error.value)
        assert file_name in message and "FDL_DATA_DIR" in message and "FDL_OFFLINE" in message


def test_missing_gutenberg_online_fails_at_once_without_a_download_source(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ENV_OFFLINE)
    start = time.monotonic()
    with pytest.raises(download.DatasetNotFoundError, match="no public download source"):
        tc.read_words("gutenberg_no_bible", data_dir=tmp_path)
    assert time.monotonic() - start < 1.0


def test_unknown_corpus_and_book_names_raise_value_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown corpus"):
        tc.read_words("wikipedia", data_dir=tmp_path)
    with pytest.raises(ValueError, match="Unknown Gutenberg books"):
        tc.read_gutenberg(["austen-emma", "tolkien-hobbit"], data_dir=tmp_path)


_TINY_TEXT8 = b" anarchism originated as a term of abuse first used against early"


def _zip_bytes(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("text8", payload)
    return buffer.getvalue()


@pytest.fixture
def text8_server(tmp_path):
    """Serves a tiny `text8.zip` on 127.0.0.1 (a free port) for the duration of a test."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "text8.zip").write_bytes(_zip_bytes(_TINY_TEXT8))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/text8.zip", root / "text8.zip"
    server.shutdown()
    server.server_close()


def test_text8_is_downloaded_verified_and_read_like_the_book(text8_server, tmp_path, monkeypatch):
    url, served = text8_server
    digest = hashlib.sha256(served.read_bytes()).hexdigest()
    monkeypatch.setattr(
        tc, "TEXT8_FILE", dataclasses.replace(tc.TEXT8_FILE, sha256=(digest,), url=url)
    )
    monkeypatch.delenv(paths.ENV_OFFLINE)
    words = tc.read_words("text8", data_dir=tmp_path / "data")
    assert words == _TINY_TEXT8.decode().split()
    stored = tmp_path / "data" / "text" / "text8" / "text8.zip"
    assert stored.read_bytes() == served.read_bytes()
    assert tc.files_read("text8", data_dir=tmp_path / "data") == {"text8.zip": digest}


def test_a_text8_download_with_the_wrong_digest_leaves_nothing(text8_server, tmp_path, monkeypatch):
    url, _ = text8_server
    monkeypatch.setattr(tc, "TEXT8_FILE", dataclasses.replace(tc.TEXT8_FILE, url=url))
    monkeypatch.delenv(paths.ENV_OFFLINE)
    with pytest.raises(download.ChecksumError, match=tc.TEXT8_FILE.sha256[0][:12]):
        tc.read_words("text8", data_dir=tmp_path / "data")
    assert os.listdir(tmp_path / "data" / "text" / "text8") == []


def test_the_published_text8_source_is_the_books():
    assert tc.TEXT8_FILE.url == "http://mattmahoney.net/dc/text8.zip"
    assert len(tc.TEXT8_FILE.sha256) == 1 and len(tc.TEXT8_FILE.sha256[0]) == 64
    assert all(data_file.url is None for data_file in tc.GUTENBERG_FILES.values())
    assert len(tc.BOOKS) == 15 and "bible-kjv" not in tc.BOOKS_WITHOUT_BIBLE


# --- The real offline corpus ------------------------------------------------------------


@pytest.fixture
def gutenberg_root() -> Path:
    """The data root holding the offline Gutenberg books, or a skip naming what is missing."""
    root = os.environ.get(paths.ENV_DATA_DIR)
    if not root:
        pytest.skip("the Gutenberg corpus needs $FDL_DATA_DIR (e.g. ../shared/data)")
    missing = download.status(tc.GUTENBERG_DATASET, list(tc.GUTENBERG_FILES.values()), root)
    if missing:
        pytest.skip(f"missing Gutenberg books under {root}: {missing}")
    return Path(root)


@pytest.mark.data
def test_real_gutenberg_corpus_has_the_documented_size(gutenberg_root):
    words = tc.read_words("gutenberg", data_dir=gutenberg_root)
    assert 1_850_000 < len(words) < 1_950_000  # The spec: about 1.90 M tokens.
    assert len(words) == 1_902_238 and len(set(words)) == 40_215
    assert words[:4] == ["emma", "by", "jane", "austen"]
    ids, vocabulary = tc.build_vocabulary(words)
    assert vocabulary.words[:4] == ("UNK", "the", "and", "of")
    assert vocabulary.counts[0] == np.sum(ids == 0) == 72_735
    assert "caesar" in vocabulary.lookup  # Decoded and folded, not cut into "c sar".
    without_bible = tc.read_words("gutenberg_no_bible", data_dir=gutenberg_root)
    assert len(without_bible) == 1_110_396

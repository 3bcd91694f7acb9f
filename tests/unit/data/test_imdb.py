"""Tests of `fdl_tf2.data.imdb`: readers, checksums, holdout, tokenisation, vocabulary, tf.data."""

import functools
import hashlib
import io
import os
import tarfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import download, imdb

_REAL_ROOT = Path(os.environ.get("FDL_DATA_DIR", "/nonexistent"))
_REAL_MISSING = [
    data_file.name
    for data_file in imdb.FILES
    if not (_REAL_ROOT / "imdb" / data_file.name).is_file()
]
requires_real_data = pytest.mark.skipif(
    bool(_REAL_MISSING),
    reason=f"IMDB offline copy not found: {_REAL_MISSING} missing under {_REAL_ROOT / 'imdb'} "
    "(set FDL_DATA_DIR to the data root).",
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    # The checksum memo lives in the cache directory; keep it inside tmp_path.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# --- Fixtures written at test time. ---


def _fixture_reviews(split: str, per_label: int = 3) -> imdb.Reviews:
    """A few hand-made reviews per label, in id order; ratings 1-4 (neg) and 7-10 (pos)."""
    rows = []
    for label, label_name in enumerate(imdb.LABEL_NAMES):
        for number in range(per_label):
            rating = (1 + number % 4) if label == 0 else (7 + number % 4)
            review_id = f"{split}/{label_name}/{number}_{rating}"
            text = f"{label_name} review {number} of {split}.<br /><br />Ça va, «très» bien!"
            rows.append((text.encode("utf-8"), label, rating, review_id.encode()))
    rows.sort(key=lambda row: row[3])
    texts, labels, ratings, ids = zip(*rows, strict=True)
    return imdb.Reviews(
        texts=np.array(texts, dtype=object),
        labels=np.array(labels, np.int32),
        ratings=np.array(ratings, np.int32),
        ids=np.array(ids, dtype=object),
    )


def _in_offline_order(reviews: imdb.Reviews) -> imdb.Reviews:
    """The offline copy's build rule, written out: sort by id, then permute with seed 0."""
    by_id = sorted(range(len(reviews.ids)), key=lambda index: reviews.ids[index])
    order = np.array(by_id)[np.random.default_rng(0).permutation(len(by_id))]
    return imdb.Reviews(*(array[order] for array in reviews))


def _write_tfrecord(path: Path, reviews: imdb.Reviews) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    with tf.io.TFRecordWriter(str(path), options) as writer:
        for text, label, rating, review_id in zip(*reviews, strict=True):
            feature = {
                "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
                "rating": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(rating)])),
                "id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[review_id])),
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    return path


def _assert_reviews_equal(actual: imdb.Reviews, expected: imdb.Reviews) -> None:
    assert actual.texts.tolist() == expected.texts.tolist()
    np.testing.assert_array_equal(actual.labels, expected.labels)
    np.testing.assert_array_equal(actual.ratings, expected.ratings)
    assert actual.ids.tolist() == expected.ids.tolist()
    assert actual.labels.dtype == np.int32 and actual.texts.dtype == object


@pytest.fixture
def offline_copy(tmp_path, monkeypatch):
    """A tiny offline copy under `tmp_path/data/imdb/`, with `imdb.FILES` pinned to it."""
    folder = tmp_path / "data" / "imdb"
    splits = {split: _in_offline_order(_fixture_reviews(split)) for split in imdb.SPLITS}
    files = []
    for split in imdb.SPLITS:
        path = _write_tfrecord(folder / f"{split}.tfrecord.gz", splits[split])
        files.append(download.DataFile(path.name, (download.sha256_of(path),)))
    monkeypatch.setattr(imdb, "FILES", tuple(files))
    return {"root": tmp_path / "data", "folder": folder, **splits}


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _archive_bytes(splits: dict[str, imdb.Reviews]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        _add_member(tar, "aclImdb/README", b"readme")
        _add_member(tar, "aclImdb/imdb.vocab", b"the\nand\n")
        _add_member(tar, "aclImdb/train/unsup/0_0.txt", b"unlabelled, must be skipped")
        _add_member(tar, "aclImdb/train/labeledBow.feat", b"0:9 1:1")
        for reviews in splits.values():
            # Reversed, so the reader must reorder the members itself.
            for text, review_id in reversed(list(zip(reviews.texts, reviews.ids, strict=True))):
                _add_member(tar, f"aclImdb/{review_id.decode()}.txt", text)
    return buffer.getvalue()


# --- Readers. ---


def test_tfrecord_reader_returns_every_field_in_file_order(tmp_path):
    reviews = _in_offline_order(_fixture_reviews("train"))
    path = _write_tfrecord(tmp_path / "train.tfrecord.gz", reviews)

    _assert_reviews_equal(imdb.read_tfrecord(path), reviews)


def test_archive_reader_gives_the_tfrecord_arrays(tmp_path):
    splits = {split: _fixture_reviews(split, per_label=4) for split in imdb.SPLITS}
    archive = tmp_path / imdb.ARCHIVE_NAME
    archive.write_bytes(_archive_bytes(splits))

    from_archive = imdb.read_archive(archive)

    assert sorted(from_archive) == ["test", "train"]
    for split in imdb.SPLITS:
        expected = _in_offline_order(splits[split])
        _assert_reviews_equal(from_archive[split], expected)
        path = _write_tfrecord(tmp_path / f"{split}.tfrecord.gz", expected)
        _assert_reviews_equal(from_archive[split], imdb.read_tfrecord(path))


def test_unreadable_files_raise_one_format_error(tmp_path):
    garbage = tmp_path / "train.tfrecord.gz"
    garbage.write_bytes(b"not gzip at all" * 10)
    with pytest.raises(
        imdb.ImdbFormatError, match=r"train\.tfrecord\.gz: not a readable"
    ) as raised:
        imdb.read_tfrecord(garbage)
    assert "\n" not in str(raised.value)

    archive = tmp_path / imdb.ARCHIVE_NAME
    archive.write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(imdb.ImdbFormatError, match="not a readable tar.gz"):
        imdb.read_archive(archive)


def test_offline_copy_is_verified_read_and_named(offline_copy):
    root = offline_copy["root"]

    _assert_reviews_equal(imdb.load_reviews("train", data_dir=root), offline_copy["train"])
    _assert_reviews_equal(imdb.load_reviews("test", data_dir=root), offline_copy["test"])
    assert imdb.files_read(data_dir=root) == {
        data_file.name: data_file.sha256[0] for data_file in imdb.FILES
    }
    with pytest.raises(ValueError, match="read-only"):
        imdb.load_reviews("train", data_dir=root).labels[0] = 1


def test_truncated_file_raises_a_checksum_error_naming_it(offline_copy):
    path = offline_copy["folder"] / "test.tfrecord.gz"
    imdb.load_reviews("test", data_dir=offline_copy["root"])  # Parsed and cached once.
    path.write_bytes(path.read_bytes()[:-20])

    with pytest.raises(download.ChecksumError, match=r"test\.tfrecord\.gz is corrupt or truncated"):
        imdb.load_reviews("test", data_dir=offline_copy["root"])
    with pytest.raises(download.ChecksumError):
        imdb.files_read(data_dir=offline_copy["root"])


def test_offline_empty_data_dir_fails_fast_naming_both_layouts(tmp_path, monkeypatch):
    monkeypatch.setenv("FDL_OFFLINE", "1")
    start = time.monotonic()

    with pytest.raises(download.DatasetNotFoundError) as raised:
        imdb.load_reviews("train", data_dir=tmp_path)

    assert time.monotonic() - start < 5.0
    message = str(raised.value)
    for name in ("train.tfrecord.gz", "test.tfrecord.gz", imdb.ARCHIVE_NAME, "FDL_OFFLINE"):
        assert name in message
    with pytest.raises(download.DatasetNotFoundError, match="Neither is present"):
        imdb.files_read(data_dir=tmp_path)


@pytest.fixture
def served_archive(tmp_path, monkeypatch):
    """A tiny fake `aclImdb_v1.tar.gz` on a loopback HTTP server; yields the splits in it."""
    serve_dir = tmp_path / "serve"
    serve_dir.mkdir()
    splits = {split: _fixture_reviews(split) for split in imdb.SPLITS}
    archive_bytes = _archive_bytes(splits)
    (serve_dir / imdb.ARCHIVE_NAME).write_bytes(archive_bytes)
    requests = []

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - Signature of the base class.
            requests.append(self.path)

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(serve_dir))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    for variable in ("FDL_OFFLINE", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    port = server.server_address[1]
    monkeypatch.setattr(imdb, "ARCHIVE_URL", f"http://127.0.0.1:{port}/{imdb.ARCHIVE_NAME}")
    monkeypatch.setattr(imdb, "ARCHIVE_SHA256", hashlib.sha256(archive_bytes).hexdigest())
    try:
        yield {"splits": splits, "requests": requests}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_missing_data_downloads_and_reads_the_canonical_archive(tmp_path, served_archive):
    root = tmp_path / "data"

    test = imdb.load_reviews("test", data_dir=root)
    train = imdb.load_reviews("train", data_dir=root)

    _assert_reviews_equal(test, _in_offline_order(served_archive["splits"]["test"]))
    _assert_reviews_equal(train, _in_offline_order(served_archive["splits"]["train"]))
    assert len(served_archive["requests"]) == 1  # The second split reuses the archive.
    assert imdb.files_read(data_dir=root) == {imdb.ARCHIVE_NAME: imdb.ARCHIVE_SHA256}


def test_downloaded_archive_with_wrong_checksum_is_discarded(tmp_path, served_archive, monkeypatch):
    monkeypatch.setattr(imdb, "ARCHIVE_SHA256", "0" * 64)
    root = tmp_path / "data"

    with pytest.raises(download.ChecksumError, match="0000000000"):
        imdb.load_reviews("test", data_dir=root)
    assert [path for path in root.rglob("*") if path.is_file()] == []


def test_unknown_split_and_dataset_are_rejected():
    with pytest.raises(ValueError, match="validation"):
        imdb.load_reviews("validation", dataset="synthetic")
    with pytest.raises(ValueError, match="sst2"):
        imdb.load_reviews("train", dataset="sst2")


# --- Real data (the offline copy). ---


@pytest.mark.data
@requires_real_data
def test_real_splits_have_25000_reviews_12500_per_class_in_the_documented_order():
    digests = {}
    for line in (_REAL_ROOT / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        digests[name] = digest
    for data_file in imdb.FILES:
        assert data_file.sha256 == (digests[f"imdb/{data_file.name}"],)
    start = time.perf_counter()
    splits = {split: imdb.load_reviews(split) for split in imdb.SPLITS}
    read_seconds = time.perf_counter() - start

    for split, reviews in splits.items():
        assert len(reviews.texts) == imdb.SPLIT_SIZES[split] == 25_000
        assert np.bincount(reviews.labels).tolist() == [12_500, 12_500]
        assert (reviews.ratings[reviews.labels == 0] <= 4).all()
        assert (reviews.ratings[reviews.labels == 1] >= 7).all()
        assert all(review_id.startswith(f"{split}/".encode()) for review_id in reviews.ids)
        # The records are in `offline_order`, which `read_archive` applies to the archive.
        sorted_ids = np.array(sorted(reviews.ids), dtype=object)
        assert reviews.ids.tolist() == sorted_ids[imdb.offline_order(sorted_ids)].tolist()
    first = dict(zip(splits["train"].ids, splits["train"].texts, strict=True))[b"train/pos/0_9"]
    assert first.startswith(b"Bromwell High is a cartoon comedy") and len(first) == 806
    assert read_seconds < 10.0, f"reading both splits took {read_seconds:.1f} s"


@pytest.mark.slow
@pytest.mark.data
@requires_real_data
def test_real_sentiment_data_has_the_books_splits_and_a_30000_word_vocabulary():
    data = imdb.sentiment_data()

    assert {split: data.num_examples(split) for split in data.splits} == {
        "train": 22_500,
        "validation": 2_500,
        "test": 25_000,
    }
    vocabulary = data.encoder.vocabulary
    assert len(vocabulary) == data.vocabulary_size == 30_000
    assert vocabulary[:4] == ["", "[UNK]", "the", "."]
    inputs, labels = next(iter(data.train_stream(batch_size=32, seed=0)(0)))
    assert inputs.shape == (32, 500) and inputs.dtype == tf.int32 and labels.dtype == tf.int32
    assert int(tf.reduce_max(inputs)) < 30_000
    # About 11 % of the training reviews are truncated to 500 tokens.
    assert 0.08 < np.mean(data.lengths["train"] > 500) < 0.15
    print(f"IMDB preparation: {data.timings}")


# --- Holdout. ---


def test_holdout_split_sizes_disjointness_and_determinism():
    train, validation = imdb.holdout_split(25_000)

    assert len(train) == 22_500 and len(validation) == 2_500
    assert np.intersect1d(train, validation).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, validation])), np.arange(25_000))
    assert (np.diff(train) > 0).all() and (np.diff(validation) > 0).all()
    again_train, again_validation = imdb.holdout_split(25_000)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(validation, again_validation)
    _, other_validation = imdb.holdout_split(25_000, seed=1)
    assert not np.array_equal(validation, other_validation)
    with pytest.raises(ValueError, match="fraction"):
        imdb.holdout_split(100, fraction=0.0)


# --- Standardisation and tokenisation. ---


def _tokens(text: str | bytes) -> list[str]:
    tokens = imdb.tokenize_reviews(tf.constant([text]))[0].numpy()
    return [token.decode("utf-8") for token in tokens]


def test_standardisation_lower_cases_drops_breaks_and_splits_punctuation():
    text = "Great movie!!<br /><br />I didn't LIKE the 'ending'...<BR>well-made, rock'n'roll"
    assert _tokens(text) == [
        "great", "movie", "!", "!", "i", "didn't", "like", "the", "ending", ".", ".", ".",
        "well", "-", "made", ",", "rock'n'roll",
    ]  # fmt: skip


def test_standardisation_handles_non_ascii_whitespace_and_invalid_utf8():
    assert _tokens("Ça c’est GÉNIAL\u00a0\u2028naïve\ttab\u200bzero") == [
        "ça", "c'est", "génial", "naïve", "tab", "zero",
    ]  # fmt: skip
    assert _tokens("日本語のレビュー 👍") == ["日本語のレビュー", "👍"]
    assert _tokens(b"bad \xff\xfe bytes") == ["bad", "\ufffd", "\ufffd", "bytes"]
    assert _tokens("") == [] and _tokens("<br />  ...") == [".", ".", "."]


def test_pad_and_truncate_layouts():
    ids = tf.ragged.constant([[1, 2, 3, 4, 5, 6, 7], [8, 9], []], dtype=tf.int64)
    expected = {
        ("post", "post"): [[1, 2, 3, 4], [8, 9, 0, 0], [0, 0, 0, 0]],
        ("post", "pre"): [[4, 5, 6, 7], [8, 9, 0, 0], [0, 0, 0, 0]],
        ("pre", "post"): [[1, 2, 3, 4], [0, 0, 8, 9], [0, 0, 0, 0]],
        ("pre", "pre"): [[4, 5, 6, 7], [0, 0, 8, 9], [0, 0, 0, 0]],
    }
    for (padding, truncating), layout in expected.items():
        dense = imdb.pad_and_truncate(ids, 4, padding=padding, truncating=truncating)
        assert dense.dtype == tf.int32
        assert dense.numpy().tolist() == layout, (padding, truncating)
    with pytest.raises(ValueError, match="padding"):
        imdb.pad_and_truncate(ids, 4, padding="both")


# --- Vocabulary. ---


def test_vocabulary_orders_by_count_then_token_after_pad_and_unk():
    texts = ["b a c a", "c a b d", "E e! e"]  # a:3, e:3, b:2, c:2, d:1, !:1.

    vocabulary = imdb.build_vocabulary(texts, max_tokens=100)

    assert vocabulary == ["", "[UNK]", "a", "e", "b", "c", "!", "d"]
    assert imdb.build_vocabulary(texts, max_tokens=5) == ["", "[UNK]", "a", "e", "b"]


def test_vocabulary_has_exactly_max_tokens_ids_when_the_text_has_more_words():
    texts = [" ".join(f"w{index}" for index in range(start, start + 50)) for start in range(40)]

    vocabulary = imdb.build_vocabulary(texts, max_tokens=60, batch_size=7)

    assert len(vocabulary) == 60 and vocabulary[:2] == ["", "[UNK]"]
    assert len(set(vocabulary)) == 60


def test_vocabulary_file_round_trip_and_malformed_files(tmp_path):
    vocabulary = ["", "[UNK]", "the", "naïve", "日本語", "don't", "!"]
    path = imdb.save_vocabulary(vocabulary, tmp_path / "vocab" / "vocabulary.txt")

    assert path.read_bytes().startswith(b"\n[UNK]\nthe\n")
    assert imdb.load_vocabulary(path) == vocabulary
    (tmp_path / "bad.txt").write_text("the\n[UNK]\n")
    with pytest.raises(imdb.ImdbFormatError, match="must start with"):
        imdb.load_vocabulary(tmp_path / "bad.txt")
    (tmp_path / "dup.txt").write_text("\n[UNK]\nthe\nthe\n")
    with pytest.raises(imdb.ImdbFormatError, match="unique"):
        imdb.load_vocabulary(tmp_path / "dup.txt")


def test_vocabulary_comes_from_the_training_subset_only():
    train = _fixture_reviews("train", per_label=10)
    _, validation_indices = imdb.holdout_split(len(train.texts))
    texts = train.texts.copy()
    texts[validation_indices[0]] = b"zyzzyva only in validation"
    train = train._replace(texts=texts)

    data = imdb.from_reviews(train, _fixture_reviews("test"), name="fixture", max_length=8)

    vocabulary = data.encoder.vocabulary
    assert "zyzzyva" not in vocabulary and "review" in vocabulary
    row = data.texts["validation"].tolist().index(b"zyzzyva only in validation")
    ids = data.splits["validation"][0][row]
    assert ids[0] == imdb.UNK_ID
    assert (
        ids.tolist()
        == data.encoder(tf.constant([b"zyzzyva only in validation"]))[0].numpy().tolist()
    )


# --- The encoder. ---


def _encoder(max_length=500, padding="post", truncating="post") -> imdb.ReviewEncoder:
    words = [f"w{index}" for index in range(100)]
    return imdb.ReviewEncoder(["", "[UNK]", *words, "ça"], max_length, padding, truncating)


def test_encoder_maps_empty_non_ascii_and_huge_reviews_to_defined_ids():
    huge = " ".join(f"w{index % 100}" for index in range(100_000))
    for padding in imdb.PADDING_MODES:
        for truncating in imdb.PADDING_MODES:
            encoder = _encoder(padding=padding, truncating=truncating)
            ids, lengths = encoder.encode(tf.constant(["", "Ça 日本語 w3 w99!", huge]))
            ids = ids.numpy()

            assert ids.shape == (3, 500) and ids.dtype == np.int32
            assert lengths.numpy().tolist() == [0, 5, 100_000]
            assert (ids[0] == imdb.PAD_ID).all()
            real = ids[1][ids[1] != imdb.PAD_ID].tolist()
            assert real == [encoder.vocabulary.index("ça"), imdb.UNK_ID, 5, 101, imdb.UNK_ID]
            kept = range(500) if truncating == "post" else range(100_000 - 500, 100_000)
            assert ids[2].tolist() == [2 + index % 100 for index in kept]
            pads = slice(0, 495) if padding == "pre" else slice(5, 500)
            assert (ids[1][pads] == imdb.PAD_ID).all()


def test_encoder_config_round_trip_and_symbolic_use():
    encoder = _encoder(max_length=7, padding="pre")
    texts = tf.constant(["w1 w2 ça", "w50 nope"])

    restored = imdb.ReviewEncoder.from_config(encoder.get_config())

    np.testing.assert_array_equal(restored(texts), encoder(texts))
    assert restored.vocabulary == encoder.vocabulary and restored.padding == "pre"
    symbolic = encoder(keras.Input(shape=(), dtype="string"))
    assert tuple(symbolic.shape) == (None, 7) and symbolic.dtype == "int32"


def test_encoder_serves_raw_strings_from_a_saved_model(tmp_path):
    encoder = _encoder(max_length=12)
    archive = keras.export.ExportArchive()
    archive.track(encoder)
    archive.add_endpoint("encode", encoder.call, [imdb.SERVING_SPEC])
    archive.write_out(str(tmp_path / "encoder"), verbose=False)
    texts = tf.constant(["", "w7 Ça w8 <br /> zzz", "w1 " * 1000])

    reloaded = tf.saved_model.load(str(tmp_path / "encoder"))

    np.testing.assert_array_equal(reloaded.encode(texts), encoder(texts))


# --- tf.data pipelines. ---


def test_split_ids_equal_the_encoder_and_batches_have_the_real_element_spec():
    data = imdb.sentiment_data(dataset="synthetic", max_length=500)

    assert {split: data.num_examples(split) for split in data.splits} == {
        "train": 1_800,
        "validation": 200,
        "test": 500,
    }
    for split in ("train", "validation", "test"):
        ids, labels = data.splits[split]
        assert ids.dtype == np.int32 and labels.dtype == np.int32
        np.testing.assert_array_equal(ids[:64], data.encoder(tf.constant(data.texts[split][:64])))
    batch_spec = data.dataset("train", batch_size=32, training=True).element_spec
    assert batch_spec == (
        tf.TensorSpec((32, 500), tf.int32),
        tf.TensorSpec((32,), tf.int32),
    )
    stream = data.train_stream(batch_size=imdb.BATCH_SIZE, seed=0)(0)
    assert stream.element_spec == batch_spec
    assert data.files == {} and set(data.timings) >= {"vocabulary_seconds", "encode_test_seconds"}


def test_training_epochs_are_reproducible_permutations_without_the_remainder():
    data = imdb.sentiment_data(dataset="synthetic", max_length=40)
    inputs = data.splits["train"][0]
    row_of = {row.tobytes(): index for index, row in enumerate(inputs)}

    def epoch_rows(seed, epoch):
        batches = data.dataset("train", batch_size=32, training=True, seed=seed, epoch=epoch)
        return [row_of[row.tobytes()] for ids, _ in batches for row in ids.numpy()]

    first = epoch_rows(0, 0)
    assert len(first) == (1_800 // 32) * 32 and len(set(first)) == len(first)
    assert first == epoch_rows(0, 0)
    assert first != epoch_rows(0, 1) and first != epoch_rows(1, 0)
    assert first != sorted(first)


def test_sort_by_len_reads_length_sorted_contiguous_wraparound_batches():
    data = imdb.sentiment_data(dataset="synthetic", max_length=60, sort_by_len=True)
    lengths = data.lengths["train"]
    inputs, labels = data.splits["train"]
    num_examples = len(lengths)

    assert (np.diff(lengths) >= 0).all()
    np.testing.assert_array_equal(np.count_nonzero(inputs, axis=1), np.minimum(lengths, 60))
    stream = list(data.train_stream(batch_size=32, seed=0)(55).take(3))
    for offset, (batch_inputs, batch_labels) in enumerate(stream):
        positions = ((55 + offset) * 32 + np.arange(32)) % num_examples
        np.testing.assert_array_equal(batch_inputs, inputs[positions])
        np.testing.assert_array_equal(batch_labels, labels[positions])
    assert num_examples == 1_800 and 56 * 32 < num_examples < 57 * 32  # Batch 56 wraps around.
    # Epoch 1 is the stream's batches 56..111 whatever the seed: nothing is shuffled.
    epoch_one = list(data.dataset("train", batch_size=32, training=True, seed=3, epoch=1))
    assert len(epoch_one) == num_examples // 32 == 56
    np.testing.assert_array_equal(epoch_one[0][0], stream[1][0])


def test_serving_samples_are_fixed_width_bytes_with_edge_cases():
    data = imdb.sentiment_data(dataset="synthetic", max_length=20)

    samples = data.serving_samples(num_reviews=3)

    assert samples.dtype.kind == "S" and samples.shape == (6,)
    assert samples[3] == b"" and samples[4].decode("utf-8").startswith("Ça")
    ids = data.encoder(tf.constant(samples)).numpy()
    assert (ids[3] == 0).all() and (ids[5] != 0).all()


# --- The synthetic task. ---


def test_synthetic_labels_follow_the_sentiment_word_at_early_positions():
    reviews = imdb.synthetic_reviews("train", num_examples=300, early_fraction=0.1, min_words=20)

    tokenized = imdb.tokenize_reviews(tf.constant(list(reviews.texts))).to_list()
    for tokens, label in zip(tokenized, reviews.labels, strict=True):
        words = [token.decode() for token in tokens]
        positive = [index for index, word in enumerate(words) if word in imdb.POSITIVE_WORDS]
        negative = [index for index, word in enumerate(words) if word in imdb.NEGATIVE_WORDS]
        assert len(positive) + len(negative) == 1
        assert (positive if label == 1 else negative)[0] < 4  # ceil(0.1 * 40) positions.
    assert 100 < reviews.labels.sum() < 200
    again = imdb.synthetic_reviews("train", num_examples=300, early_fraction=0.1, min_words=20)
    assert again.texts.tolist() == reviews.texts.tolist()
    assert imdb.files_read(dataset="synthetic") == {}

"""IMDB movie reviews for the chapter-7 sentiment LSTM: readers, holdout, vocabulary, tf.data.

Book: chapter 7, "Implementing a Sentiment Analysis Model" (seed lines 4010-4137, repo
`read_imdb_data.py`, `imdb_lstm.py`); spec ch06-07 §2.2.7, checklist §5.3 item 27, errata §6
item 26, data §7. Dataset: Maas et al., 2011, "Learning Word Vectors for Sentiment Analysis"
(the Large Movie Review Dataset v1.0, "aclImdb").

Two on-disk layouts under `<data root>/imdb/` are accepted, tried in this order:

1. The offline copy (`FILES`): `train.tfrecord.gz`, `test.tfrecord.gz`, GZIP TFRecords of
   `tf.train.Example`s with `text` (the raw UTF-8 review, `<br />` tags included), `label`
   (0 neg, 1 pos), `rating` (1-10) and `id` (`train/pos/0_9`). 25,000 reviews per split, 12,500
   per class, in a fixed pseudo-random order: the ids sorted as strings, then permuted by
   `np.random.default_rng(0).permutation(n)`.
2. The canonical archive `aclImdb_v1.tar.gz` (`ARCHIVE_URL`), downloaded and SHA-256-verified
   when neither layout is present and the machine is online. `read_archive` reads its
   `aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt` members straight from the tarball (the
   50,000 "unsup" reviews and the other members are skipped; nothing is extracted) and puts
   them into the offline copy's order, so both layouts give the same arrays.

The book loads tflearn's LISA-lab `imdb.pkl` (word ids by frequency, pad 0, UNK 1) with
`n_words=30000, valid_portion=0.1`, and unpacks `train, test, _`: its "test" set (86 %
accuracy) is really a 10 % validation split of the training reviews, and the real 25k test
split is discarded. The port rebuilds that from the raw text:

- `holdout_split`: a seeded permutation (tflearn's `valid_portion` rule, not stratified, so the
  classes are only about 1,250 / 1,250) holds out 10 % of the training reviews as the
  validation split: train 22,500, validation 2,500; the real test split (25,000) is kept and
  evaluated separately. The holdout seed is separate from the training seed, so runs with
  different seeds share one validation set.
- Tokenisation runs in the TensorFlow graph (`standardize_review` + `ReviewEncoder`), so an
  exported model takes raw review strings. It is `keras.layers.TextVectorization` with a custom
  standardisation, not tensorflow-text: no new dependency, and it needs only core TF string ops
  (`regex_replace`, `lower`, `split`) plus a hash-table lookup whose vocabulary is saved as a
  SavedModel asset, so any TensorFlow runtime (TF Serving included) loads the export without
  custom ops. tensorflow-text's extra tokenisers (WordPiece, SentencePiece) are not needed for a
  word-level vocabulary.
- Standardisation: invalid UTF-8 becomes U+FFFD; Unicode lower case; `<br />` (any `<br>`
  variant) becomes a space, as do all Unicode separators and control characters; curly
  apostrophes become `'`; apostrophes inside a word are kept (`don't`, `rock'n'roll`) and
  other apostrophes (quotes) dropped; every other character that is not a letter, mark or
  digit becomes a token of its own (`great!!` -> `great ! !`, `well-made` -> `well - made`), as
  the Moses tokenisation behind LISA's `imdb.pkl` does, where `.` and `,` are among the most
  frequent ids and `!`/`?` carry sentiment. Tokens are then split on spaces.
- Vocabulary (`build_vocabulary`): the 29,998 most frequent tokens of the 22,500 training
  reviews only (ties broken by the token's UTF-8 bytes, ascending), after `''` = 0 (padding)
  and `'[UNK]'` = 1 (every other token): 30,000 ids, TextVectorization's own convention, which
  is also LISA's (pad 0, UNK 1, ids below 30,000). `keras.datasets.imdb` uses another one
  (`index_from=3`: start 1, OOV 2), and LISA's exact ids cannot be rebuilt from the raw text.
  `save_vocabulary` / `load_vocabulary` share it between training and export.
- Sequences: `max_length` 500 tokens, with explicit `padding` and `truncating`, each "post"
  (pad / cut at the end: the book-era tflearn default, the spec's default) or "pre" (at the
  start: today's tflearn and Keras default). TextVectorization itself only pads and truncates
  at the end, so `pad_and_truncate` does both directions in the graph. About 11 % of the
  training reviews are longer than 500 tokens (the longest has 2,737) and are truncated; an
  empty review is all padding.
- `sort_by_len=True` mimics tflearn's `load_data(sort_by_len=True)` with the book's
  `IMDBDataset.minibatch`: the training subset is sorted by (untruncated) token count, stably,
  and read in contiguous batches that wrap around the end, never shuffled. tflearn also sorts
  its validation and test sets, which changes no metric over a whole split, so they stay in
  file order here. Otherwise every epoch is a fresh permutation keyed by `(seed, epoch)`
  (`pipeline.epoch_permutation`), batches of 32 with the remainder dropped.

Whole splits are tokenised once, in batches of 1,024 through a parallel tf.data map, and kept
as int32 `(N, max_length)` id arrays (mean 269 tokens per training review). On two busy CPU
cores: reading both splits about 1 s, the vocabulary about 2.6 s, tokenising about 2.7 s per
25,000 reviews (up to 5-6 s under load); `SentimentData.timings` records them per run.
`synthetic_reviews` makes a tiny sentiment task with the same pipeline and element_spec for
fast tests.
"""

import dataclasses
import functools
import os
import re
import tarfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from fdl_tf2.data import download, paths, pipeline

DATASET = "imdb"
SPLITS = ("train", "test")
"""The splits on disk; `sentiment_data` adds the validation split held out of "train"."""
SPLIT_SIZES = {"train": 25_000, "test": 25_000}
NUM_CLASSES = 2
LABEL_NAMES = ("neg", "pos")
VOCABULARY_SIZE = 30_000
MAX_LENGTH = 500
VALIDATION_FRACTION = 0.1
BATCH_SIZE = 32
PAD_TOKEN, UNK_TOKEN = "", "[UNK]"
PAD_ID, UNK_ID = 0, 1
PADDING_MODES = ("post", "pre")

# --- Layout 1: the offline copy (no download source of its own). ---
FILES: tuple[download.DataFile, ...] = (
    download.DataFile(
        "train.tfrecord.gz",
        ("873988d9f92f7b1b98a4ab3fb3e0f17195103b7613d203c770f27f0122c72361",),
    ),
    download.DataFile(
        "test.tfrecord.gz",
        ("58cafe1c963734f6eeb0b58a04674d41edb3bd59dca336f508e53c84a76216d9",),
    ),
)
_TFRECORD_NAMES = {"train": "train.tfrecord.gz", "test": "test.tfrecord.gz"}

# --- Layout 2: the canonical archive. ---
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
ARCHIVE_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ARCHIVE_SIZE = 84_125_825
ARCHIVE_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
"""The digest that tensorflow-datasets and other public projects pin for `ARCHIVE_URL`."""
_ARCHIVE_MEMBER = re.compile(r"(?:\./)?aclImdb/(train|test)/(neg|pos)/(\d+)_(\d+)\.txt")

_ORDER_SEED = 0  # The offline copy's record order (its build script's permutation seed).
_READ_BATCH_SIZE = 4_096
ENCODE_BATCH_SIZE = 1_024

DATASETS = (DATASET, "synthetic")
"""Names accepted by `load_reviews` and `sentiment_data`; "synthetic" needs no files."""

SERVING_SPEC = tf.TensorSpec((None,), tf.string, name="reviews")
"""Raw client input of exported sentiment models: UTF-8 review strings `(batch,)`."""


class ImdbFormatError(ValueError):
    """An IMDB file (TFRecord, archive or vocabulary) whose contents are malformed."""


class Reviews(NamedTuple):
    """One split of reviews, all arrays of shape `(N,)`.

    Attributes:
      texts: object array of `bytes`, the raw UTF-8 reviews.
      labels: int32, 0 = neg, 1 = pos.
      ratings: int32 star ratings 1..10 (neg <= 4, pos >= 7).
      ids: object array of `bytes`, the original file names, e.g. `b"train/pos/0_9"`.
    """

    texts: np.ndarray
    labels: np.ndarray
    ratings: np.ndarray
    ids: np.ndarray


def _check_dataset_name(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; expected one of {DATASETS}.")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")


def _check_padding(name: str, value: str) -> None:
    if value not in PADDING_MODES:
        raise ValueError(f"{name} must be one of {PADDING_MODES}, got {value!r}.")


def _read_only(reviews: Reviews) -> Reviews:
    for array in reviews:
        array.setflags(write=False)
    return reviews


# --- Readers. ---

_FEATURES = {
    "text": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "rating": tf.io.FixedLenFeature([], tf.int64),
    "id": tf.io.FixedLenFeature([], tf.string),
}


def read_tfrecord(path: str | os.PathLike) -> Reviews:
    """Reads every record of an offline-copy GZIP TFRecord file, in file order.

    Records are parsed in batches with `tf.io.parse_example` (about 1 s per 25,000 reviews).

    Returns:
      The split as `Reviews` (texts, labels, ratings, ids).

    Raises:
      ImdbFormatError: the file cannot be decompressed or parsed, has no records, or a label
        is not 0 or 1.
    """
    records = tf.data.TFRecordDataset(str(path), compression_type="GZIP")
    parsed = records.batch(_READ_BATCH_SIZE).map(
        lambda batch: tf.io.parse_example(batch, _FEATURES)
    )
    columns = {name: [] for name in _FEATURES}
    try:
        for batch in parsed.as_numpy_iterator():
            for name in columns:
                columns[name].append(batch[name])
    except tf.errors.OpError as error:
        message = error.message.strip().splitlines()[0]
        raise ImdbFormatError(
            f"{path}: not a readable IMDB GZIP TFRecord file ({message})."
        ) from error
    if not columns["text"]:
        raise ImdbFormatError(f"{path}: contains no records.")
    reviews = Reviews(
        texts=np.concatenate(columns["text"]).astype(object),
        labels=np.concatenate(columns["label"]).astype(np.int32),
        ratings=np.concatenate(columns["rating"]).astype(np.int32),
        ids=np.concatenate(columns["id"]).astype(object),
    )
    if not np.isin(reviews.labels, (0, 1)).all():
        raise ImdbFormatError(f"{path}: labels other than 0 and 1: {np.unique(reviews.labels)}.")
    return reviews


def offline_order(ids: Sequence[bytes]) -> np.ndarray:
    """The offline copy's record order of a split's ids: `order` such that `ids[order]` is it.

    The ids are sorted as strings, then permuted by `np.random.default_rng(0).permutation(n)`,
    as the offline copy's build script did.
    """
    ids = np.asarray(ids, dtype=object)
    by_id = np.array(sorted(range(len(ids)), key=lambda index: ids[index]), dtype=np.int64)
    return by_id[np.random.default_rng(_ORDER_SEED).permutation(len(ids))]


def read_archive(path: str | os.PathLike) -> dict[str, Reviews]:
    """Reads the train and test reviews straight from `aclImdb_v1.tar.gz`.

    Only members named `aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt` are read (the
    "unsup" reviews, `imdb.vocab` and the `.feat` files are skipped) and nothing is written to
    disk. Each split is put into the offline copy's order (`offline_order`), so the arrays equal
    `read_tfrecord`'s.

    Returns:
      `{"train": Reviews, "test": Reviews}`.

    Raises:
      ImdbFormatError: the archive is unreadable, a member is not a regular file, an id repeats,
        or a split has no reviews.
    """
    found = {split: [] for split in SPLITS}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                match = _ARCHIVE_MEMBER.fullmatch(member.name)
                if match is None:
                    continue
                if not member.isfile():
                    raise ImdbFormatError(f"{path}: member {member.name} is not a regular file.")
                split, label_name, number, rating = match.groups()
                text = tar.extractfile(member).read()
                review_id = f"{split}/{label_name}/{number}_{rating}".encode()
                found[split].append((text, LABEL_NAMES.index(label_name), int(rating), review_id))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ImdbFormatError(f"{path}: not a readable tar.gz archive ({error}).") from error
    splits = {}
    for split, rows in found.items():
        if not rows:
            raise ImdbFormatError(f"{path}: no aclImdb/{split}/{{pos,neg}}/*.txt reviews.")
        texts, labels, ratings, ids = (
            np.array(column, dtype=object) for column in zip(*rows, strict=True)
        )
        if len(set(ids)) != len(ids):
            raise ImdbFormatError(f"{path}: repeated review ids in the {split} split.")
        order = offline_order(ids)
        splits[split] = Reviews(
            texts=texts[order],
            labels=labels[order].astype(np.int32),
            ratings=ratings[order].astype(np.int32),
            ids=ids[order],
        )
    return splits


# --- Locating (and if need be downloading) a layout. ---


def _archive_file() -> download.DataFile:
    # Built on each call from the module constants, so tests can point them at a local server.
    return download.DataFile(ARCHIVE_NAME, (ARCHIVE_SHA256,), ARCHIVE_URL)


def _has_offline_copy(folder: Path) -> bool:
    return all((folder / data_file.name).is_file() for data_file in FILES)


def _layouts_message(folder: Path) -> str:
    offline_names = ", ".join(data_file.name for data_file in FILES)
    return (
        f"IMDB accepts either of two layouts under {folder}:\n"
        f"  1. the project's offline copy: {offline_names}\n"
        f"  2. the canonical archive {ARCHIVE_NAME} ({ARCHIVE_URL}, {ARCHIVE_SIZE:,} bytes, "
        f"sha256 {ARCHIVE_SHA256})."
    )


def _locate(split: str, root: Path) -> tuple[str, Path]:
    """Returns `("tfrecord" | "archive", verified file)`, downloading the archive if need be."""
    folder = root / DATASET
    if _has_offline_copy(folder):
        data_file = next(file for file in FILES if file.name == _TFRECORD_NAMES[split])
        return "tfrecord", download.ensure_files(DATASET, (data_file,), root)[data_file.name]
    try:
        located = download.ensure_files(DATASET, (_archive_file(),), root)
    except download.DatasetNotFoundError as error:
        raise download.DatasetNotFoundError(
            f"{_layouts_message(folder)}\nNeither is complete, and the canonical archive could "
            f"not be obtained:\n{error}"
        ) from error
    return "archive", located[ARCHIVE_NAME]


@functools.lru_cache(maxsize=1)
def _read_archive_once(path: str, size: int, mtime_ns: int) -> dict[str, Reviews]:
    # One pass over the tarball serves both splits.
    return {split: _read_only(reviews) for split, reviews in read_archive(path).items()}


@functools.lru_cache(maxsize=4)
def _parse(layout: str, path: str, split: str, size: int, mtime_ns: int) -> Reviews:
    # Keyed by size and mtime too: a replaced file is parsed again.
    if layout == "tfrecord":
        return _read_only(read_tfrecord(path))
    return _read_archive_once(path, size, mtime_ns)[split]


def load_reviews(
    split: str, *, dataset: str = DATASET, data_dir: str | os.PathLike | None = None
) -> Reviews:
    """A split's raw reviews: train 25,000 or test 25,000 (synthetic: 2,000 and 500).

    The offline copy is used when present, else the canonical archive (downloaded when online).
    Files are verified against their SHA-256 on every call (cheaply: the digest is remembered
    per path, size and modification time) and parsed once per process; the arrays returned are
    read-only.

    Args:
      split: "train" or "test".
      dataset: "imdb", or "synthetic" (no files; see `synthetic_reviews`).
      data_dir: dataset root override; None means `$FDL_DATA_DIR`, else the per-user cache.

    Raises:
      ValueError: unknown split or dataset.
      download.DatasetNotFoundError: neither layout is present and the archive cannot be
        downloaded (immediately when `FDL_OFFLINE=1`).
      download.ChecksumError: a file is present but corrupt or truncated (the message names it).
      ImdbFormatError: a file passed its checks but is malformed.
    """
    _check_dataset_name(dataset)
    _check_split(split)
    if dataset == "synthetic":
        return _read_only(synthetic_reviews(split))
    layout, path = _locate(split, paths.data_dir(data_dir))
    status = path.stat()
    return _parse(layout, str(path), split, status.st_size, status.st_mtime_ns)


def files_read(
    *, dataset: str = DATASET, data_dir: str | os.PathLike | None = None
) -> dict[str, str]:
    """`{file name: sha256}` of the copy a run reads (for results.json provenance).

    Names are relative to `<data root>/imdb/`: the two offline-copy TFRecords, or the archive.

    Args:
      dataset: "imdb", or "synthetic" (no files: `{}`).
      data_dir: dataset root override.

    Raises:
      download.DatasetNotFoundError: neither layout is present.
      download.ChecksumError: a file is corrupt.
    """
    _check_dataset_name(dataset)
    if dataset == "synthetic":
        return {}
    folder = paths.data_dir(data_dir) / DATASET
    if _has_offline_copy(folder):
        return {file.name: download.verify(folder / file.name, file) for file in FILES}
    if (folder / ARCHIVE_NAME).is_file():
        return {ARCHIVE_NAME: download.verify(folder / ARCHIVE_NAME, _archive_file())}
    raise download.DatasetNotFoundError(f"{_layouts_message(folder)}\nNeither is present.")


# --- The book's split: 10 % of the training reviews held out. ---


def holdout_split(
    num_examples: int, *, fraction: float = VALIDATION_FRACTION, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training subset and of the held-out validation subset.

    tflearn's `valid_portion` rule with a fixed seed: a permutation of `range(num_examples)`
    whose first `round(num_examples * (1 - fraction))` entries train and whose rest validate
    (not stratified). Each subset is returned sorted, i.e. in file order.

    Returns:
      int64 `(num_train,)` and `(num_validation,)`: 22,500 and 2,500 for 25,000 reviews.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}.")
    num_train = int(np.round(num_examples * (1.0 - fraction)))
    if not 0 < num_train < num_examples:
        raise ValueError(f"{num_examples} examples leave no training or validation subset.")
    order = np.random.default_rng(seed).permutation(num_examples)
    return np.sort(order[:num_train]), np.sort(order[num_train:])


# --- Tokenisation in the graph. ---


@keras.saving.register_keras_serializable(package="fdl_tf2")
def standardize_review(texts: tf.Tensor) -> tf.Tensor:
    """The review standardisation (see the module docstring): string `(batch,)` -> `(batch,)`.

    Core TF string ops only, so it runs inside tf.data, `tf.function` and serving signatures.
    The result has single-space-separated tokens (plus stray spaces), ready for a whitespace
    split.
    """
    texts = tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, r"<\s*br\s*/?\s*>|[\pZ\pC]+", " ")
    texts = tf.strings.regex_replace(texts, "[\u2018\u2019]", "'")
    # Apostrophes survive only between two word characters.
    texts = tf.strings.regex_replace(texts, r"(^|[^\pL\pM\pN])'+", r"\1 ")
    texts = tf.strings.regex_replace(texts, r"'+([^\pL\pM\pN]|$)", r" \1")
    return tf.strings.regex_replace(texts, r"[^\pL\pM\pN\s']", r" \0 ")


def tokenize_reviews(texts: tf.Tensor) -> tf.RaggedTensor:
    """Standardised tokens of each review: string `(batch,)` -> ragged string `(batch, None)`."""
    return tf.strings.split(standardize_review(texts))


def build_vocabulary(
    texts: Sequence[bytes] | np.ndarray,
    *,
    max_tokens: int = VOCABULARY_SIZE,
    batch_size: int = ENCODE_BATCH_SIZE,
) -> list[str]:
    """The `max_tokens` ids of a vocabulary built from `texts` (pass the training reviews only).

    Returns:
      `['', '[UNK]', w_2, ..., w_{max_tokens-1}]`: the pad and UNK tokens, then the most
      frequent tokens, count descending, ties by UTF-8 bytes ascending. Shorter when `texts`
      have fewer distinct tokens.
    """
    if max_tokens < 3:
        raise ValueError(f"max_tokens must be at least 3 (pad, UNK, one word), got {max_tokens}.")
    if len(texts) == 0:
        raise ValueError("build_vocabulary needs at least one review.")
    batches = tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string))

    def batch_counts(batch):
        words, _, counts = tf.unique_with_counts(tokenize_reviews(batch).flat_values)
        return words, counts

    batches = batches.batch(batch_size).map(
        batch_counts, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    all_words, all_counts = [], []
    for words, counts in batches:
        all_words.append(words)
        all_counts.append(counts)
    # Per-batch counts, then one more unique over the (much shorter) per-batch vocabularies.
    words, segments = tf.unique(tf.concat(all_words, 0))
    counts = tf.math.unsorted_segment_sum(tf.concat(all_counts, 0), segments, tf.size(words))
    words, counts = words.numpy(), counts.numpy()
    order = np.lexsort((words, -counts))[: max_tokens - 2]
    vocabulary = [PAD_TOKEN, UNK_TOKEN, *(word.decode("utf-8") for word in words[order])]
    assert UNK_TOKEN not in vocabulary[2:] and PAD_TOKEN not in vocabulary[2:]
    return vocabulary


def _check_vocabulary(vocabulary: Sequence[str], source: str = "vocabulary") -> None:
    if len(vocabulary) < 3 or vocabulary[PAD_ID] != PAD_TOKEN or vocabulary[UNK_ID] != UNK_TOKEN:
        raise ImdbFormatError(
            f"{source}: must start with {PAD_TOKEN!r} (id 0) and {UNK_TOKEN!r} (id 1) and hold at "
            f"least one word; starts with {list(vocabulary[:3])}."
        )
    words = vocabulary[2:]
    if len(set(words)) != len(words) or any(not word or word.split() != [word] for word in words):
        raise ImdbFormatError(f"{source}: words must be unique, non-empty and without spaces.")


def save_vocabulary(vocabulary: Sequence[str], path: str | os.PathLike) -> Path:
    """Writes one token per line (UTF-8, `\\n`-terminated), line 1 empty (pad), line 2 `[UNK]`."""
    _check_vocabulary(vocabulary)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(f"{word}\n" for word in vocabulary).encode("utf-8"))
    return path


def load_vocabulary(path: str | os.PathLike) -> list[str]:
    """Reads a `save_vocabulary` file; id i is line i + 1.

    Raises:
      ImdbFormatError: not UTF-8, or the pad / UNK lines or the words are malformed.
    """
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ImdbFormatError(f"{path}: not UTF-8 ({error}).") from error
    # Only "\n" separates: `str.splitlines` would also split at U+2028 and friends.
    vocabulary = text.split("\n")
    if vocabulary and vocabulary[-1] == "":
        vocabulary.pop()
    _check_vocabulary(vocabulary, str(path))
    return vocabulary


def pad_and_truncate(
    ids: tf.RaggedTensor,
    max_length: int = MAX_LENGTH,
    padding: str = "post",
    truncating: str = "post",
) -> tf.Tensor:
    """Ragged token ids `(batch, None)` -> int32 `(batch, max_length)`, padded with `PAD_ID`.

    `truncating="post"` keeps the first `max_length` tokens of a longer review, "pre" the last
    ones; `padding="post"` puts the pads after the tokens, "pre" before them (tflearn's
    `pad_sequences` options). An empty review is all pads.
    """
    _check_padding("padding", padding)
    _check_padding("truncating", truncating)
    kept = ids[:, :max_length] if truncating == "post" else ids[:, -max_length:]
    dense = tf.cast(kept.to_tensor(PAD_ID, shape=[None, max_length]), tf.int32)  # Post-padded.
    if padding == "pre":
        # Shift each row right by its number of pads: pre[j] = post[j - pads].
        pads = max_length - tf.cast(kept.row_lengths(), tf.int32)  # (batch,)
        source = tf.range(max_length)[None, :] - pads[:, None]  # (batch, max_length)
        shifted = tf.gather(dense, tf.maximum(source, 0), batch_dims=1)
        dense = tf.where(source >= 0, shifted, PAD_ID)
    return dense


@keras.saving.register_keras_serializable(package="fdl_tf2")
class ReviewEncoder(keras.layers.Layer):
    """Raw reviews -> token ids in the graph: `standardize_review`, split, lookup, pad/truncate.

    Input: string `(batch,)`. Output: int32 `(batch, max_length)` ids in
    `[0, vocabulary_size)`, 0 = pad, 1 = UNK. The lookup is a `keras.layers.TextVectorization`
    sublayer (ragged output); track this layer in an export so its vocabulary table is saved.

    Args:
      vocabulary: `['', '[UNK]', words...]`, e.g. from `build_vocabulary` or `load_vocabulary`.
      max_length: tokens per sequence.
      padding, truncating: "post" or "pre" (see `pad_and_truncate`).
    """

    def __init__(
        self,
        vocabulary: Sequence[str],
        max_length: int = MAX_LENGTH,
        padding: str = "post",
        truncating: str = "post",
        **kwargs,
    ):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        vocabulary = [str(word) for word in vocabulary]
        _check_vocabulary(vocabulary)
        _check_padding("padding", padding)
        _check_padding("truncating", truncating)
        if max_length <= 0:
            raise ValueError(f"max_length must be positive, got {max_length}.")
        self.max_length = max_length
        self.padding = padding
        self.truncating = truncating
        self.vectorizer = keras.layers.TextVectorization(
            standardize=standardize_review,
            split="whitespace",
            output_mode="int",
            ragged=True,
            vocabulary=vocabulary,
            name="vectorizer",
        )
        # String inputs: no float conversion, no XLA (string ops and a hash table).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False
        self.built = True  # No weights of its own: usable (and exportable) before a call.

    @property
    def vocabulary(self) -> list[str]:
        return [str(word) for word in self.vectorizer.get_vocabulary()]

    def vocabulary_size(self) -> int:
        return self.vectorizer.vocabulary_size()

    def token_ids(self, texts) -> tf.RaggedTensor:
        """Untruncated, unpadded ids: string `(batch,)` -> ragged int64 `(batch, None)`."""
        return self.vectorizer(tf.convert_to_tensor(texts, tf.string))

    def encode(self, texts) -> tuple[tf.Tensor, tf.Tensor]:
        """`(ids int32 (batch, max_length), untruncated token counts int32 (batch,))`."""
        ids = self.token_ids(texts)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        return pad_and_truncate(ids, self.max_length, self.padding, self.truncating), lengths

    def call(self, texts):
        return self.encode(texts)[0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.max_length)

    def compute_output_spec(self, texts):
        return keras.KerasTensor((texts.shape[0], self.max_length), dtype="int32")

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": self.vocabulary,
            "max_length": self.max_length,
            "padding": self.padding,
            "truncating": self.truncating,
        }


def encode_reviews(
    encoder: ReviewEncoder,
    texts: Sequence[bytes] | np.ndarray,
    *,
    batch_size: int = ENCODE_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Tokenises a whole split with `encoder`, in batches through a parallel tf.data map.

    Returns:
      int32 ids `(N, max_length)` and int32 untruncated token counts `(N,)`.
    """
    if len(texts) == 0:
        return np.zeros((0, encoder.max_length), np.int32), np.zeros((0,), np.int32)
    batches = tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string))
    batches = batches.batch(batch_size).map(
        encoder.encode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    ids, lengths = zip(*batches.as_numpy_iterator(), strict=True)
    return np.concatenate(ids), np.concatenate(lengths)


# --- The synthetic sentiment task. ---

POSITIVE_WORDS = ("great", "superb", "wonderful")
NEGATIVE_WORDS = ("awful", "boring", "terrible")
SYNTHETIC_SPLIT_SIZES = {"train": 2_000, "test": 500}


def synthetic_reviews(
    split: str,
    *,
    num_examples: int | None = None,
    min_words: int = 5,
    max_words: int = 40,
    early_fraction: float = 1.0,
    num_filler_words: int = 100,
    seed: int | None = None,
) -> Reviews:
    """Random "reviews" whose label is set by one sentiment word at a random position.

    Each review has `min_words..max_words` filler words `w0..w{num_filler_words-1}` and exactly
    one word of `POSITIVE_WORDS` (label 1) or `NEGATIVE_WORDS` (label 0), capitalised at random,
    at a position drawn uniformly from the first `ceil(early_fraction * length)` positions (so
    `early_fraction` near 0 puts it at the start, far from a post-padded end). Some reviews
    carry `<br /><br />` and a final "." to exercise the standardisation.

    Args:
      split: "train" (2,000 reviews by default) or "test" (500); each has its own seed.
      num_examples: overrides the split's size.
      seed: overrides the split's seed.

    Returns:
      `Reviews` with ratings 10 (pos) / 1 (neg) and ids `b"synthetic/<split>/<index>"`.
    """
    _check_split(split)
    if not 1 <= min_words <= max_words:
        raise ValueError(f"Need 1 <= min_words <= max_words, got {min_words}, {max_words}.")
    if not 0.0 < early_fraction <= 1.0:
        raise ValueError(f"early_fraction must be in (0, 1], got {early_fraction}.")
    num_examples = SYNTHETIC_SPLIT_SIZES[split] if num_examples is None else num_examples
    rng = np.random.default_rng({"train": 20, "test": 21}[split] if seed is None else seed)
    labels = rng.integers(0, NUM_CLASSES, num_examples).astype(np.int32)
    texts = []
    for label in labels:
        length = int(rng.integers(min_words, max_words + 1))
        words = [f"w{index}" for index in rng.integers(0, num_filler_words, length)]
        position = int(rng.integers(0, int(np.ceil(early_fraction * length))))
        word = str(rng.choice(POSITIVE_WORDS if label else NEGATIVE_WORDS))
        words[position] = word.capitalize() if rng.random() < 0.5 else word
        if rng.random() < 0.2:
            words.insert(int(rng.integers(position + 1, length + 1)), "<br /><br />")
        text = " ".join(words) + (" ." if rng.random() < 0.5 else "")
        texts.append(text.encode("utf-8"))
    return Reviews(
        texts=np.array(texts, dtype=object),
        labels=labels,
        ratings=np.where(labels == 1, 10, 1).astype(np.int32),
        ids=np.array(
            [f"synthetic/{split}/{index}".encode() for index in range(num_examples)], dtype=object
        ),
    )


# --- The tf.data side: token-id splits for the engine. ---


@dataclasses.dataclass(frozen=True)
class SentimentData(pipeline.ClassificationData):
    """The IMDB splits as token ids, for `training.epochs` / `loop.train`, plus the encoder.

    `splits` hold int32 ids `(N, max_length)` and int32 labels `(N,)` for "train" (22,500),
    "validation" (2,500) and "test" (25,000), already tokenised, so `preprocess_inputs` is the
    identity. Exports take raw strings instead (`serving_spec`, string `(None,)`): their
    preprocessing is `encoder`, which the export must track so its vocabulary is saved, e.g.

        serving_model = sentiment.serving_copy(model)  # No cuDNN: empty reviews are safe.
        endpoint = saved_model.classifier_endpoint(
            serving_model, data.encoder, data.serving_spec, input_name="reviews")
        saved_model.export(name, endpoints={saved_model.SIGNATURE_KEY: endpoint},
                           samples={saved_model.SIGNATURE_KEY: (data.serving_samples(),)},
                           track=[serving_model, data.encoder], ...)

    Attributes (beyond `pipeline.ClassificationData`'s):
      encoder: the `ReviewEncoder` that produced the ids (vocabulary, max_length, padding).
      texts: split -> the raw reviews, an object array of bytes in the order of `splits`.
      lengths: split -> untruncated token counts, int32 `(N,)`.
      sort_by_len: the training split is sorted by length and read in contiguous wrap-around
        batches (tflearn / the book's `IMDBDataset.minibatch`), never shuffled.
      timings: seconds spent reading, building the vocabulary and tokenising.
    """

    encoder: ReviewEncoder | None = None
    texts: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    lengths: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    sort_by_len: bool = False
    timings: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def vocabulary_size(self) -> int:
        return self.encoder.vocabulary_size()

    @property
    def max_length(self) -> int:
        return self.encoder.max_length

    def _contiguous_batches(self, batch_size: int, start_step: int) -> tf.data.Dataset:
        """Training batch k = positions `(k * batch_size + [0, batch_size)) mod N`, k >= start."""
        inputs, targets = self._tensors["train"]
        num_examples = self.num_examples("train")
        if not 0 < batch_size <= num_examples:
            raise ValueError(f"batch_size must be in [1, {num_examples}], got {batch_size}.")

        def gather(step):
            positions = (step * batch_size + tf.range(batch_size, dtype=tf.int64)) % num_examples
            return tf.gather(inputs, positions), tf.gather(targets, positions)

        steps = tf.data.Dataset.range(int(start_step), 2**62)
        batches = steps.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return batches.prefetch(tf.data.AUTOTUNE)

    def dataset(
        self, split: str, *, batch_size: int, training: bool, seed: int = 0, epoch: int = 0
    ) -> tf.data.Dataset:
        """One epoch of `(ids int32 (batch, max_length), labels int32 (batch,))` batches.

        Training batches are shuffled per `(seed, epoch)` with the remainder dropped, or with
        `sort_by_len` the epoch's `N // batch_size` contiguous length-sorted batches of the
        wrap-around stream. Evaluation batches keep the split's order and every example.
        """
        if not (training and self.sort_by_len and split == "train"):
            return super().dataset(
                split, batch_size=batch_size, training=training, seed=seed, epoch=epoch
            )
        steps = self.steps_per_epoch(batch_size)
        return self._contiguous_batches(batch_size, epoch * steps).take(steps)

    def train_stream(self, *, batch_size: int, seed: int) -> Callable[[int], tf.data.Dataset]:
        """`start_step -> training batches from that step on` (what `loop.train` consumes)."""
        if not self.sort_by_len:
            return super().train_stream(batch_size=batch_size, seed=seed)
        return lambda start_step: self._contiguous_batches(batch_size, start_step)

    def serving_samples(self, num_reviews: int = 5) -> np.ndarray:
        """Sample export inputs: test reviews plus an empty, a non-ASCII and a huge review.

        Returns:
          Fixed-width bytes `(num_reviews + 3,)` (`np.bytes_`, so `np.save` needs no pickle).
        """
        reviews = list(self.texts["test"][:num_reviews])
        longest = max(self.texts["test"], key=len)
        extra = [b"", "Ça, c'est génial ! 日本語のレビュー 👍".encode(), b" ".join([longest] * 4)]
        return np.array(reviews + extra, dtype=np.bytes_)


def _identity_ids(ids: tf.Tensor) -> tf.Tensor:
    return tf.cast(ids, tf.int32)


def from_reviews(
    train: Reviews,
    test: Reviews,
    *,
    name: str,
    files: dict[str, str] | None = None,
    vocabulary: Sequence[str] | str | os.PathLike | None = None,
    vocabulary_size: int = VOCABULARY_SIZE,
    max_length: int = MAX_LENGTH,
    padding: str = "post",
    truncating: str = "post",
    validation_fraction: float = VALIDATION_FRACTION,
    holdout_seed: int = 0,
    sort_by_len: bool = False,
    num_train_examples: int = 0,
    read_seconds: float = 0.0,
) -> SentimentData:
    """`SentimentData` from raw train and test reviews (the core of `sentiment_data`).

    Holds out `validation_fraction` of `train` (`holdout_split(seed=holdout_seed)`), builds the
    vocabulary from the remaining training reviews unless one is given (a list, or a
    `save_vocabulary` file), and tokenises every split once.

    Args:
      num_train_examples: keep only the first N reviews of the training subset (0 = all); the
        validation split is unchanged.
      read_seconds: time the caller spent reading, recorded in `timings`.
    """
    if num_train_examples < 0:
        raise ValueError(f"num_train_examples must be >= 0, got {num_train_examples}.")
    train_indices, validation_indices = holdout_split(
        len(train.texts), fraction=validation_fraction, seed=holdout_seed
    )
    if num_train_examples:
        train_indices = train_indices[:num_train_examples]
    timings = {"read_seconds": read_seconds}
    start = time.perf_counter()
    if vocabulary is None:
        vocabulary = build_vocabulary(train.texts[train_indices], max_tokens=vocabulary_size)
    elif isinstance(vocabulary, (str, os.PathLike)):
        vocabulary = load_vocabulary(vocabulary)
    timings["vocabulary_seconds"] = time.perf_counter() - start
    encoder = ReviewEncoder(vocabulary, max_length, padding, truncating)

    start = time.perf_counter()
    used = np.concatenate([train_indices, validation_indices])
    train_ids, train_lengths = encode_reviews(encoder, train.texts[used])
    timings["encode_train_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    test_ids, test_lengths = encode_reviews(encoder, test.texts)
    timings["encode_test_seconds"] = time.perf_counter() - start

    # Rows of train_ids: the training subset first, then the validation subset.
    train_rows = np.arange(len(train_indices))
    if sort_by_len:
        train_rows = train_rows[np.argsort(train_lengths[train_rows], kind="stable")]
    validation_rows = np.arange(len(train_indices), len(used))
    splits, texts, lengths = {}, {}, {}
    for split, rows in (("train", train_rows), ("validation", validation_rows)):
        splits[split] = (train_ids[rows], train.labels[used[rows]].astype(np.int32))
        texts[split] = train.texts[used[rows]]
        lengths[split] = train_lengths[rows]
    splits["test"] = (test_ids, test.labels.astype(np.int32))
    texts["test"], lengths["test"] = test.texts, test_lengths
    return SentimentData(
        name=name,
        splits=splits,
        preprocess_inputs=_identity_ids,
        preprocess_targets=_identity_ids,
        serving_spec=SERVING_SPEC,
        files=files or {},
        encoder=encoder,
        texts=texts,
        lengths=lengths,
        sort_by_len=sort_by_len,
        timings=timings,
    )


def sentiment_data(
    *,
    dataset: str = DATASET,
    vocabulary: Sequence[str] | str | os.PathLike | None = None,
    vocabulary_size: int = VOCABULARY_SIZE,
    max_length: int = MAX_LENGTH,
    padding: str = "post",
    truncating: str = "post",
    validation_fraction: float = VALIDATION_FRACTION,
    holdout_seed: int = 0,
    sort_by_len: bool = False,
    num_train_examples: int = 0,
    data_dir: str | os.PathLike | None = None,
) -> SentimentData:
    """The book's IMDB splits as token ids: train 22,500 / validation 2,500 / test 25,000.

    Training batches: `data.train_stream(batch_size=32, seed=...)` (or `data.dataset("train",
    batch_size=32, training=True, epoch=...)`), int32 `(32, max_length)` ids and int32 `(32,)`
    labels; evaluation: `data.dataset("validation" | "test", batch_size=..., training=False)`.
    See the module docstring for the tokenisation, vocabulary, padding and `sort_by_len`.

    Args:
      dataset: "imdb", or "synthetic" (`synthetic_reviews`: 1,800 / 200 / 500 reviews).
      vocabulary: a vocabulary (list or `save_vocabulary` file) to use instead of building one
        from the training subset, e.g. the one a trained model was exported with.
      vocabulary_size: ids of the built vocabulary, pad and UNK included.
      max_length, padding, truncating: the sequence layout (see `pad_and_truncate`).
      validation_fraction, holdout_seed: the held-out validation split (`holdout_split`).
      sort_by_len: tflearn's length-sorted, unshuffled training order.
      num_train_examples: keep only the first N training reviews (0 = all 22,500).
      data_dir: dataset root override.

    Raises:
      The errors of `load_reviews`.
    """
    _check_dataset_name(dataset)
    start = time.perf_counter()
    train = load_reviews("train", dataset=dataset, data_dir=data_dir)
    test = load_reviews("test", dataset=dataset, data_dir=data_dir)
    return from_reviews(
        train,
        test,
        name=dataset,
        files=files_read(dataset=dataset, data_dir=data_dir),
        vocabulary=vocabulary,
        vocabulary_size=vocabulary_size,
        max_length=max_length,
        padding=padding,
        truncating=truncating,
        validation_fraction=validation_fraction,
        holdout_seed=holdout_seed,
        sort_by_len=sort_by_len,
        num_train_examples=num_train_examples,
        read_seconds=time.perf_counter() - start,
    )

"""The chapter-7 translation data utilities: tokeniser, vocabularies, token ids, buckets, batches.

Book: chapter 7, "A Neural Translation Network" (seed lines 4212-4349 and 4357-4634; the repo's
`seq2seq/data_utils.py` and the `read_data` / `get_batch` / `train` / `decode` of
`translate.py` and `seq2seq_model.py`, themselves a copy of the TF r0.7 translate tutorial);
spec ch06-07 §2.2.10, checklist §5.3 items 29-30, errata §6 items 28-32. Data: the book's WMT
en-fr files (`prepare_wmt_data`, online only) or, offline, Multi30k (`multi30k`).

    english, french = multi30k.load_pairs("train")
    en_words = create_vocabulary(english, 40_000)
    fr_words = create_vocabulary(french, 40_000)
    source, target = pairs_to_ids(english, french, word_ids(en_words), word_ids(fr_words))
    bucketed = bucket_pairs(source, target, BUCKETS)
    batches = train_batches(bucketed, batch_size=64, seed=0)(start_step)  # Resumes exactly.

What this module keeps and changes from the book:

- Tokens: `basic_tokenizer` is the book's (split on white space, then around each of
  . , ! ? " ' : ; ) ( keeping them, empty strings dropped); `normalize_digits` maps every
  digit to "0". The book works on bytes (`br"\\d"`: ASCII digits only); here on `str`, where
  `\\d` is every Unicode decimal digit, as in the graph (`DIGIT`).
- Vocabulary: `START_VOCAB` (ids 0-3) then the tokens by descending count, ties in order of
  first occurrence (what the book's `sorted(vocab, key=vocab.get, reverse=True)` gives on an
  insertion-ordered dict, i.e. Python >= 3.7), cut to `max_size` entries in all. A corpus token
  equal to a special token is not added a second time (the book would duplicate it). The file
  format is the book's, one word per line; `load_vocabulary` is its `initialize_vocabulary`
  with checks.
- Buckets: `BUCKETS` (the repo's) by default, `BOOK_TEXT_BUCKETS` (the text's, seed line 4242)
  on request. A training pair goes to the first bucket with `len(source) < s` and
  `len(target) + 1 < t` (EOS appended; strict, `bucket_of`); `decode` uses `s >= len(source)`
  (`decode_bucket_of`), an off-by-one between the two (errata 32).
- Layout: `bucket_layout` builds the book's `get_batch` arrays BATCH-major (`(batch, time)`);
  the book's are time-major lists of `(batch,)` arrays (`array.T` gives them).
- Sampling: `train_batches` is the book's training schedule, a bucket drawn in proportion to its
  size (`train_buckets_scale`, seed lines 4357-4489) then `batch_size` pairs uniformly with
  replacement (`get_batch`), as a tf.data pipeline whose batch at step k is a pure function of
  (seed, k), so a resumed run sees exactly the batches it would have seen.
- Serving: `tokenize_in_graph` / `normalize_digits_in_graph` equal the Python functions on
  every sentence, and `detokenize` / `detokenize_in_graph` turn output tokens back into text
  (the book prints the space-joined tokens).
"""

import collections
import dataclasses
import gzip
import logging
import math
import os
import re
import shutil
import tarfile
import time
import urllib.error
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from fdl_tf2.data import download as downloading
from fdl_tf2.data import paths
from fdl_tf2.export.text_endpoints import DIGIT, WHITESPACE, sanitize

_LOG = logging.getLogger(__name__)

PAD, GO, EOS, UNK = "_PAD", "_GO", "_EOS", "_UNK"
START_VOCAB = (PAD, GO, EOS, UNK)
PAD_ID, GO_ID, EOS_ID, UNK_ID = 0, 1, 2, 3

BUCKETS = ((5, 10), (10, 15), (20, 25), (40, 50))
"""The repo's `_buckets` (translate.py): `(encoder size, decoder size)` pairs, the default."""
BOOK_TEXT_BUCKETS = ((5, 10), (10, 15), (20, 25), (30, 40))
"""The buckets the book's text lists (seed line 4242; errata 30)."""

Bucket = tuple[int, int]
Pair = tuple[list[int], list[int]]
Tokenizer = Callable[[str], list[str]]


class VocabularyError(ValueError):
    """A vocabulary file that is empty or not a vocabulary of this module's format."""


# --- Tokens -------------------------------------------------------------------------------

_PUNCTUATION = "[.,!?\"':;)(]"
_WORD_SPLIT = re.compile(f"({_PUNCTUATION})")
_DIGIT = re.compile(r"\d")


def basic_tokenizer(sentence: str) -> list[str]:
    """The book's tokeniser: white space, then around . , ! ? " ' : ; ) ( (kept as tokens).

    `basic_tokenizer("I read.") == ["I", "read", "."]`; "l'homme" -> ["l", "'", "homme"].
    """
    tokens = []
    for fragment in sentence.split():
        tokens.extend(_WORD_SPLIT.split(fragment))
    return [token for token in tokens if token]


def normalize_digits(token: str) -> str:
    """Every decimal digit -> "0" (the book's `_DIGIT_RE.sub("0", w)`): "1984" -> "0000"."""
    return _DIGIT.sub("0", token)


def tokenize_in_graph(sentences: tf.Tensor) -> tf.RaggedTensor:
    """`basic_tokenizer` in the graph.

    Invalid UTF-8 becomes U+FFFD first (`text_endpoints.sanitize`); the white space split on is
    `str.split()`'s (`text_endpoints.WHITESPACE`, Unicode separators included).

    Args:
      sentences: UTF-8 strings `(batch,)`.

    Returns:
      String ragged `(batch, (tokens))`.
    """
    spaced = tf.strings.regex_replace(sanitize(sentences), f"({_PUNCTUATION})", r" \1 ")
    spaced = tf.strings.regex_replace(spaced, WHITESPACE + "+", " ")
    tokens = tf.strings.split(spaced, sep=" ")  # (batch, (pieces)), "" at either end.
    return tf.ragged.boolean_mask(tokens, tf.not_equal(tokens, ""))


def normalize_digits_in_graph(tokens: tf.Tensor | tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
    """`normalize_digits` on a string tensor of any shape (ragged too)."""
    if isinstance(tokens, tf.RaggedTensor):
        return tf.ragged.map_flat_values(tf.strings.regex_replace, tokens, DIGIT, "0")
    return tf.strings.regex_replace(tokens, DIGIT, "0")


# --- Detokenising -------------------------------------------------------------------------

_NO_SPACE_BEFORE = (".", ",", "!", "?", ":", ";", ")")
_FRENCH_SPACED = ("!", "?", ":", ";")
"""French typography puts a space before these; the Multi30k French captions mostly do
(train + val: 12 of 13 ":", 22 of 22 ";", 19 of 21 "!", 7 of 9 "?"), the English never."""
_NO_SPACE_AFTER = ("(",)
_APOSTROPHE = "'"
_QUOTE = '"'
_DECIMAL_MARKS = (".", ",")


def _is_letter(token: str) -> bool:
    return len(token) == 1 and token.isalpha()  # isalpha: Unicode L*, as RE2's \p{L}.


def _no_space_before(language: str) -> tuple[str, ...]:
    if language == "fr":
        return tuple(mark for mark in _NO_SPACE_BEFORE if mark not in _FRENCH_SPACED)
    return _NO_SPACE_BEFORE


def _joined(
    previous: str,
    token: str,
    before_previous: str,
    token_closes: bool,
    previous_closes: bool,
    no_space_before: tuple[str, ...],
) -> bool:
    """True when no space goes between `previous` and `token` (rules of `detokenize`)."""
    if token in no_space_before or previous in _NO_SPACE_AFTER:
        return True
    if _APOSTROPHE in (previous, token):
        return True
    if token == _QUOTE and token_closes:
        return True
    if previous == _QUOTE and not previous_closes:
        return True
    # Initials: "J . P . Morgan" reads back as "J.P. Morgan".
    if previous == "." and _is_letter(before_previous) and _is_letter(token):
        return True
    # "3 . 5" and "2 , 5" (a decimal mark between digits) read back as "3.5" and "2,5".
    return (
        previous in _DECIMAL_MARKS
        and token[:1].isdecimal()  # Unicode category Nd, as `\d` and RE2's \p{Nd}.
        and before_previous[-1:].isdecimal()
    )


def detokenize(tokens: Sequence[str], language: str = "en") -> str:
    """Text from `basic_tokenizer` tokens: the inverse of the tokeniser on ordinary text.

    Tokens are joined by one space, except:
      - none before . , ! ? : ; ) and none after (; in French ("fr") one before ! ? : ;
        (French typography, as the Multi30k French captions mostly write them);
      - an apostrophe is glued to both neighbours ("l ' homme" -> "l'homme",
        "woman ' s" -> "woman's");
      - double quotes alternate: an opening one (1st, 3rd, ...) is glued to the next token, a
        closing one to the previous;
      - a . or , between a token ending in a digit and one starting with a digit is glued to
        both ("3 . 5" -> "3.5");
      - a . between two one-letter tokens is glued to both ("J . P . Morgan" -> "J.P. Morgan").

    English and German ("en", "de", anything but "fr") share the rules. What does not read
    back: possessive plurals ("ladies ' bathroom" -> "ladies'bathroom"), text that itself had
    spaces around punctuation, and a double quote typed for an apostrophe ("l"herbe").
    `detokenize_in_graph` applies the same rules. Measured on Multi30k, `detokenize(
    basic_tokenizer(s), language) == " ".join(s.split())` for 99.80 % of val.en, 100 % of
    val.fr and of test_2016_flickr.fr, 99.86 % of train.en and 99.94 % of train.fr.
    """
    no_space_before = _no_space_before(language)
    pieces: list[str] = []
    quotes = 0
    for position, token in enumerate(tokens):
        if position > 0:
            previous = tokens[position - 1]
            before_previous = tokens[position - 2] if position > 1 else ""
            # `quotes` counts the quotes before `token`; odd ordinals close a pair.
            token_closes = quotes % 2 == 1
            previous_closes = (quotes - 1) % 2 == 1
            if not _joined(
                previous, token, before_previous, token_closes, previous_closes, no_space_before
            ):
                pieces.append(" ")
        pieces.append(token)
        quotes += token == _QUOTE
    return "".join(pieces)


def detokenize_in_graph(tokens: tf.RaggedTensor, language: str = "en") -> tf.Tensor:
    """`detokenize` in the graph.

    Args:
      tokens: string ragged `(batch, (tokens))`.
      language: a Python string, as `detokenize`'s (it selects the rules at trace time).

    Returns:
      Strings `(batch,)`.
    """
    flat = tokens.flat_values  # (n,)
    rows = tokens.value_rowids()
    position = tf.range(tf.shape(flat, out_type=tf.int64)[0]) - tf.gather(tokens.row_starts(), rows)

    def shifted(values, by):  # values[i - by] within the row, "" before the row start.
        padded = tf.concat([tf.fill([by], ""), values], axis=0)[: tf.shape(values)[0]]
        return tf.where(position >= by, padded, "")

    previous, before_previous = shifted(flat, 1), shifted(flat, 2)
    is_quote = tf.equal(flat, _QUOTE)
    # The ordinal of each quote within its row: a within-row exclusive cumulative sum.
    quote_counts = tf.cumsum(tf.cast(is_quote, tf.int64), exclusive=True)
    row_offsets = tf.gather(quote_counts, tf.gather(tokens.row_starts(), rows))
    ordinal = quote_counts - row_offsets  # (n,) quotes before this token in its row.
    closing = tf.equal(ordinal % 2, 1)  # For a quote token: it closes a pair.
    previous_closing = tf.logical_and(tf.equal(previous, _QUOTE), tf.equal((ordinal - 1) % 2, 1))

    def any_of(values, choices):
        return tf.reduce_any(tf.equal(values[:, None], tf.constant(choices)[None, :]), axis=1)

    def is_letter(values):
        return tf.strings.regex_full_match(values, r"\p{L}")

    ends_with_digit = tf.strings.regex_full_match(before_previous, r".*\p{Nd}")
    starts_with_digit = tf.strings.regex_full_match(flat, r"\p{Nd}.*")
    joined = (
        any_of(flat, _no_space_before(language))
        | any_of(previous, _NO_SPACE_AFTER)
        | tf.equal(previous, _APOSTROPHE)
        | tf.equal(flat, _APOSTROPHE)
        | (is_quote & closing)
        | (tf.equal(previous, _QUOTE) & tf.logical_not(previous_closing))
        | (any_of(previous, _DECIMAL_MARKS) & starts_with_digit & ends_with_digit)
        | (tf.equal(previous, ".") & is_letter(before_previous) & is_letter(flat))
    )
    separator = tf.where((position > 0) & tf.logical_not(joined), " ", "")
    pieces = tokens.with_flat_values(tf.strings.join([separator, flat]))
    return tf.strings.reduce_join(pieces, axis=1)


# --- Vocabularies and token ids -----------------------------------------------------------


def create_vocabulary(
    sentences: Iterable[str],
    max_size: int,
    *,
    tokenizer: Tokenizer = basic_tokenizer,
    normalize_digits: bool = True,
) -> list[str]:
    """The book's `create_vocabulary`, from sentences rather than a file: id -> word.

    Args:
      sentences: the training text, one sentence per item.
      max_size: entries in all, the four special tokens included (the book's 40,000).
      tokenizer: splits a sentence into tokens.
      normalize_digits: count `normalize_digits(token)` instead of the token.

    Returns:
      `START_VOCAB` then the tokens by descending count, ties by first occurrence.

    Raises:
      ValueError: `max_size` < 4.
    """
    if max_size < len(START_VOCAB):
        raise ValueError(f"max_size must be >= {len(START_VOCAB)}, got {max_size}.")
    counts: collections.Counter[str] = collections.Counter()
    for sentence in sentences:
        tokens = tokenizer(sentence)
        counts.update(map(_normalize, tokens) if normalize_digits else tokens)
    for special in START_VOCAB:
        counts.pop(special, None)
    # sorted() is stable and a Counter keeps first-insertion order: ties stay in corpus order.
    ranked = sorted(counts, key=counts.__getitem__, reverse=True)
    return [*START_VOCAB, *ranked][:max_size]


_normalize = normalize_digits  # The parameter of the same name shadows it in the functions.


def word_ids(words: Sequence[str]) -> dict[str, int]:
    """`{word: id}` of an id -> word list."""
    return {word: index for index, word in enumerate(words)}


def save_vocabulary(words: Sequence[str], path: str | os.PathLike) -> None:
    """Writes one word per line, UTF-8, in id order (the book's `vocab40000.en` format)."""
    Path(path).write_text("".join(f"{word}\n" for word in words), encoding="utf-8")


def load_vocabulary(path: str | os.PathLike) -> tuple[dict[str, int], list[str]]:
    """The book's `initialize_vocabulary`: `(word -> id, id -> word)` of a vocabulary file.

    Raises:
      VocabularyError: the file is missing, empty, not UTF-8, has an empty line or a repeated
        word, or does not start with `START_VOCAB` (naming the file and line).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise VocabularyError(f"{path}: not a readable vocabulary file ({error}).") from error
    words = text.split("\n")
    if words and words[-1] == "":
        words.pop()
    if not words:
        raise VocabularyError(f"{path}: the vocabulary file is empty.")
    if tuple(words[: len(START_VOCAB)]) != START_VOCAB:
        raise VocabularyError(
            f"{path}: a vocabulary must start with {list(START_VOCAB)}, got {words[:4]}."
        )
    lookup: dict[str, int] = {}
    for index, word in enumerate(words):
        if not word:
            raise VocabularyError(f"{path}:{index + 1}: an empty line.")
        if word in lookup:
            raise VocabularyError(
                f"{path}:{index + 1}: {word!r} again (first on line {lookup[word] + 1})."
            )
        lookup[word] = index
    return lookup, words


def sentence_to_token_ids(
    sentence: str,
    word_to_id: Mapping[str, int],
    *,
    tokenizer: Tokenizer = basic_tokenizer,
    normalize_digits: bool = True,
) -> list[int]:
    """The book's `sentence_to_token_ids`: tokens -> ids, unknown tokens -> `UNK_ID`."""
    tokens = tokenizer(sentence)
    if normalize_digits:
        tokens = [_normalize(token) for token in tokens]
    return [word_to_id.get(token, UNK_ID) for token in tokens]


def pairs_to_ids(
    source_sentences: Sequence[str],
    target_sentences: Sequence[str],
    source_vocab: Mapping[str, int],
    target_vocab: Mapping[str, int],
    *,
    normalize_digits: bool = True,
) -> tuple[list[list[int]], list[list[int]]]:
    """`sentence_to_token_ids` of aligned sentence lists (no EOS yet: `read_data` adds it).

    Raises:
      ValueError: the two lists differ in length.
    """
    if len(source_sentences) != len(target_sentences):
        raise ValueError(
            f"{len(source_sentences)} source sentences but {len(target_sentences)} targets."
        )
    source = [
        sentence_to_token_ids(s, source_vocab, normalize_digits=normalize_digits)
        for s in source_sentences
    ]
    target = [
        sentence_to_token_ids(s, target_vocab, normalize_digits=normalize_digits)
        for s in target_sentences
    ]
    return source, target


def data_to_token_ids(
    data_path: str | os.PathLike,
    target_path: str | os.PathLike,
    vocabulary_path: str | os.PathLike,
    *,
    tokenizer: Tokenizer = basic_tokenizer,
    normalize_digits: bool = True,
) -> None:
    """The book's `data_to_token_ids`: a text file -> a file of space-separated ids per line.

    Like the book, does nothing when `target_path` exists. The text is read as UTF-8 (bytes
    that are not become U+FFFD).
    """
    if Path(target_path).exists():
        return
    word_to_id, _ = load_vocabulary(vocabulary_path)
    partial = Path(f"{target_path}.partial")
    with _open_text(data_path) as source, open(partial, "w", encoding="utf-8") as target:
        for line in source:
            ids = sentence_to_token_ids(
                line, word_to_id, tokenizer=tokenizer, normalize_digits=normalize_digits
            )
            target.write(" ".join(map(str, ids)) + "\n")
    os.replace(partial, target_path)  # An interrupted run leaves no half-written ids file.


def read_token_ids(path: str | os.PathLike) -> list[list[int]]:
    """The lines of a `data_to_token_ids` file as lists of ids."""
    with open(path, encoding="utf-8") as handle:
        return [[int(token) for token in line.split()] for line in handle]


def _open_text(path: str | os.PathLike):
    opener = gzip.open if str(path).endswith(".gz") else open
    return opener(path, "rt", encoding="utf-8", errors="replace", newline="\n")


def _lines(path: str | os.PathLike) -> Iterable[str]:
    with _open_text(path) as handle:
        yield from handle


# --- The book's WMT data (online only) ----------------------------------------------------

WMT_TRAIN_URL = "http://www.statmt.org/wmt10/training-giga-fren.tar"
"""The book's training corpus (giga-fren, ~22.5 M pairs, several GB)."""
WMT_DEV_URL = "http://www.statmt.org/wmt15/dev-v2.tgz"
"""The book's dev set (newstest2013 inside `dev/`)."""
WMT_TRAIN_SHA256: str | None = None
WMT_DEV_SHA256: str | None = None
"""No digest of the two archives is pinned: the project could not fetch them (offline). Pass
`train_sha256=` / `dev_sha256=` (e.g. `sha256sum` of a copy you trust) to download them; all
downloads are verified, so without a digest nothing is downloaded."""


class WmtPaths(NamedTuple):
    """What `prepare_wmt_data` returns: the book's 6-tuple, with names."""

    en_train_ids: Path
    fr_train_ids: Path
    en_dev_ids: Path
    fr_dev_ids: Path
    en_vocabulary: Path
    fr_vocabulary: Path


def _fetch_archive(url: str, destination: Path, sha256: str | None, timeout: float) -> Path:
    """Downloads a WMT archive through `download.download`, failing fast and clearly offline."""
    if destination.is_file():
        return destination
    if paths.offline():
        raise downloading.DatasetNotFoundError(
            f"{destination} is missing and ${paths.ENV_OFFLINE} is set, so {url} is not "
            "downloaded. Provide the text files (see prepare_wmt_data) or run online."
        )
    if sha256 is None:
        raise downloading.DatasetNotFoundError(
            f"{destination} is missing and no SHA-256 is pinned for {url}: downloads are always "
            "verified, so pass its digest (train_sha256= / dev_sha256=) or place the file there."
        )
    start = time.monotonic()
    try:
        return downloading.download(url, destination, sha256, timeout)
    except (TimeoutError, urllib.error.URLError, OSError) as error:
        raise downloading.DatasetNotFoundError(
            f"downloading {url} failed after {time.monotonic() - start:.1f} s ({error}); this "
            f"machine looks offline. Provide {destination} or the text files by hand."
        ) from error


def _text_file(prefix: Path, language: str) -> Path:
    """`<prefix>.<language>`, or `<prefix>.<language>.gz` when only that exists."""
    plain = Path(f"{prefix}.{language}")
    packed = Path(f"{plain}.gz")
    return packed if not plain.is_file() and packed.is_file() else plain


def _ensure_train_set(
    data_dir: Path, prefix: Path, allow_download: bool, url: str, sha256, timeout
) -> None:
    # The book's get_wmt_enfr_train_set: the tar holds `<name>.en.gz` and `<name>.fr.gz`.
    wanted = [_text_file(prefix, language) for language in ("en", "fr")]
    if all(path.is_file() for path in wanted):
        return
    if not allow_download:
        raise downloading.DatasetNotFoundError(
            f"WMT training files missing: {[str(p) for p in wanted if not p.is_file()]} "
            "(download=False)."
        )
    archive = _fetch_archive(url, data_dir / Path(url).name, sha256, timeout)
    with tarfile.open(archive) as tar:
        for path in wanted:
            member = tar.getmember(f"{prefix.name}.{path.suffix[1:]}.gz")
            with tar.extractfile(member) as packed, gzip.open(packed) as unpacked:
                with open(path, "wb") as handle:
                    shutil.copyfileobj(unpacked, handle)


def _ensure_dev_set(
    data_dir: Path, prefix: Path, allow_download: bool, url: str, sha256, timeout
) -> None:
    # The book's get_wmt_enfr_dev_set: the tgz holds `dev/<name>.en` and `dev/<name>.fr`.
    wanted = [_text_file(prefix, language) for language in ("en", "fr")]
    if all(path.is_file() for path in wanted):
        return
    if not allow_download:
        raise downloading.DatasetNotFoundError(
            f"WMT dev files missing: {[str(p) for p in wanted if not p.is_file()]} "
            "(download=False)."
        )
    archive = _fetch_archive(url, data_dir / Path(url).name, sha256, timeout)
    with tarfile.open(archive, "r:gz") as tar:
        for path in wanted:
            with tar.extractfile(f"dev/{prefix.name}{path.suffix}") as packed:
                with open(path, "wb") as handle:
                    shutil.copyfileobj(packed, handle)


def prepare_wmt_data(
    data_dir: str | os.PathLike,
    en_vocab_size: int,
    fr_vocab_size: int,
    *,
    train_prefix: str | os.PathLike = "giga-fren.release2.fixed",
    dev_prefix: str | os.PathLike = "newstest2013",
    tokenizer: Tokenizer = basic_tokenizer,
    download: bool = True,
    train_url: str = WMT_TRAIN_URL,
    dev_url: str = WMT_DEV_URL,
    train_sha256: str | None = WMT_TRAIN_SHA256,
    dev_sha256: str | None = WMT_DEV_SHA256,
    timeout: float = downloading.CONNECT_TIMEOUT_S,
) -> WmtPaths:
    """The book's `prepare_wmt_data`: vocabularies and token-id files of a parallel corpus.

    Reads `<train_prefix>.{en,fr}` and `<dev_prefix>.{en,fr}` (relative to `data_dir` unless
    absolute; UTF-8 text, or gzipped text `<prefix>.<lang>.gz`), and writes, as the book:
      `<data_dir>/vocab<N>.{en,fr}` (from the training text) and
      `<prefix>.ids<N>.{en,fr}` next to each text file.
    Existing vocabulary and id files are kept (the book's behaviour: delete them to rebuild).
    When the WMT text is missing and `download` is set, the book's archives are downloaded
    (verified; only with a digest, see `WMT_TRAIN_SHA256`) and unpacked into `data_dir`.

    Returns:
      `WmtPaths`: en/fr train ids, en/fr dev ids, en/fr vocabularies (the book's order).

    Raises:
      download.DatasetNotFoundError: text files are missing and `download` is off, offline
        (at once with `$FDL_OFFLINE`, within seconds otherwise), or without a digest.
      download.ChecksumError: a downloaded archive is not the expected bytes.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    train = data_dir / train_prefix
    dev = data_dir / dev_prefix
    _ensure_train_set(data_dir, train, download, train_url, train_sha256, timeout)
    _ensure_dev_set(data_dir, dev, download, dev_url, dev_sha256, timeout)
    sizes = {"en": en_vocab_size, "fr": fr_vocab_size}
    vocabularies = {}
    ids = {}
    for language, size in sizes.items():
        vocabularies[language] = data_dir / f"vocab{size}.{language}"
        if not vocabularies[language].exists():
            words = create_vocabulary(
                _lines(_text_file(train, language)), size, tokenizer=tokenizer
            )
            save_vocabulary(words, vocabularies[language])
        for name, prefix in (("train", train), ("dev", dev)):
            ids[name, language] = Path(f"{prefix}.ids{size}.{language}")
            data_to_token_ids(
                _text_file(prefix, language),
                ids[name, language],
                vocabularies[language],
                tokenizer=tokenizer,
            )
    return WmtPaths(
        ids["train", "en"],
        ids["train", "fr"],
        ids["dev", "en"],
        ids["dev", "fr"],
        vocabularies["en"],
        vocabularies["fr"],
    )


# --- Buckets ------------------------------------------------------------------------------


def bucket_of(source_len: int, target_len: int, buckets: Sequence[Bucket]) -> int | None:
    """The first bucket a TRAINING pair fits, with the book's strict rule (`read_data`).

    Args:
      source_len: source tokens.
      target_len: target tokens INCLUDING the appended EOS.

    Returns:
      The first i with `source_len < buckets[i][0] and target_len < buckets[i][1]`, else None
      (the pair is dropped). Strict because the decoder input is [GO] + target, one longer.
    """
    for index, (source_size, target_size) in enumerate(buckets):
        if source_len < source_size and target_len < target_size:
            return index
    return None


def decode_bucket_of(source_len: int, buckets: Sequence[Bucket]) -> int:
    """The bucket the book's `decode` uses for a source sentence (seed lines 4531-4634).

    Returns:
      The first i with `buckets[i][0] >= source_len` (not strict, unlike `bucket_of`: an
      off-by-one, errata 32, harmless since the encoder needs no extra slot), else the last
      bucket. The book then only warns "Sentence truncated" and crashes in `step()`; the caller
      here must cut the source to `buckets[-1][0]` tokens itself.
    """
    for index, (source_size, _) in enumerate(buckets):
        if source_size >= source_len:
            return index
    return len(buckets) - 1


def _assign(
    source_ids: Sequence[Sequence[int]],
    target_ids: Sequence[Sequence[int]],
    buckets: Sequence[Bucket],
    max_size: int,
) -> tuple[list[list[Pair]], int]:
    if len(source_ids) != len(target_ids):
        raise ValueError(f"{len(source_ids)} source sentences but {len(target_ids)} targets.")
    data_set: list[list[Pair]] = [[] for _ in buckets]
    dropped = 0
    count = len(source_ids) if not max_size else min(max_size, len(source_ids))
    for source, target in zip(source_ids[:count], target_ids[:count], strict=True):
        target = [*target, EOS_ID]
        index = bucket_of(len(source), len(target), buckets)
        if index is None:
            dropped += 1
        else:
            data_set[index].append((list(source), target))
    return data_set, dropped


def read_data(
    source_ids: Sequence[Sequence[int]],
    target_ids: Sequence[Sequence[int]],
    buckets: Sequence[Bucket] = BUCKETS,
    max_size: int = 0,
) -> list[list[Pair]]:
    """The book's `read_data`, on id lists (`read_token_ids` reads the book's files).

    Args:
      source_ids, target_ids: aligned token ids, no EOS.
      max_size: read at most this many pairs (0: all; the book's `max_train_data_size`).

    Returns:
      Per bucket, its `(source, target + [EOS_ID])` pairs in input order; a pair goes to the
      first bucket it fits (`bucket_of`). Pairs that fit none are dropped and counted in a log
      line (`bucket_pairs` returns the count).
    """
    data_set, dropped = _assign(source_ids, target_ids, buckets, max_size)
    _LOG.info(
        "read_data: %d pairs in buckets %s, %d dropped.",
        sum(map(len, data_set)),
        [len(pairs) for pairs in data_set],
        dropped,
    )
    return data_set


def bucket_layout(
    pairs: Sequence[Pair], bucket: Bucket, *, reverse_source: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The book's `get_batch` layout of given pairs, batch-major (seed lines 4273-4349).

    With `(s, t) = bucket` and a pair `(source, target)` (target with its EOS):
      encoder = reversed(source + [PAD] * (s - len(source)))  (pads first), or, with
                `reverse_source=False`, source + pads;
      decoder = [GO] + target + [PAD] * (t - len(target) - 1);
      targets = decoder[1:] + [PAD]                           (the next decoder input);
      weights = 1.0 where targets != PAD else 0.0.
    The book's weight rule (0 at t == t_max - 1 or where decoder[t + 1] == PAD) is the same.
    The book's arrays are time-major lists; `encoder.T[i]` is its `encoder_inputs[i]`.

    Returns:
      `(encoder_inputs, decoder_inputs, targets, weights)`: int32 `(batch, s)`, int32
      `(batch, t)`, int32 `(batch, t)`, float32 `(batch, t)`; batch = len(pairs).

    Raises:
      ValueError: a source longer than s or a target longer than t - 1 (truncate first).
    """
    source_size, target_size = bucket
    encoder = np.full((len(pairs), source_size), PAD_ID, np.int32)
    decoder = np.full((len(pairs), target_size), PAD_ID, np.int32)
    for row, (source, target) in enumerate(pairs):
        if len(source) > source_size or len(target) > target_size - 1:
            raise ValueError(
                f"Pair {row} has {len(source)} source and {len(target)} target ids; bucket "
                f"{bucket} takes at most {source_size} and {target_size - 1}."
            )
        encoder[row, : len(source)] = source
        decoder[row, 0] = GO_ID
        decoder[row, 1 : len(target) + 1] = target
    if reverse_source:
        encoder = encoder[:, ::-1].copy()
    targets = np.concatenate([decoder[:, 1:], np.full((len(pairs), 1), PAD_ID, np.int32)], 1)
    weights = (targets != PAD_ID).astype(np.float32)
    return encoder, decoder, targets, weights


@dataclasses.dataclass(frozen=True)
class BucketedPairs:
    """Every pair of a corpus in the book's bucket layout, one set of arrays per bucket.

    Attributes:
      buckets: `((s, t), ...)`.
      encoder_inputs: per bucket, int32 `(size_i, s_i)`.
      decoder_inputs, targets: per bucket, int32 `(size_i, t_i)`.
      weights: per bucket, float32 `(size_i, t_i)`.
      num_dropped: pairs that fit no bucket.
    """

    buckets: tuple[Bucket, ...]
    encoder_inputs: tuple[np.ndarray, ...]
    decoder_inputs: tuple[np.ndarray, ...]
    targets: tuple[np.ndarray, ...]
    weights: tuple[np.ndarray, ...]
    num_dropped: int

    @property
    def sizes(self) -> tuple[int, ...]:
        """Pairs per bucket."""
        return tuple(len(array) for array in self.encoder_inputs)


def bucket_pairs(
    source_ids: Sequence[Sequence[int]],
    target_ids: Sequence[Sequence[int]],
    buckets: Sequence[Bucket] = BUCKETS,
    reverse_source: bool = True,
    max_size: int = 0,
) -> BucketedPairs:
    """`read_data` then `bucket_layout` of every pair of each bucket."""
    data_set, dropped = _assign(source_ids, target_ids, buckets, max_size)
    layouts = [
        bucket_layout(pairs, bucket, reverse_source=reverse_source)
        for pairs, bucket in zip(data_set, buckets, strict=True)
    ]
    return BucketedPairs(
        buckets=tuple(tuple(bucket) for bucket in buckets),
        encoder_inputs=tuple(layout[0] for layout in layouts),
        decoder_inputs=tuple(layout[1] for layout in layouts),
        targets=tuple(layout[2] for layout in layouts),
        weights=tuple(layout[3] for layout in layouts),
        num_dropped=dropped,
    )


# --- tf.data batches ----------------------------------------------------------------------

_KEYS = ("encoder_inputs", "decoder_inputs", "targets", "weights")
_STEP_LIMIT = 2**62


def train_batches(
    bucketed: BucketedPairs, *, batch_size: int, seed: int
) -> Callable[[int], tf.data.Dataset]:
    """The book's training schedule as an infinite, resumable tf.data stream.

    Step k's batch: bucket i with probability size_i / sum(sizes) (the book's
    `train_buckets_scale`: `r ~ U[0, 1)`, `i = min(j : scale[j] > r)`), then `batch_size` pairs
    uniformly with replacement from bucket i (`get_batch`). Both draws are stateless random ops
    seeded by (seed, k), so the batch is a pure function of (seed, k): `make(k)` yields
    exactly the elements k, k+1, ... of `make(0)`, whatever ran before (checkpoint resume).
    Empty buckets have probability 0. No Python runs per step.

    Returns:
      `make(start_step) -> tf.data.Dataset` of dicts: "encoder_inputs" int32
      `(batch_size, s_i)`, "decoder_inputs" and "targets" int32 `(batch_size, t_i)`,
      "weights" float32 `(batch_size, t_i)`, "bucket" int32 `()`. The element_spec's time
      axes are None, so a train step `tf.function(input_signature=[dataset.element_spec])`
      is traced once and serves every bucket (tested); without the signature, eager elements
      of a new bucket's shape would trigger a new trace. The stream is reproducible for a
      given TensorFlow version (stateless ops; the book's `random.random()` is not).

    Raises:
      ValueError: every bucket is empty, or batch_size < 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    sizes = np.array(bucketed.sizes, np.float64)
    if not sizes.sum():
        raise ValueError("Every bucket is empty; there is nothing to sample.")
    with np.errstate(divide="ignore"):
        logits = tf.constant(np.log(sizes / sizes.sum())[None, :], tf.float64)  # (1, buckets)
    arrays = [
        {key: tf.constant(getattr(bucketed, key)[index]) for key in _KEYS}
        for index in range(len(sizes))
    ]

    def branch(index: int, pair_seed: tf.Tensor) -> Callable[[], dict]:
        def gather():
            if not sizes[index]:  # Never chosen (probability 0); a branch must still exist.
                return {key: tf.zeros((batch_size, 1), arrays[index][key].dtype) for key in _KEYS}
            rows = tf.random.stateless_uniform(
                [batch_size], pair_seed, minval=0, maxval=int(sizes[index]), dtype=tf.int64
            )
            return {key: tf.gather(arrays[index][key], rows) for key in _KEYS}

        return gather

    def batch_at(step: tf.Tensor) -> dict:
        step_seed = tf.stack([tf.constant(seed, tf.int64), step])  # (2,)
        bucket_seed, pair_seed = tf.unstack(tf.random.experimental.stateless_split(step_seed, 2))
        bucket = tf.random.stateless_categorical(logits, 1, bucket_seed, dtype=tf.int32)[0, 0]
        batch = tf.switch_case(bucket, [branch(i, pair_seed) for i in range(len(sizes))])
        batch = {key: tf.ensure_shape(batch[key], (batch_size, None)) for key in _KEYS}
        return {**batch, "bucket": bucket}

    def make(start_step: int = 0) -> tf.data.Dataset:
        if start_step < 0:
            raise ValueError(f"start_step must be >= 0, got {start_step}.")
        steps = tf.data.Dataset.range(start_step, _STEP_LIMIT)
        return steps.map(
            batch_at, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        ).prefetch(tf.data.AUTOTUNE)

    return make


def eval_batches(bucketed: BucketedPairs, batch_size: int) -> list[tf.data.Dataset]:
    """Per bucket, every pair once, in order, in batches (the last one partial).

    For per-bucket dev perplexity over the whole split (the book evaluates one random batch per
    bucket, seed lines 4357-4489). Elements are the dicts of `train_batches` with a batch axis
    of None and static time axes `(s_i)` / `(t_i)`: a compiled eval step traces once per bucket.
    An empty bucket gives an empty dataset.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    datasets = []
    for index in range(len(bucketed.buckets)):
        columns = {key: getattr(bucketed, key)[index] for key in _KEYS}
        bucket = tf.constant(index, tf.int32)
        batches = tf.data.Dataset.from_tensor_slices(columns).batch(batch_size)
        datasets.append(batches.map(lambda batch, bucket=bucket: {**batch, "bucket": bucket}))
    return datasets


def perplexity(loss: float) -> float:
    """The book's printed perplexity: exp(loss), or inf when loss >= 300."""
    return math.exp(loss) if loss < 300 else math.inf

"""CoNLL-2000 for the chapter-7 POS tagger: reader, the book's preprocessing, n-gram windows.

Book: chapter 7, "Implementing a Part-of-Speech Tagger" (seed lines 3325-3672; the repo's
`read_pos_data.py` and `feedforward_pos.py`); spec ch06-07 §2.2.1, checklist §5.3 items 17 and
19, errata §6 items 14-19. Data: Tjong Kim Sang & Buchholz, 2000, "Introduction to the
CoNLL-2000 Shared Task: Chunking" (WSJ sections 15-18 for training, 20 for testing).

Files (`FILES`), under `<data root>/conll2000/`: `train.txt.gz` (8,936 sentences, 211,727
tokens) and `test.txt.gz` (2,012 sentences, 47,377 tokens), one `word POS chunk` line per token
and a blank line after each sentence; 44 POS tags, all of them in the training file. The
offline copy re-gzips the original members byte for byte (so its .gz digests differ from the
canonical files'; the decompressed text is identical). When a file is missing and the machine
is online, it is downloaded from the book's URL (`URL`) and verified.

What this module keeps and changes from the book:

- The reader keeps sentence boundaries and drops the chunk column (the book's
  `cut -f1,2 -d " "`). `flatten` gives the book's single token stream.
- `preprocess_tokens` is the book's preprocessing, branch for branch, given the word-vector
  vocabulary as a predicate `in_vocabulary(word) -> bool` (see `word_vectors`):
    1. if `w1 + "_" + w2` (the raw words) is in the vocabulary and both tags are equal, emit
       the phrase with that tag and skip both tokens (`New York` -> `New_York`);
    2. else normalise: every digit -> "#", every "-" -> "_";
    3. if the normalised word is in the vocabulary, emit it;
    4. else if it contains "_", emit each non-empty piece with the token's tag (so a word
       made only of dashes, e.g. `--` -> `__`, disappears when `__` is not in the vocabulary:
       the book's behaviour, kept);
    5. else emit the normalised word anyway (it gets an out-of-vocabulary vector).
  `preprocess_sentences` applies it within each sentence, so a phrase never joins the last
  word of one sentence to the first of the next (which the book's flat stream could do, in
  principle; `preprocess_tokens(flatten(...))` is the exact book order).
- Tags: `tag_index` in first-seen order over the training file then the test file (the
  book's `tags_to_index`), or over the training file only (`tag_order="train"`).
- Windows: the left context ending at the target, `(w[i-n+1], ..., w[i])` labelled with
  tag(w[i]) (lines 3333-3337); `window="centered"` (not the book's; Collobert et al., 2011)
  centres the target, `(w[i-h], ..., w[i], ..., w[i+h])` with h = n // 2, PAD past either
  end of the sentence. Each position can also carry the word's shape and suffix ids
  (`word_shape`; `TaggedCorpus.token_ids`). By default windows stay inside a sentence and
  the missing context past a sentence end is `PAD_ID` (every token is a target).
  `cross_sentence=True` is the book's: windows over the flattened stream, window c =
  ids[c:c+n] labelled tags[c+n-1], so the first n-1 tokens are never targets (the repo's
  `POSDataset.minibatch` indexing; `BookMinibatches` replays its contiguous, wrapping
  minibatches); centred, the label is tags[c+n//2] and the first and last n // 2 tokens are
  never targets.
- Validation: the book "validates" on the test set every epoch (errata item 19); here the last
  `VALIDATION_FRACTION` of the training file's sentences are held out as "validation" and the
  test file is kept for the final number (`validation_fraction=0` restores the book's data).

Ids: `PAD_ID` = 0 (`PAD_TOKEN`, the zero vector), `UNK_ID` = 1 (`UNK_TOKEN`, for words outside
the dataset vocabulary at tagging time), then the dataset words; `word_vectors.VectorCache`
lays its matrix and vocabulary file out the same way.
"""

import dataclasses
import functools
import gzip
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fdl_tf2.data import download, paths, word_shape

if TYPE_CHECKING:  # TensorFlow is imported only by `classification_data`.
    from fdl_tf2.data import pipeline

DATASET = "conll2000"
SPLITS = ("train", "validation", "test")
NUM_TAGS = 44
N_GRAM = 3
VALIDATION_FRACTION = 0.1
"""The last 10 % of the training file's sentences (894 of 8,936) form the validation split."""

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
PAD_ID = 0
UNK_ID = 1
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN)
"""Ids 0 and 1; CoNLL-2000 has no token containing "<", so they never collide with a word."""

DEMO_SENTENCE = (
    "Then", "the", "woman", ",", "after", "grabbing", "her", "umbrella", ",",
    "went", "to", "the", "bank", "to", "deposit", "her", "cash", ".",
)  # fmt: skip
"""The sentence the book tags after every epoch (lines 3608-3650; repo `feedforward_pos.py`)."""
DEMO_PREFIX = ("She", "decided", "that", "it", "was", "time", "to", "leave", "home", ".")
"""The demo's left context: its last n-1 tokens precede the sentence's first window."""

URL = "http://www.cnts.ua.ac.be/conll2000/chunking/"
"""The book's source (lines 3370-3375). The task's pages have since moved to
https://www.clips.uantwerpen.be/conll2000/chunking/ (same file names)."""

# Accepted digests: the project's offline copy first, then the canonical download. The
# canonical files' SHA-256 are those JuliaText/CorpusLoaders.jl pins for the same files at
# clips.uantwerpen.be (its earlier commit pinned the decompressed text, whose SHA-256 equals the
# offline copy's, as do the MD5s torchtext pins); not re-checked by a download here (offline).
TRAIN_FILE = download.DataFile(
    "train.txt.gz",
    (
        "bb828b11822d90dd2189b9b2d81436f7f09f9d53cf2e3514ffc408cf90434e4f",
        "bcbbe17c487d0939d48c2d694622303edb3637ca9c4944776628cd1815c5cb34",
    ),
    URL + "train.txt.gz",
)
TEST_FILE = download.DataFile(
    "test.txt.gz",
    (
        "e9b6ab142898d592b355518374e03cbca0d9678a125aee84876c7a3a6334ce5d",
        "2695b931a505b65b1d3fe2a5aa0d749edcd53d786278da6d7726714e1426fbe8",
    ),
    URL + "test.txt.gz",
)
FILES = (TRAIN_FILE, TEST_FILE)
SPLIT_FILES = {"train": TRAIN_FILE, "test": TEST_FILE}
"""The file of each of the dataset's own splits (validation is cut from "train")."""

Token = tuple[str, str]
"""`(word, tag)`."""
Sentence = list[Token]
InVocabulary = Callable[[str], bool]


class ConllFormatError(ValueError):
    """A CoNLL file that cannot be read or has a malformed line."""


# --- Reading ------------------------------------------------------------------------------


def read_conll(path: str | os.PathLike) -> list[Sentence]:
    """Reads a CoNLL-2000 file (gzipped or plain) into sentences of `(word, tag)`.

    Lines are `word POS chunk` (or the book's two-column `word POS`); the chunk column is
    dropped. A blank line ends a sentence; the last one needs none.

    Raises:
      ConllFormatError: the file is not readable (e.g. a truncated gzip), or a line has not
        2 or 3 fields (naming the file and line number).
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        text = data.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise ConllFormatError(f"{path}: not a readable CoNLL file ({error}).") from error
    sentences: list[Sentence] = []
    sentence: Sentence = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            if sentence:
                sentences.append(sentence)
                sentence = []
            continue
        if len(fields) not in (2, 3):
            raise ConllFormatError(
                f"{path}:{number}: expected 'word POS [chunk]', got {len(fields)} fields: {line!r}."
            )
        sentence.append((fields[0], fields[1]))
    if sentence:
        sentences.append(sentence)
    return sentences


@functools.lru_cache(maxsize=4)
def _load_file(split: str, root: str) -> tuple[tuple[Token, ...], ...]:
    data_file = SPLIT_FILES[split]
    located = download.ensure_files(DATASET, (data_file,), root)
    return tuple(tuple(sentence) for sentence in read_conll(located[data_file.name]))


def load_sentences(split: str, *, data_dir: str | os.PathLike | None = None) -> list[Sentence]:
    """The raw sentences of the "train" or "test" file (parsed once per process).

    Raises:
      ValueError: an unknown split.
      download.DatasetNotFoundError: the file is missing (at once when offline).
      download.ChecksumError: the file is not the expected bytes (e.g. truncated).
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"Unknown split {split!r}; expected one of {tuple(SPLIT_FILES)}.")
    return [list(sentence) for sentence in _load_file(split, str(paths.data_dir(data_dir)))]


def split_training_sentences(
    sentences: Sequence[Sentence], validation_fraction: float = VALIDATION_FRACTION
) -> tuple[list[Sentence], list[Sentence]]:
    """`(train, validation)`: the last round(fraction * len) sentences are validation."""
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}.")
    num_validation = round(validation_fraction * len(sentences))
    cut = len(sentences) - num_validation
    return list(sentences[:cut]), list(sentences[cut:])


def load_splits(
    *,
    validation_fraction: float = VALIDATION_FRACTION,
    data_dir: str | os.PathLike | None = None,
) -> dict[str, list[Sentence]]:
    """Raw `{"train", "validation", "test"}` sentences; validation is cut from the train file."""
    train, validation = split_training_sentences(
        load_sentences("train", data_dir=data_dir), validation_fraction
    )
    return {
        "train": train,
        "validation": validation,
        "test": load_sentences("test", data_dir=data_dir),
    }


def files_read(data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """`{file name: sha256}` of the two files a run reads (results.json provenance).

    Raises:
      download.DatasetNotFoundError: a file is missing.
      download.ChecksumError: a file is corrupt.
    """
    located = download.ensure_files(DATASET, FILES, data_dir)
    return {file.name: download.verify(located[file.name], file) for file in FILES}


def flatten(sentences: Iterable[Sentence]) -> list[Token]:
    """The book's token stream: the sentences concatenated, boundaries dropped."""
    return [token for sentence in sentences for token in sentence]


# --- The book's preprocessing -------------------------------------------------------------

_DIGIT = re.compile(r"\d")


def normalize_word(word: str) -> str:
    """The book's normalisation to the GoogleNews conventions: digits -> "#", "-" -> "_"."""
    return _DIGIT.sub("#", word).replace("-", "_")


def preprocess_tokens(tokens: Sequence[Token], in_vocabulary: InVocabulary) -> list[Token]:
    """The book's preprocessing of one token stream (branches 1-5 of the module docstring).

    Args:
      tokens: `(word, tag)` pairs in text order (a sentence, or `flatten(...)` for the book's
        exact behaviour across sentence ends).
      in_vocabulary: True for words that have a pre-trained vector (the book's `word in model`).

    Returns:
      The processed `(word, tag)` pairs; there can be fewer (phrases, vanished dash-only
      words) or more (split compounds) of them than tokens.
    """
    processed: list[Token] = []
    position = 0
    while position < len(tokens):
        word, tag = tokens[position]
        if position + 1 < len(tokens):
            next_word, next_tag = tokens[position + 1]
            phrase = f"{word}_{next_word}"  # The raw words, as the book checks them.
            if tag == next_tag and in_vocabulary(phrase):
                processed.append((phrase, tag))
                position += 2
                continue
        normalized = normalize_word(word)
        if in_vocabulary(normalized):
            processed.append((normalized, tag))
        elif "_" in normalized:
            processed += [(piece, tag) for piece in normalized.split("_") if piece.strip()]
        else:
            processed.append((normalized, tag))
        position += 1
    return processed


def preprocess_sentences(
    sentences: Iterable[Sentence], in_vocabulary: InVocabulary
) -> list[Sentence]:
    """`preprocess_tokens` within each sentence; a sentence left empty is dropped."""
    processed = (preprocess_tokens(sentence, in_vocabulary) for sentence in sentences)
    return [sentence for sentence in processed if sentence]


# --- Indices ------------------------------------------------------------------------------

TAG_ORDERS = ("book", "train")


def tag_index(*sentence_lists: Iterable[Sentence]) -> tuple[str, ...]:
    """The tags in first-seen order over the given sentence lists, in turn (id -> tag)."""
    return tuple(
        dict.fromkeys(tag for sentences in sentence_lists for _, tag in flatten(sentences))
    )


def word_index(*sentence_lists: Iterable[Sentence]) -> tuple[str, ...]:
    """The distinct words in first-seen order (the book's `dataset_vocab`, made ordered)."""
    return tuple(
        dict.fromkeys(word for sentences in sentence_lists for word, _ in flatten(sentences))
    )


def sentence_ids(
    sentences: Sequence[Sentence],
    word_lookup: Mapping[str, int],
    tag_lookup: Mapping[str, int],
    *,
    unk_id: int = UNK_ID,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Word and tag ids per sentence: two lists of int32 `(sentence_length,)` arrays.

    Words missing from `word_lookup` get `unk_id`.

    Raises:
      ValueError: a tag is not in `tag_lookup` (naming the tags).
    """
    unknown_tags = {tag for _, tag in flatten(sentences)} - set(tag_lookup)
    if unknown_tags:
        raise ValueError(f"Tags {sorted(unknown_tags)} are not in the tag index.")
    words = [
        np.array([word_lookup.get(word, unk_id) for word, _ in sentence], np.int32)
        for sentence in sentences
    ]
    tags = [np.array([tag_lookup[tag] for _, tag in sentence], np.int32) for sentence in sentences]
    return words, tags


# --- N-gram windows -----------------------------------------------------------------------


WINDOWS = ("left", "centered")
"""Window kinds: "left" (the book's), the n-word left context ending at the target;
"centered" (Collobert et al., 2011), the target with n // 2 words either side (n odd)."""


def target_position(n: int, window: str = "left") -> int:
    """The target's position in a window of `n` ids: n - 1 ("left") or n // 2 ("centered").

    Raises:
      ValueError: an unknown window kind, n < 1, or an even n for a centred window.
    """
    if window not in WINDOWS:
        raise ValueError(f"Unknown window {window!r}; expected one of {WINDOWS}.")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}.")
    if window == "centered" and n % 2 == 0:
        raise ValueError(f"A centred window needs an odd n, got {n}.")
    return n - 1 if window == "left" else n // 2


def _windows_of(stream: np.ndarray, n: int) -> np.ndarray:
    """Every n consecutive rows of `stream` `(L, ...)`: `(L - n + 1, n, ...)` (a view)."""
    windows = np.lib.stride_tricks.sliding_window_view(stream, n, axis=0)  # (L-n+1, ..., n)
    return np.moveaxis(windows, -1, 1)


def ngram_windows(
    word_ids: Sequence[np.ndarray],
    tag_ids: Sequence[np.ndarray],
    n: int = N_GRAM,
    *,
    cross_sentence: bool = False,
    window: str = "left",
    pad_id: int = PAD_ID,
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ids and their labels (the tag of each window's target word).

    Args:
      word_ids: per sentence, int `(sentence_length,)` word ids (`sentence_ids`), or int
        `(sentence_length, C)` per-token id rows (word, shape and suffix ids:
        `word_shape.word_features`); every column is padded with `pad_id`.
      tag_ids: per sentence, int `(sentence_length,)` tag ids.
      n: window length (the book's n-gram order, >= 1; odd for a centred window).
      cross_sentence: False: one window per token inside its sentence, positions outside the
        sentence filled with `pad_id`. True (the book): window c of the flattened stream is
        `ids[c:c+n]`, labelled with the tag of its target `tags[c+t]`, for c = 0 .. L-n
        (L tokens in all), so the first t and the last n-1-t tokens are never targets.
      window: "left" (the book's): `(w[i-n+1], ..., w[i])`, target t = n-1; "centered":
        `(w[i-h], ..., w[i], ..., w[i+h])` with h = n // 2, target t = h.

    Returns:
      `(windows, labels)`: int32 `(num_windows, n)` (or `(num_windows, n, C)`) and int32
      `(num_windows,)`; num_windows is the number of tokens, or L-n+1 with `cross_sentence`.
    """
    target = target_position(n, window)
    if len(word_ids) != len(tag_ids) or any(
        len(words) != len(tags) for words, tags in zip(word_ids, tag_ids, strict=True)
    ):
        raise ValueError("word_ids and tag_ids must have the same sentences and lengths.")
    rows = [np.asarray(ids, np.int32) for ids in word_ids]
    row_shape = rows[0].shape[1:] if rows else ()
    if any(ids.shape[1:] != row_shape for ids in rows):
        raise ValueError("Every sentence's ids must have the same shape past the first axis.")
    empty = np.zeros((0, n, *row_shape), np.int32), np.zeros((0,), np.int32)
    if cross_sentence:
        if not rows or sum(len(ids) for ids in rows) < n:
            return empty
        tags = np.concatenate([np.asarray(ids, np.int32) for ids in tag_ids])
        windows = _windows_of(np.concatenate(rows), n)
        return np.ascontiguousarray(windows), tags[target : len(tags) - (n - 1 - target)]
    # Each sentence has `target` pads before it and n-1-target after it; a window is kept
    # when its target is a real token.
    before = np.full((target, *row_shape), pad_id, np.int32)
    after = np.full((n - 1 - target, *row_shape), pad_id, np.int32)
    pieces, is_token = [], []
    for ids in rows:
        pieces += [before, ids, after]
        is_token += [
            np.zeros(target, bool),
            np.ones(len(ids), bool),
            np.zeros(n - 1 - target, bool),
        ]
    if not sum(len(ids) for ids in rows):
        return empty
    stream = np.concatenate(pieces)
    is_target = np.concatenate(is_token)[target : len(stream) - (n - 1 - target)]
    windows = _windows_of(stream, n)[is_target]
    labels = np.concatenate([np.asarray(ids, np.int32) for ids in tag_ids])
    return np.ascontiguousarray(windows), labels


class BookMinibatches:
    """The repo's `POSDataset.minibatch`: contiguous windows that wrap around the corpus.

    Over the M = L-n+1 cross-sentence windows (`ngram_windows(..., cross_sentence=True)`),
    with the book's pointer `ptr` (0 at first):

        get_all:                 every window, 0 .. M-1
        ptr + size < M - 1:      windows ptr .. ptr+size-1
        else:                    windows ptr .. M-1, then 0 .. size-(M-ptr)-1 (wrapping)
        then                     ptr <- (ptr + size) mod (M - 1)

    Two quirks of the original are kept: the modulus is M-1 (the repo's `len(inputs) - n`),
    so one window is skipped after each wrap; and when ptr + size == M - 1 the batch has
    size + 1 windows. Labels are tag ids (the repo one-hot encodes them).
    """

    def __init__(self, windows: np.ndarray, labels: np.ndarray, *, get_all: bool = False):
        """Args: windows int `(M, n)`, labels int `(M,)`; get_all: every call returns all."""
        self.windows = np.asarray(windows)
        self.labels = np.asarray(labels)
        if len(self.windows) != len(self.labels) or len(self.windows) < 2:
            raise ValueError("windows and labels must have the same length (at least 2).")
        self.get_all = get_all
        self.ptr = 0

    def indices(self, size: int) -> np.ndarray:
        """The window indices of the next minibatch (advances `ptr`), int64 `(batch,)`."""
        num_windows = len(self.windows)
        if self.get_all:
            indices = np.arange(num_windows)
        elif self.ptr + size < num_windows - 1:
            indices = np.arange(self.ptr, self.ptr + size)
        else:
            wrapped = max(size - (num_windows - self.ptr), 0)
            indices = np.concatenate([np.arange(self.ptr, num_windows), np.arange(wrapped)])
        self.ptr = (self.ptr + size) % (num_windows - 1)
        return indices

    def minibatch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """`(windows (batch, n), labels (batch,))`; see the class docstring for batch."""
        indices = self.indices(size)
        return self.windows[indices], self.labels[indices]


# --- The processed corpus -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class TaggedCorpus:
    """The processed CoNLL-2000 splits and their tag index.

    Attributes:
      splits: `{"train", "validation", "test"}` -> processed sentences of `(word, tag)`.
      tags: id -> tag.
      tag_lookup: tag -> id.
    """

    splits: dict[str, list[Sentence]]
    tags: tuple[str, ...]
    tag_lookup: dict[str, int] = dataclasses.field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "tag_lookup", {tag: index for index, tag in enumerate(self.tags)})

    @property
    def num_tags(self) -> int:
        return len(self.tags)

    def words(self) -> list[str]:
        """Every processed token's word, split after split (what the vector cache indexes)."""
        return [word for split in SPLITS for word, _ in flatten(self.splits[split])]

    def ids(
        self, split: str, word_lookup: Mapping[str, int]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """`sentence_ids` of one split."""
        return sentence_ids(self.splits[split], word_lookup, self.tag_lookup)

    def token_ids(
        self,
        split: str,
        word_lookup: Mapping[str, int],
        suffixes: word_shape.SuffixVocabulary | None = None,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per sentence, the tokens' ids and tags: `sentence_ids`, or with `suffixes` int32
        `(sentence_length, 3)` rows of word, shape and suffix ids (`word_shape.word_features`).
        """
        word_ids, tag_ids = self.ids(split, word_lookup)
        if suffixes is None:
            return word_ids, tag_ids
        rows = [
            word_shape.word_features([word for word, _ in sentence], word_lookup, suffixes)
            for sentence in self.splits[split]
        ]
        return rows, tag_ids

    def suffix_vocabulary(
        self,
        length: int = word_shape.SUFFIX_LENGTH,
        min_count: int = word_shape.SUFFIX_MIN_COUNT,
    ) -> word_shape.SuffixVocabulary:
        """The suffixes of the TRAINING split's processed words (`SuffixVocabulary.build`)."""
        words = [word for word, _ in flatten(self.splits["train"])]
        return word_shape.SuffixVocabulary.build(words, length=length, min_count=min_count)

    def windows(
        self,
        split: str,
        word_lookup: Mapping[str, int],
        n: int = N_GRAM,
        *,
        cross_sentence: bool = False,
        window: str = "left",
        suffixes: word_shape.SuffixVocabulary | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`ngram_windows` of one split: int32 `(num_windows, n)` (with `suffixes`:
        `(num_windows, n, 3)`, see `token_ids`) and `(num_windows,)`."""
        ids, tag_ids = self.token_ids(split, word_lookup, suffixes)
        return ngram_windows(ids, tag_ids, n, cross_sentence=cross_sentence, window=window)


def prepare_corpus(
    in_vocabulary: InVocabulary,
    *,
    validation_fraction: float = VALIDATION_FRACTION,
    tag_order: str = "book",
    data_dir: str | os.PathLike | None = None,
    raw_splits: Mapping[str, Sequence[Sentence]] | None = None,
) -> TaggedCorpus:
    """Loads, splits and preprocesses CoNLL-2000, and indexes its tags.

    Args:
      in_vocabulary: the word-vector vocabulary predicate of `preprocess_tokens`.
      validation_fraction: the share of training sentences held out (0: the book's data).
      tag_order: "book": first-seen over the training file, then the test file (44 tags);
        "train": over the training file only (train + validation parts; still 44 tags).
      raw_splits: raw `{"train", "validation", "test"}` sentences to use instead of the files
        (e.g. a fixture); `validation_fraction` is then ignored.

    Raises:
      ValueError: an unknown tag order.
    """
    if tag_order not in TAG_ORDERS:
        raise ValueError(f"Unknown tag_order {tag_order!r}; expected one of {TAG_ORDERS}.")
    if raw_splits is None:
        raw_splits = load_splits(validation_fraction=validation_fraction, data_dir=data_dir)
    splits = {split: preprocess_sentences(raw_splits[split], in_vocabulary) for split in SPLITS}
    training_file = (splits["train"], splits["validation"])
    tags = (
        tag_index(*training_file, splits["test"])
        if tag_order == "book"
        else tag_index(*training_file)
    )
    return TaggedCorpus(splits=splits, tags=tags)


def classification_data(
    corpus: TaggedCorpus,
    word_lookup: Mapping[str, int],
    *,
    n: int = N_GRAM,
    cross_sentence: bool = False,
    window: str = "left",
    suffixes: word_shape.SuffixVocabulary | None = None,
    files: Mapping[str, str] | None = None,
) -> "pipeline.ClassificationData":
    """The corpus's windows as in-memory splits for `loop.train` (integer labels).

    Inputs are int32 word-id windows `(batch, n)`, or with `suffixes` int32 `(batch, n, 3)`
    windows of (word, shape, suffix) ids (the model embeds them; see `models.pos_tagger`);
    targets are int32 tag ids `(batch,)`. An empty validation split
    (`validation_fraction=0`) is left out.
    """
    import tensorflow as tf  # Only here: the reader and windows need no TensorFlow.

    from fdl_tf2.data import pipeline

    splits = {}
    for split in SPLITS:
        if corpus.splits[split]:
            splits[split] = corpus.windows(
                split,
                word_lookup,
                n,
                cross_sentence=cross_sentence,
                window=window,
                suffixes=suffixes,
            )
    row_shape = () if suffixes is None else (3,)
    return pipeline.ClassificationData(
        name=DATASET,
        splits=splits,
        preprocess_inputs=lambda windows: tf.cast(windows, tf.int32),
        preprocess_targets=lambda labels: tf.cast(labels, tf.int32),
        serving_spec=tf.TensorSpec((None, n, *row_shape), tf.int32),
        files=dict(files or {}),
    )

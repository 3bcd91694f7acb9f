"""The chapter-6 skip-gram corpus: text8 or Gutenberg tokens, the vocabulary, skip-gram batches.

Book: chapter 6, "Implementing the Skip-Gram Architecture" (seed lines 3089-3302) and the
repo's `input_word_data.py` (a modified TF word2vec tutorial reader); spec ch06-07 §2.1.7,
§5.2 item 12, §7. Paper: Mikolov et al., 2013, "Distributed Representations of Words and
Phrases and their Compositionality" (frequent-word subsampling).

Corpora (`CORPORA`), found under the data root (see `paths.data_dir`):
- "text8" (the book's): `text/text8/text8.zip` from `TEXT8_URL`, 31,344,016 bytes, 17,005,207
  tokens; downloaded and SHA-256-verified when online.
- "gutenberg" (the offline substitute): the 15 NLTK Project Gutenberg books of
  `text/gutenberg/` (no download source). Normalised as below: 1,902,238 tokens, 40,215 types;
  a 10,000-word vocabulary leaves 72,735 tokens (3.8 %) as UNK.
- "gutenberg_no_bible": the 14 books without `bible-kjv`: 1,110,396 tokens, 34,781 types.

Normalisation (text8's): lower-case, every character other than a-z becomes a space, split on
whitespace. Files are decoded as latin-1 (an ASCII superset): `shakespeare-caesar` and
`chesterton-ball` hold latin-1 bytes ("Cæsar", "Coppée"), which are first folded to ASCII
("caesar", "coppee") so that a word is not cut in two; CRLF line ends are plain whitespace.
text8 also spells digits ("1" -> " one "); that is `spell_digits=True`, off by default because
the Gutenberg books' numbers are mostly chapter and verse labels.

Skip-gram pairs (the book's `generate_batch` semantics): every position p of `ids[0..n)` is a
centre once per epoch, in the order p = w, w+1, ..., n-1, 0, ..., w-1, paired with num_skips
DISTINCT positions drawn from p-w..p+w without p, wrapping around the corpus.
`SkipGramBatchGenerator` is the book's generator; `skipgram_pairs` draws a whole epoch of the
same pairs in NumPy at once, and `SkipGramData` feeds those epochs to tf.data.
"""

import dataclasses
import gzip
import os
import random
import unicodedata
import zipfile
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from fdl_tf2.data import download, pipeline

UNK_TOKEN = "UNK"
"""Id 0, as in the book. Upper case, so it never collides with a normalised (a-z) word."""
VOCABULARY_SIZE = 10_000

# --- Files -------------------------------------------------------------------------------

GUTENBERG_DATASET = "text/gutenberg"
_GUTENBERG_SHA256 = {
    "austen-emma": "729b6e84e63e845a61d17b999b3c87983769ba22ffad34965b3fc48f1960a751",
    "austen-persuasion": "507ee2e4e9b1d9d9be97585eaba8a915f6bdd145c9f9d461a622b280b9d238f6",
    "austen-sense": "4e633e511e9a5ea0e2ea3610f8dcdec443747d1de93a203a7e74fcbff6e999c4",
    "bible-kjv": "a2ba10fc78eb10a41c9cd651c5a6189800f02d24a1b8277a8b9f961f9b185147",
    "blake-poems": "bd5549ddd786eca72714b9eccb90f6e3efca7749c3ff4679124587369ea62150",
    "carroll-alice": "384c9cf49914e58a42a51f743e8499633acb9b059bc77d522e94a71e8f79e63e",
    "chesterton-ball": "a52fe503faa0caad1a8b5dfa3f6dac218ab3e64de838c8239a1952a6248fb426",
    "chesterton-brown": "f2cb17c94e9bce0421fb5d1d2b652bfbabaa99c65158560bd9bfe6807946b364",
    "chesterton-thursday": "c7f64f390e2db1af9844010ec8b94617886431290d4d453763fe29eac90894dc",
    "melville-moby_dick": "e2e9d7d4a319944e1afd337aabcf0291d5383ea055e6325a22fadb799377385d",
    "milton-paradise": "61642283cd72540237f8da9ebd3929772938fefa56ce04b99dfafeffb830dd4b",
    "shakespeare-caesar": "14d6743a9f361d62f77413ab3256f9ca26cc575daa4a736e7c0484cea9cc7a3a",
    "shakespeare-hamlet": "84d265b4e151cbc4aa64d41eb98fcc43dc09cedfee65113e2fc21892892fd5e1",
    "shakespeare-macbeth": "2222f5bff65da8367264666ba90c97df9fa517a1cbe9cb20cecf11f753a3da2b",
    "whitman-leaves": "89f72616118254618f03dabd0be2b7e1974be03369ffb22ffac1336a5747daf7",
}
BOOKS = tuple(_GUTENBERG_SHA256)
"""The 15 books, in file-name order (the order they are concatenated in)."""
BOOKS_WITHOUT_BIBLE = tuple(book for book in BOOKS if book != "bible-kjv")
GUTENBERG_FILES: dict[str, download.DataFile] = {
    book: download.DataFile(f"{book}.txt.gz", (sha,)) for book, sha in _GUTENBERG_SHA256.items()
}
"""The offline copy has no canonical download (url=None): a missing book fails at once."""

TEXT8_DATASET = "text/text8"
TEXT8_URL = "http://mattmahoney.net/dc/text8.zip"
# The book checks only the size, 31,344,016 bytes. The file's author publishes no digest: the
# SHA-256 below is the one that several independent public projects pin for this URL (they
# agree; gluon-nlp pins it by SHA-1 6c70299b93b7e1f927b42cd8f6ac1a31547c7a2e). It could not be
# re-checked against a fresh download here (offline).
TEXT8_FILE = download.DataFile(
    "text8.zip", ("a6640522afe85d1963ad56c05b0ede0a0c000dddc9671758a6cc09b7a38e5232",), TEXT8_URL
)

CORPORA = ("gutenberg", "gutenberg_no_bible", "text8")


def corpus_files(corpus: str) -> tuple[str, tuple[download.DataFile, ...]]:
    """`(dataset folder, its files)` of a corpus name from `CORPORA`."""
    if corpus == "text8":
        return TEXT8_DATASET, (TEXT8_FILE,)
    if corpus in ("gutenberg", "gutenberg_no_bible"):
        books = BOOKS if corpus == "gutenberg" else BOOKS_WITHOUT_BIBLE
        return GUTENBERG_DATASET, tuple(GUTENBERG_FILES[book] for book in books)
    raise ValueError(f"Unknown corpus {corpus!r}; expected one of {CORPORA}.")


def files_read(corpus: str, data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """`{file name: sha256}` of a corpus's files (results.json provenance); verifies them."""
    dataset, files = corpus_files(corpus)
    located = download.ensure_files(dataset, files, data_dir)
    return {file.name: download.verify(located[file.name], file) for file in files}


# --- Reading and text8 normalisation ------------------------------------------------------

_LETTERS_ONLY = bytes(
    byte + 32 if 65 <= byte <= 90 else byte if 97 <= byte <= 122 else 32 for byte in range(256)
)
"""Byte table: A-Z -> a-z, a-z kept, every other byte -> space."""
_LIGATURES = str.maketrans({"æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss"})
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def text8_words(text: str, *, spell_digits: bool = False) -> list[str]:
    """Normalises text as text8 is normalised and splits it into words.

    Lower-case; accented latin letters folded to ASCII (é -> e, æ -> ae); every character other
    than a-z becomes a space; split on whitespace. `spell_digits` first replaces each digit by
    its English name between spaces, as text8 does ("1984" -> "one nine eight four").
    """
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
        text = "".join(char for char in decomposed if not unicodedata.combining(char))
    data = text.encode("ascii", errors="replace")  # What is left non-ASCII becomes "?".
    if spell_digits:
        for digit, word in enumerate(_DIGIT_WORDS):
            data = data.replace(str(digit).encode(), f" {word} ".encode())
    return data.translate(_LETTERS_ONLY).decode("ascii").split()


def read_gutenberg(
    books: Sequence[str] = BOOKS,
    *,
    data_dir: str | os.PathLike | None = None,
    spell_digits: bool = False,
) -> list[str]:
    """The normalised words of Gutenberg `books`, concatenated in the given order.

    Raises:
      ValueError: an unknown book name.
      download.DatasetNotFoundError: a book is missing (at once: there is no download source).
      download.ChecksumError: a book is not the expected file.
    """
    unknown = [book for book in books if book not in GUTENBERG_FILES]
    if unknown:
        raise ValueError(f"Unknown Gutenberg books {unknown}; expected names from {BOOKS}.")
    files = [GUTENBERG_FILES[book] for book in books]
    located = download.ensure_files(GUTENBERG_DATASET, files, data_dir)
    words: list[str] = []
    for data_file in files:
        with gzip.open(located[data_file.name], "rb") as handle:
            text = handle.read().decode("latin-1")  # An ASCII superset: every book decodes.
        words += text8_words(text, spell_digits=spell_digits)
    return words


def read_words(
    corpus: str = "gutenberg",
    *,
    data_dir: str | os.PathLike | None = None,
    spell_digits: bool = False,
) -> list[str]:
    """The book's `read_data`: the normalised token list of a corpus from `CORPORA`.

    text8 is the zip's first member (already normalised: `text8_words` leaves it unchanged),
    downloaded from `TEXT8_URL` when missing and online; it is 17.0 M Python strings (~1 GB).
    """
    dataset, files = corpus_files(corpus)
    if corpus != "text8":
        books = [data_file.name.removesuffix(".txt.gz") for data_file in files]
        return read_gutenberg(books, data_dir=data_dir, spell_digits=spell_digits)
    located = download.ensure_files(dataset, files, data_dir)
    with zipfile.ZipFile(located[TEXT8_FILE.name]) as archive:
        text = archive.read(archive.namelist()[0]).decode("latin-1")
    return text8_words(text, spell_digits=spell_digits)


# --- Vocabulary ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Vocabulary:
    """The book's `build_dataset` result, minus the corpus ids.

    Attributes:
      words: id -> word (the book's `reverse_dictionary`); `words[0] == UNK_TOKEN`.
      counts: int64 `(size,)` corpus counts by id; `counts[0]` = number of out-of-vocabulary
        tokens (the book's `count[0][1]`), then descending.
      lookup: word -> id (the book's `dictionary`); unknown words map to 0.
    """

    words: tuple[str, ...]
    counts: np.ndarray
    lookup: dict[str, int]


def build_vocabulary(
    words: Sequence[str], size: int = VOCABULARY_SIZE
) -> tuple[np.ndarray, Vocabulary]:
    """The book's `build_dataset(words)` with `vocabulary_size = size`.

    Ids are `[UNK] + Counter(words).most_common(size - 1)` in that order: descending count,
    ties in order of first occurrence. Computed without a Python-level loop per token:
    `dict.fromkeys` finds the types in first-occurrence order, one C-level `map` gives each
    token its type index, `np.bincount` counts and a stable argsort ranks (< 1 s for 1.9 M).

    Args:
      words: the corpus tokens, length n.
      size: vocabulary size including UNK (>= 1).

    Returns:
      `(ids, vocabulary)`: ids is int32 `(n,)` with 0 for words outside the vocabulary.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1 (UNK is id 0), got {size}.")
    types = list(dict.fromkeys(words))
    type_index = {word: index for index, word in enumerate(types)}
    token_types = np.fromiter(map(type_index.__getitem__, words), np.int64, len(words))
    type_counts = np.bincount(token_types, minlength=len(types))
    ranked = np.argsort(-type_counts, kind="stable")[: size - 1]  # most_common(size - 1)
    type_to_id = np.zeros(len(types), np.int32)
    type_to_id[ranked] = np.arange(1, len(ranked) + 1, dtype=np.int32)
    ids = type_to_id[token_types]
    kept = type_counts[ranked]
    counts = np.concatenate([[len(words) - kept.sum()], kept]).astype(np.int64)
    vocabulary_words = (UNK_TOKEN, *(types[index] for index in ranked))
    lookup = {word: index for index, word in enumerate(vocabulary_words)}
    return ids, Vocabulary(vocabulary_words, counts, lookup)


def write_vocabulary(path: str | os.PathLike, words: Sequence[str]) -> Path:
    """Writes one word per line, line number = id (UTF-8, "\\n" line ends).

    An exported model reads it with `tf.lookup.TextFileInitializer(path, tf.string,
    tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)` in a
    `StaticHashTable` with `default_value=0` (unknown words -> UNK).

    Raises:
      ValueError: a word is empty or contains whitespace, or a word repeats.
    """
    bad = [word for word in words if word.split() != [word]]
    if bad:
        raise ValueError(f"Vocabulary words must be non-empty without whitespace: {bad[:5]}.")
    if len(set(words)) != len(words):
        raise ValueError("Vocabulary words repeat; line numbers would not be unique ids.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{word}\n" for word in words), encoding="utf-8")
    return path


def read_vocabulary(path: str | os.PathLike) -> tuple[str, ...]:
    """The words of a `write_vocabulary` file: id -> word."""
    return tuple(Path(path).read_text(encoding="utf-8").splitlines())


# --- Skip-gram pairs: the book's generator ------------------------------------------------


def _check_window(num_tokens: int, num_skips: int, skip_window: int) -> None:
    span = 2 * skip_window + 1
    if skip_window < 1 or num_skips < 1:
        raise ValueError(f"skip_window and num_skips must be >= 1, got {skip_window}, {num_skips}.")
    if num_skips > 2 * skip_window:
        raise ValueError(f"num_skips={num_skips} exceeds the 2*skip_window={span - 1} contexts.")
    if num_tokens < span:
        raise ValueError(f"{num_tokens} tokens are fewer than one window (2*skip_window+1={span}).")


class SkipGramBatchGenerator:
    """The book's `generate_batch`, with its global `data_index` held in an object.

    Each call fills a deque of span 2*skip_window+1 starting at `data_index`, then for each of
    batch_size/num_skips centres (the middle of the deque) draws num_skips distinct random
    context slots (the centre excluded, by rejection as in the book) and slides by one word;
    `data_index` wraps around the corpus.

    One fix: the book's version leaves `data_index` one span past the last window, so the next
    call skips 2*skip_window+1 centres (tensorflow/tensorflow#6860). Here each call ends by
    stepping `data_index` back one span (the upstream fix), so successive calls visit every
    centre in order, exactly like `skipgram_pairs`. `book_skips=True` restores the book's code.
    """

    def __init__(self, ids: np.ndarray, seed: int = 0, *, book_skips: bool = False):
        """Args: ids: int `(num_tokens,)` corpus ids; seed: of the context draws."""
        self.ids = np.asarray(ids)
        self.data_index = 0
        self.book_skips = book_skips
        self._random = random.Random(seed)

    def generate_batch(
        self, batch_size: int, num_skips: int, skip_window: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """One batch: `(batch int32 (batch_size,), labels int32 (batch_size, 1))`.

        Raises:
          ValueError: batch_size is not a positive multiple of num_skips, num_skips >
            2*skip_window, or the corpus is shorter than one window.
        """
        _check_window(len(self.ids), num_skips, skip_window)
        if batch_size < 1 or batch_size % num_skips != 0:
            raise ValueError(
                f"batch_size={batch_size} must be a positive multiple of num_skips={num_skips}."
            )
        num_tokens, span = len(self.ids), 2 * skip_window + 1  # [ w words | centre | w words ]
        window = deque(self.ids[(self.data_index + np.arange(span)) % num_tokens], maxlen=span)
        self.data_index = (self.data_index + span) % num_tokens
        batch = np.empty((batch_size,), np.int32)
        labels = np.empty((batch_size, 1), np.int32)
        for centre in range(batch_size // num_skips):
            used_slots = {skip_window}  # The centre is never its own context.
            for skip in range(num_skips):
                slot = skip_window
                while slot in used_slots:  # Rejection sampling, as in the book.
                    slot = self._random.randint(0, span - 1)
                used_slots.add(slot)
                row = centre * num_skips + skip
                batch[row], labels[row, 0] = window[skip_window], window[slot]
            window.append(self.ids[self.data_index])  # Slide by one word.
            self.data_index = (self.data_index + 1) % num_tokens
        if not self.book_skips:
            self.data_index = (self.data_index - span) % num_tokens
        return batch, labels


# --- Skip-gram pairs: a whole epoch at once -----------------------------------------------

_CHUNK_CENTRES = 1 << 18  # Bounds the random-key matrix to 2*w*2**18 float32 values.


def keep_probabilities(counts: np.ndarray, threshold: float) -> np.ndarray:
    """Mikolov subsampling: float64 `(size,)` probability of keeping each id's tokens.

    keep(f) = min(1, sqrt(t / f) + t / f), with f = count / total and t = `threshold`
    (word2vec's C code and gensim; the paper's discard rule is 1 - sqrt(t / f)).
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be positive (e.g. 1e-3 or 1e-5), got {threshold}.")
    frequency = np.asarray(counts, np.float64) / np.sum(counts)
    ratio = threshold / np.maximum(frequency, np.finfo(np.float64).tiny)
    return np.minimum(1.0, np.sqrt(ratio) + ratio)


def skipgram_pairs(
    ids: np.ndarray,
    num_skips: int,
    skip_window: int,
    rng: np.random.Generator,
    *,
    keep_probability: np.ndarray | None = None,
    shuffle: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of skip-gram pairs, vectorised (no Python loop per token or pair).

    Centre positions are p = (w + i) mod n for i = 0..n-1, each repeated num_skips times; its
    contexts are p + o for the first num_skips entries of a random permutation of
    {-w..-1, 1..w} (argsort of uniform keys), wrapping mod n. This is the distribution of the
    book's `generate_batch` over one epoch (n*num_skips pairs in the same centre order).

    Args:
      ids: int `(n,)` corpus ids.
      num_skips, skip_window: as in `generate_batch`.
      rng: the epoch's generator (`SkipGramData` keys one by (seed, epoch)).
      keep_probability: optional float `(vocabulary_size,)` from `keep_probabilities`; tokens
        are first dropped with it, and the windows run over the kept ones (as word2vec does).
      shuffle: visit the centres in a random order (else the book's order); a centre's
        num_skips pairs stay together, as in the book's batches.

    Returns:
      `(centres, contexts)`, int32 `(m * num_skips,)` each, m = n (or the kept count).
    """
    ids = np.asarray(ids)
    _check_window(len(ids), num_skips, skip_window)
    if keep_probability is not None:
        ids = ids[rng.random(len(ids)) < np.asarray(keep_probability)[ids]]
        _check_window(len(ids), num_skips, skip_window)
    num_tokens = len(ids)
    offsets = np.concatenate([np.arange(-skip_window, 0), np.arange(1, skip_window + 1)])
    centre_positions = (np.arange(num_tokens) + skip_window) % num_tokens
    if shuffle:
        centre_positions = rng.permutation(centre_positions)
    contexts = np.empty((num_tokens, num_skips), np.int32)
    for start in range(0, num_tokens, _CHUNK_CENTRES):
        positions = centre_positions[start : start + _CHUNK_CENTRES]
        keys = rng.random((len(positions), 2 * skip_window), dtype=np.float32)
        chosen = offsets[np.argsort(keys, axis=1)[:, :num_skips]]  # (chunk, num_skips) distinct
        contexts[start : start + len(positions)] = ids[(positions[:, None] + chosen) % num_tokens]
    centres = np.repeat(ids[centre_positions].astype(np.int32), num_skips)
    return centres, contexts.reshape(-1)


@dataclasses.dataclass(frozen=True, eq=False)
class SkipGramData:
    """A corpus's skip-gram pairs by epoch, for the training loop (like `ClassificationData`).

    Epoch e's pairs are `skipgram_pairs` with `rng = np.random.default_rng([seed, e])`: a pure
    function of (seed, epoch), so a resumed run sees the pairs an uninterrupted one would see.

    Attributes:
      ids: int `(n,)` corpus ids.
      num_skips, skip_window: as in `generate_batch` (the book: 4 and 5).
      keep_probability: optional `(vocabulary_size,)` subsampling (`keep_probabilities`).
      shuffle: visit each epoch's centres in a random order (the book's generator does not).
    """

    ids: np.ndarray
    num_skips: int = 4
    skip_window: int = 5
    keep_probability: np.ndarray | None = None
    shuffle: bool = True

    def __post_init__(self):
        object.__setattr__(self, "ids", np.asarray(self.ids))
        _check_window(len(self.ids), self.num_skips, self.skip_window)

    def epoch_pairs(self, *, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """`(centres, contexts)` of one epoch, int32 `(pairs,)` each."""
        if seed < 0 or epoch < 0:
            raise ValueError(f"seed and epoch must be >= 0, got {seed}, {epoch}.")
        rng = np.random.default_rng([seed, epoch])
        return skipgram_pairs(
            self.ids,
            self.num_skips,
            self.skip_window,
            rng,
            keep_probability=self.keep_probability,
            shuffle=self.shuffle,
        )

    def steps_per_epoch(self, batch_size: int) -> int:
        """floor(n * num_skips / batch_size), the book's `batches_per_epoch` (n = the expected
        number of kept tokens with subsampling)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        probability = self.keep_probability
        kept = len(self.ids) if probability is None else np.sum(probability[self.ids])
        return int(kept) * self.num_skips // batch_size

    def epoch_dataset(
        self, epoch: int | tf.Tensor, *, batch_size: int, seed: int
    ) -> tf.data.Dataset:
        """Epoch `epoch` as exactly `steps_per_epoch(batch_size)` fixed-shape batches.

        Yields `(centres int32 (batch_size,), contexts int32 (batch_size, 1))`, the shapes of
        the book's `(batch, labels)`. The last partial batch is dropped; with subsampling the
        epoch is also cut, or cyclically extended, to its expected length. The pairs are made
        in NumPy inside `tf.numpy_function`, so `epoch` may be a tensor (under `flat_map`).
        tf.data costs tens of microseconds per element; where that rivals a batch-32 step,
        slice `epoch_pairs` inside the compiled step instead.
        """
        steps = self.steps_per_epoch(batch_size)
        if steps == 0:
            raise ValueError(f"batch_size {batch_size} exceeds the pairs of one epoch.")

        def make_batches(epoch_value):
            pairs = self.epoch_pairs(seed=seed, epoch=int(epoch_value))
            centres, contexts = (np.resize(part, steps * batch_size) for part in pairs)
            return centres.reshape(steps, batch_size), contexts.reshape(steps, batch_size, 1)

        centres, contexts = tf.numpy_function(
            make_batches, [tf.cast(epoch, tf.int64)], (tf.int32, tf.int32), stateful=False
        )
        centres = tf.ensure_shape(centres, (steps, batch_size))
        contexts = tf.ensure_shape(contexts, (steps, batch_size, 1))
        return tf.data.Dataset.from_tensor_slices((centres, contexts))

    def train_stream(self, *, batch_size: int, seed: int) -> Callable[[int], tf.data.Dataset]:
        """`start_step -> batches from that step on`, epoch after epoch (`loop.train` input):
        step s is batch s mod S of epoch s // S, S = `steps_per_epoch(batch_size)`."""
        stream = pipeline.epoch_stream(
            lambda epoch: self.epoch_dataset(epoch, batch_size=batch_size, seed=seed),
            self.steps_per_epoch(batch_size),
        )
        return lambda start_step: stream(start_step).prefetch(tf.data.AUTOTUNE)

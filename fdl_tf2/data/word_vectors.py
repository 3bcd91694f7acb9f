"""Word vectors for the chapter-7 POS tagger: training, loading, and a cache of the dataset's.

Book: chapter 7, "Implementing a Part-of-Speech Tagger" (seed lines 3347-3514; repo
`read_pos_data.py`); spec ch06-07 §2.2.1, checklist §5.3 item 18, §7 (the GoogleNews row).
Vectors: Mikolov et al., 2013, "Distributed Representations of Words and Phrases and their
Compositionality" (the 300-d GoogleNews vectors the book uses).

The book loads the 3 M x 300 GoogleNews vectors with gensim and caches the vectors of the
CoNLL-2000 vocabulary in LevelDB; words without a vector get uniform(-0.25, 0.25) ones. Here:

- `load_vectors(path)` is the book's loading path on today's gensim,
  `KeyedVectors.load_word2vec_format(path, binary=..., limit=...)`; a user's
  `GoogleNews-vectors-negative300.bin` goes through it unchanged (`--vectors=PATH`).
- The GoogleNews file is not in the offline data, so by default `train_vectors` trains 300-d
  vectors with gensim's Word2Vec on the offline text and writes them with
  `save_word2vec_format(binary=True)`, to be read back by the same `load_vectors`. The corpus:
  the 15 Gutenberg books (files from `text_corpus`), tokenised for tagging (`tokenize`: case,
  punctuation and Penn Treebank conventions kept, unlike text8's letters-only stream), plus
  the CoNLL-2000 training sentences (never the validation or test ones), every token
  normalised as the tagger's preprocessing normalises (`conll2000.normalize_word`: digits ->
  "#", "-" -> "_"), so the vectors' vocabulary speaks the dataset's spelling: 2.26 M
  Gutenberg tokens in 86 k sentences plus 190,717 CoNLL tokens. Skip-gram (`sg=1`), following
  the word2vec authors' advice that it suits small corpora and rare words (CBOW is several
  times faster and slightly better on frequent words; Mikolov et al. 2013, "Efficient
  Estimation of Word Representations in Vector Space"); window 5, 5 negatives, 5 epochs,
  `min_count=2` (about 33.6 k words), 2 worker threads. gensim ran at ~180 k words/s on a
  shared 2-core machine (timed on a subset), so training takes about 1.5 minutes after ~15 s of
  tokenising. From the corpus counts, about 97 % of the processed CoNLL tokens (94.6 % of the
  test tokens) and 69 % of its word types get a trained vector. Two threads make gensim's
  result vary from run to run (thread scheduling); `workers=1` with a fixed seed repeats.
- `VectorCache` holds ONLY the dataset vocabulary: `vectors.npy` (float32 `(V, dim)`, loaded
  with mmap), `vocabulary.txt` (line = id; `PAD_TOKEN`, `UNK_TOKEN`, then the words in
  first-seen order), `found.npy` (bool `(V,)`: the row came from the source vectors) and
  `metadata.json` (the source's file name, size, SHA-256, dimension, vector count and
  `limit`; the OOV seed; the coverage). PAD is the zero vector.
- Out-of-vocabulary words (and UNK) get uniform(-0.25, 0.25) vectors derived from
  SHAKE-256(seed, word) (`oov_vector`), so a word's vector is the same on every reload, in
  every process and whatever the order in which words are met (the book's are drawn from the
  global NumPy RNG and are stable only within one cached database).
- Coverage (the fraction of the dataset's word types and tokens that have a source vector) is
  recorded in the cache: with the project's vectors it is expected to be lower than with
  GoogleNews (spec §7), and a
  reported accuracy should name the vectors that produced it (`VectorCache.metadata`).
"""

import dataclasses
import gzip
import hashlib
import json
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from fdl_tf2.data import conll2000, download, paths

EMBEDDING_SIZE = 300
OOV_LOW, OOV_HIGH = -0.25, 0.25
"""The book's uniform range for words without a pre-trained vector (lines 3481-3487)."""
DEFAULT_VECTORS_NAME = "gutenberg_conll2000_sg300.bin"

CACHE_FORMAT = 1
_VECTORS_FILE = "vectors.npy"
_VOCABULARY_FILE = "vocabulary.txt"
_FOUND_FILE = "found.npy"
_METADATA_FILE = "metadata.json"

InVocabulary = Callable[[str], bool]


def default_vectors_path() -> Path:
    """Where `train_vectors` writes by default: the per-user cache, `word_vectors/`."""
    return paths.cache_dir() / "word_vectors" / DEFAULT_VECTORS_NAME


# --- Tokenising the Gutenberg books for tagging -------------------------------------------

_TOKEN = re.compile(
    r"""
      (?:[A-Za-z]\.){2,}                  # Initialisms keep their periods: U.S., e.g.
    | (?:Mr|Mrs|Ms|Messrs|Dr|St|Mt|Jr|Sr|Rev|Gen|Col|Capt|Lt|Co|Corp|Inc|Ltd|vs|etc)\.
    | \d+(?:[.,:/]\d+)+                   # Numbers with separators: 1,000  3.5  1/2  10:30
    | \w+(?:[-']\w+)*                     # Words, hyphenated or with inner apostrophes.
    | -{2,} | \.{3}                       # Dashes and ellipses.
    | \S                                  # Any other character is a token.
    """,
    re.VERBOSE,
)
_NEGATION = re.compile(r"(?i)(.+)(n't)")
_CLITIC = re.compile(r"(?i)(.+)('s|'re|'ve|'ll|'d|'m)")
_BRACKETS = {"(": "-LRB-", ")": "-RRB-", "[": "-LSB-", "]": "-RSB-", "{": "-LCB-", "}": "-RCB-"}
_OPENERS = {'"': "``", "'": "`"}
_CLOSERS = {'"': "''", "'": "'"}
_SENTENCE_END = {".", "?", "!"}
_TRAILERS = {"''", "'", "-RRB-", "-RSB-"}
_PARAGRAPH = re.compile(r"\n\s*\n")


def _fold_to_ascii(text: str) -> str:
    if text.isascii():
        return text
    text = text.translate(str.maketrans({"æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE"}))
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _penn_tokens(token: str, text: str, start: int) -> list[str]:
    """One regex match as Penn Treebank tokens (quotes, brackets, clitics, escapes)."""
    if token in _OPENERS:
        opening = start == 0 or text[start - 1].isspace() or text[start - 1] in "([{"
        return [_OPENERS[token] if opening else _CLOSERS[token]]
    if token in _BRACKETS:
        return [_BRACKETS[token]]
    for pattern in (_NEGATION, _CLITIC):
        if match := pattern.fullmatch(token):
            return list(match.groups())
    return [token.replace("/", "\\/").replace("*", "\\*")]


def tokenize(text: str) -> list[list[str]]:
    """Splits running text into sentences of Penn-Treebank-style tokens, case kept.

    The conventions of CoNLL-2000's WSJ text: clitics split off (`don't` -> `do n't`,
    `John's` -> `John 's`); hyphenated words, initialisms (`U.S.`) and common abbreviations
    (`Mr.`) kept whole; opening/closing double quotes -> `` / ''; brackets -> `-LRB-` etc.;
    `/` and `*` escaped (`1\\/2`). Underscores (Gutenberg's italics) are dropped and accented
    letters folded to ASCII. A sentence ends after `.`, `?` or `!` (and any closing quotes or
    brackets right after it) or at a paragraph break (a blank line). Tokens are not yet
    normalised (`conll2000.normalize_word` does that).
    """
    text = _fold_to_ascii(text).replace("_", " ")
    sentences: list[list[str]] = []
    for paragraph in _PARAGRAPH.split(text):
        sentence: list[str] = []
        ended = False  # The sentence has had its final punctuation; only trailers may follow.
        for match in _TOKEN.finditer(paragraph):
            for token in _penn_tokens(match.group(), paragraph, match.start()):
                if ended and token not in _TRAILERS:
                    sentences.append(sentence)
                    sentence, ended = [], False
                sentence.append(token)
                ended = ended or token in _SENTENCE_END
        if sentence:
            sentences.append(sentence)
    return sentences


def gutenberg_sentences(
    books: Sequence[str] | None = None, *, data_dir: str | os.PathLike | None = None
) -> list[list[str]]:
    """The Gutenberg `books` (default all 15) as normalised tagging tokens.

    Each book is `tokenize`d and every token passed through `conll2000.normalize_word`.

    Raises:
      ValueError: an unknown book name.
      download.DatasetNotFoundError: a book is missing; download.ChecksumError: a bad file.
    """
    from fdl_tf2.data import text_corpus  # Imports TensorFlow; only needed here.

    books = text_corpus.BOOKS if books is None else books
    unknown = [book for book in books if book not in text_corpus.GUTENBERG_FILES]
    if unknown:
        raise ValueError(
            f"Unknown Gutenberg books {unknown}; expected names from {text_corpus.BOOKS}."
        )
    files = [text_corpus.GUTENBERG_FILES[book] for book in books]
    located = download.ensure_files(text_corpus.GUTENBERG_DATASET, files, data_dir)
    sentences = []
    for data_file in files:
        with gzip.open(located[data_file.name], "rb") as handle:
            text = handle.read().decode("latin-1").replace("\r\n", "\n")
        for sentence in tokenize(text):
            sentences.append([conll2000.normalize_word(token) for token in sentence])
    return sentences


def conll_sentences(sentences: Iterable[conll2000.Sentence]) -> list[list[str]]:
    """CoNLL sentences as normalised words (tags dropped), for training vectors."""
    return [[conll2000.normalize_word(word) for word, _ in sentence] for sentence in sentences]


# --- Training and loading -----------------------------------------------------------------


def train_vectors(
    path: str | os.PathLike | None = None,
    *,
    sentences: Sequence[Sequence[str]] | None = None,
    books: Sequence[str] | None = None,
    validation_fraction: float = conll2000.VALIDATION_FRACTION,
    data_dir: str | os.PathLike | None = None,
    vector_size: int = EMBEDDING_SIZE,
    sg: int = 1,
    window: int = 5,
    negative: int = 5,
    min_count: int = 2,
    sample: float = 1e-3,
    epochs: int = 5,
    workers: int = 2,
    seed: int = 0,
) -> Path:
    """Trains gensim Word2Vec vectors for the tagger and writes them in word2vec binary format.

    Args:
      path: output file; default `default_vectors_path()`. A `<path>.json` next to it records
        the settings, corpus sizes, gensim version and training time.
      sentences: the training sentences (lists of tokens). Default: `gutenberg_sentences(books)`
        (None: all 15 books) plus the CoNLL-2000 training sentences (`conll_sentences`),
        without the `validation_fraction` that `conll2000.load_splits` holds out.
      vector_size: the embedding size (the book's 300).
      sg, window, negative, min_count, sample, epochs, workers, seed: gensim `Word2Vec`'s
        (sg=1: skip-gram; see the module docstring for the choice).

    Returns:
      The path written (readable with `load_vectors`).
    """
    from gensim import __version__ as gensim_version
    from gensim.models import Word2Vec

    path = Path(path) if path is not None else default_vectors_path()
    corpus: dict[str, object] = {}
    if sentences is None:
        gutenberg = gutenberg_sentences(books, data_dir=data_dir)
        train, _ = conll2000.split_training_sentences(
            conll2000.load_sentences("train", data_dir=data_dir), validation_fraction
        )
        conll = conll_sentences(train)
        sentences = gutenberg + conll
        corpus = {
            "gutenberg_books": "all" if books is None else list(books),
            "gutenberg_sentences": len(gutenberg),
            "gutenberg_tokens": sum(map(len, gutenberg)),
            "conll2000_train_sentences": len(conll),
            "conll2000_train_tokens": sum(map(len, conll)),
        }
    sentences = [list(sentence) for sentence in sentences if sentence]
    start = time.monotonic()
    model = Word2Vec(
        sentences=sentences,
        vector_size=vector_size,
        sg=sg,
        window=window,
        negative=negative,
        min_count=min_count,
        sample=sample,
        epochs=epochs,
        workers=workers,
        seed=seed,
    )
    seconds = time.monotonic() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    model.wv.save_word2vec_format(str(path), binary=True)
    settings = {
        "vector_size": vector_size, "sg": sg, "window": window, "negative": negative,
        "min_count": min_count, "sample": sample, "epochs": epochs, "workers": workers,
        "seed": seed,
    }  # fmt: skip
    record = {
        "file": path.name,
        "gensim": gensim_version,
        "settings": settings,
        "corpus": {**corpus, "sentences": len(sentences), "tokens": sum(map(len, sentences))},
        "vocabulary_size": len(model.wv),
        "training_seconds": round(seconds, 1),
    }
    Path(f"{path}.json").write_text(json.dumps(record, indent=2) + "\n")
    return path


def _is_binary(path: Path) -> bool:
    return path.name.endswith((".bin", ".bin.gz"))


def load_vectors(path: str | os.PathLike, *, limit: int | None = None, binary: bool | None = None):
    """Reads word2vec-format vectors: `gensim.models.KeyedVectors.load_word2vec_format`.

    Args:
      path: e.g. `GoogleNews-vectors-negative300.bin` (the book's), or `train_vectors` output.
      limit: read only the first `limit` vectors (GoogleNews lists the frequent words first;
        its 3 M vectors take minutes and ~3.6 GB to load in full).
      binary: the file format; None means binary when the name ends in `.bin` or `.bin.gz`.

    Returns:
      gensim `KeyedVectors` (`word in vectors`, `vectors[word]`, `vectors.vector_size`).

    Raises:
      FileNotFoundError: no file at `path`.
    """
    from gensim.models import KeyedVectors

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No word-vector file at {path}. Give a word2vec-format file (e.g. "
            "GoogleNews-vectors-negative300.bin) or train one with word_vectors.train_vectors."
        )
    binary = _is_binary(path) if binary is None else binary
    return KeyedVectors.load_word2vec_format(str(path), binary=binary, limit=limit)


def source_identity(path: str | os.PathLike, vectors, *, limit: int | None = None) -> dict:
    """What identifies a vector file in a cache's metadata: name, size, SHA-256, shape, limit."""
    path = Path(path)
    return {
        "name": path.name,
        "size": path.stat().st_size,
        "sha256": download.sha256_of(path),
        "dim": int(vectors.vector_size),
        "count": len(vectors),
        "limit": limit,
    }


# --- OOV vectors, coverage and the cache --------------------------------------------------


def oov_vector(word: str, size: int = EMBEDDING_SIZE, *, seed: int = 0) -> np.ndarray:
    """The vector of a word without a source vector: float32 `(size,)`, uniform(-0.25, 0.25).

    Derived from SHAKE-256 of (seed, word) alone: u_i = the i-th little-endian uint32 of the
    digest / 2^32, vector_i = -0.25 + 0.5 * u_i. Equal in every process, on every reload and
    whatever other words exist (no global random state).
    """
    digest = hashlib.shake_256(f"{seed}\x00{word}".encode()).digest(4 * size)
    unit = np.frombuffer(digest, "<u4").astype(np.float64) / 2.0**32
    return (OOV_LOW + (OOV_HIGH - OOV_LOW) * unit).astype(np.float32)


def coverage(words: Iterable[str], in_vectors: InVocabulary) -> dict[str, float | int]:
    """How much of a token stream has a source vector, by distinct word and by token."""
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    found = {word: count for word, count in counts.items() if in_vectors(word)}
    types, tokens = len(counts), sum(counts.values())
    return {
        "types": types,
        "types_found": len(found),
        "type_coverage": len(found) / types if types else 0.0,
        "tokens": tokens,
        "tokens_found": sum(found.values()),
        "token_coverage": sum(found.values()) / tokens if tokens else 0.0,
    }


@dataclasses.dataclass(frozen=True, eq=False)
class VectorCache:
    """The vectors of one dataset's vocabulary (the book's LevelDB `word2vecdb`).

    Attributes:
      words: id -> word: `PAD_TOKEN`, `UNK_TOKEN`, then the dataset's words, first seen first.
      matrix: float32 `(len(words), dim)`; row 0 (PAD) is zero, rows without a source vector
        are `oov_vector`s. A read-only memory map when loaded with `mmap=True`.
      found: bool `(len(words),)`, True where the row is the source's vector.
      metadata: the `metadata.json` contents (source identity, OOV seed, coverage).
      lookup: word -> id.
    """

    words: tuple[str, ...]
    matrix: np.ndarray
    found: np.ndarray
    metadata: dict
    lookup: dict[str, int] = dataclasses.field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "lookup", {word: index for index, word in enumerate(self.words)})

    @property
    def embedding_size(self) -> int:
        return int(self.matrix.shape[1])

    def in_vectors(self, word: str) -> bool:
        """True if `word` had a source vector (False outside the cached vocabulary).

        On the dataset the cache was built from, this predicate gives `preprocess_tokens`
        exactly the answers the full source vectors gave (every query whose answer changes
        the output is about a word that was emitted, hence cached), so a cached run
        reprocesses the corpus identically without loading the source file.
        """
        index = self.lookup.get(word)
        return index is not None and bool(self.found[index])

    def vector(self, word: str) -> np.ndarray:
        """The row of `word`, or UNK's for a word outside the vocabulary: float32 `(dim,)`."""
        return np.asarray(self.matrix[self.lookup.get(word, conll2000.UNK_ID)])


def _write_vocabulary(path: Path, words: Sequence[str]) -> None:
    # The format of `text_corpus.write_vocabulary` (one word per line, line number = id, for
    # `tf.lookup.TextFileInitializer`), written here so that this module needs no TensorFlow.
    bad = [word for word in words if word.split() != [word]]
    if bad:
        raise ValueError(f"Vocabulary words must be non-empty without whitespace: {bad[:5]}.")
    path.write_text("".join(f"{word}\n" for word in words), encoding="utf-8")


def build_cache(
    directory: str | os.PathLike,
    words: Iterable[str],
    vectors,
    *,
    source: Mapping | None = None,
    seed: int = 0,
) -> VectorCache:
    """Caches the vectors of a dataset's words and writes the four cache files.

    Args:
      directory: the cache folder (created; existing cache files are replaced).
      words: the dataset's tokens, with repeats (e.g. `TaggedCorpus.words()`): the vocabulary
        is their distinct words in first-seen order, and the repeats give the token coverage.
      vectors: the source (gensim `KeyedVectors`, or anything with `in`, `[word]` and
        `vector_size`).
      source: the source's identity for the metadata (`source_identity`).
      seed: the OOV seed of `oov_vector`.

    Returns:
      The cache, with its matrix in memory.
    """
    words = list(words)
    size = int(vectors.vector_size)
    vocabulary = [*conll2000.SPECIAL_TOKENS, *dict.fromkeys(words)]
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError(f"Dataset words may not be the special tokens {conll2000.SPECIAL_TOKENS}.")
    matrix = np.zeros((len(vocabulary), size), np.float32)  # Row 0, PAD, stays zero.
    found = np.zeros(len(vocabulary), bool)
    matrix[conll2000.UNK_ID] = oov_vector(conll2000.UNK_TOKEN, size, seed=seed)
    for index, word in enumerate(vocabulary[len(conll2000.SPECIAL_TOKENS) :], start=2):
        if word in vectors:
            matrix[index], found[index] = vectors[word], True
        else:
            matrix[index] = oov_vector(word, size, seed=seed)
    metadata = {
        "format": CACHE_FORMAT,
        "source": dict(source or {}),
        "dim": size,
        "vocabulary_size": len(vocabulary),
        "special_tokens": list(conll2000.SPECIAL_TOKENS),
        "oov": {"seed": seed, "low": OOV_LOW, "high": OOV_HIGH},
        "coverage": coverage(words, lambda word: word in vectors),
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / _METADATA_FILE).unlink(missing_ok=True)  # Written last: marks a whole cache.
    np.save(directory / _VECTORS_FILE, matrix)
    np.save(directory / _FOUND_FILE, found)
    _write_vocabulary(directory / _VOCABULARY_FILE, vocabulary)
    (directory / _METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return VectorCache(tuple(vocabulary), matrix, found, metadata)


def load_cache(directory: str | os.PathLike, *, mmap: bool = True) -> VectorCache:
    """Reads a `build_cache` folder; `mmap=True` maps the matrix instead of reading it.

    Raises:
      FileNotFoundError: not a complete cache (no `metadata.json`).
      ValueError: the files disagree (row counts, dimension).
    """
    directory = Path(directory)
    metadata_path = directory / _METADATA_FILE
    if not metadata_path.is_file():
        raise FileNotFoundError(f"No word-vector cache in {directory} (no {_METADATA_FILE}).")
    metadata = json.loads(metadata_path.read_text())
    matrix = np.load(directory / _VECTORS_FILE, mmap_mode="r" if mmap else None)
    found = np.load(directory / _FOUND_FILE)
    words = tuple((directory / _VOCABULARY_FILE).read_text(encoding="utf-8").splitlines())
    if not (len(words) == len(found) == matrix.shape[0] == metadata["vocabulary_size"]):
        raise ValueError(
            f"{directory}: {len(words)} words, {len(found)} flags and {matrix.shape[0]} rows "
            f"(metadata: {metadata['vocabulary_size']}); rebuild the cache."
        )
    if matrix.dtype != np.float32 or matrix.shape[1] != metadata["dim"]:
        raise ValueError(
            f"{directory}: matrix {matrix.dtype} {matrix.shape}, dim {metadata['dim']}."
        )
    return VectorCache(words, matrix, found, metadata)


def cached_vectors(
    directory: str | os.PathLike,
    vectors_path: str | os.PathLike,
    dataset_words: Callable[[InVocabulary], Sequence[str]],
    *,
    limit: int | None = None,
    binary: bool | None = None,
    seed: int = 0,
) -> VectorCache:
    """The dataset's vector cache: reused when it matches, else built from the source file.

    A cache in `directory` is reused when its source has the same file name, size (when the
    file is still there: a cache may outlive a 3.6 GB source) and `limit`, its OOV seed is
    `seed`, and it holds every word `dataset_words` yields under the cache's own `in_vectors`
    (so the source file, which can take minutes to load, is not read at all). Otherwise the
    source is loaded (`load_vectors`), `dataset_words(word in source)` gives the tokens, and
    the cache is rebuilt.

    Raises:
      FileNotFoundError: the cache must be (re)built and `vectors_path` does not exist.

    Args:
      dataset_words: `in_vocabulary -> the dataset's processed tokens`, e.g.
        `lambda in_vocabulary: conll2000.prepare_corpus(in_vocabulary).words()`; then call
        `conll2000.prepare_corpus(cache.in_vectors)` for the corpus itself.
    """
    directory, vectors_path = Path(directory), Path(vectors_path)
    try:
        cache = load_cache(directory)
    except (FileNotFoundError, ValueError, KeyError, json.JSONDecodeError):
        cache = None
    if cache is not None:
        source = cache.metadata.get("source", {})
        wanted = {"name": vectors_path.name, "limit": limit}
        if vectors_path.is_file():  # Else the cache of a file no longer kept is trusted.
            wanted["size"] = vectors_path.stat().st_size
        same_source = all(source.get(key) == wanted[key] for key in wanted)
        same_seed = cache.metadata.get("oov", {}).get("seed") == seed
        if same_source and same_seed:
            if all(word in cache.lookup for word in dataset_words(cache.in_vectors)):
                return cache
    vectors = load_vectors(vectors_path, limit=limit, binary=binary)
    words = dataset_words(lambda word: word in vectors)
    source = source_identity(vectors_path, vectors, limit=limit)
    return build_cache(directory, words, vectors, source=source, seed=seed)

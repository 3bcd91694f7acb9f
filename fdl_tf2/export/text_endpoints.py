"""Serving text models from raw strings: in-graph tokenising, the book's preprocessing, tagging.

Book: chapter 7, "Implementing a Part-of-Speech Tagger" (seed lines 3412-3452 for the
preprocessing, 3333-3337 for the windows); spec ch06-07 §2.2.1, checklist §5.3 items 17-20.

    service = text_endpoints.PosTaggerService(model, cache.words, cache.found, corpus.tags)
    # A centred feature model: PosTaggerService(..., window="centered", suffixes=suffixes).
    saved_model.export("pos_tagger", endpoints=service.endpoints(), track=[service, model], ...)

The exported `serving_default` signature takes string sentences `(batch,)` and returns
`tokens` and `tags`, string `(batch, max_tokens)` padded with "", and `lengths`, int32
`(batch,)`, plus `truncated`, bool `(batch,)`. A signature output cannot be ragged in TF
Serving, hence the padding and lengths. Everything below runs in the graph:

1. `sanitize`: bytes that are not UTF-8 become U+FFFD, so no later op can fail on them.
2. `whitespace_tokens`: the sentence is split on white space, the characters Python's
   `str.split()` splits on (`WHITESPACE`: ASCII white space, U+001C-U+001F, U+0085 and the
   Unicode separators). There is no punctuation splitting: clients send Penn-Treebank-tokenised
   text, as CoNLL-2000 is (`" ".join(words)` of a corpus sentence round-trips exactly). Only
   the first `max_tokens` tokens are read (`truncated` says when more were given).
3. `PosTaggerService.preprocess`: the book's preprocessing (`conll2000.preprocess_tokens`),
   branch for branch, with the cached vocabulary's `found` flags as `in_vocabulary`, except
   for the one condition that needs the answer: the book merges `w1 w2` into `w1_w2` only when
   the two GOLD tags are equal; here the pair merges whenever `w1_w2` is a found word of the
   vocabulary (greedily, left to right, as the book). So serving equals
   `preprocess_tokens([(word, "X") for word in sentence.split()], cache.in_vectors)`: the
   book's function with one tag for every word. Then digits -> "#" (every Unicode decimal
   digit, as Python's `\\d`), "-" -> "_", and a word without a vector that contains "_" is
   split into its non-empty pieces. The processed words are again cut to `max_tokens`.
   A client sees in `tokens` what was tagged (`New_York`, or `buy` `out` for `buy-out`).
4. Lookup: the vocabulary table maps each processed word to its id; any other word, and the
   special tokens typed as text, get `UNK_ID`.
5. Windows: the left context `(w[i-n+1], ..., w[i])` of every token inside its sentence, PAD
   before the sentence start (`pos_tagger.sentence_windows` without a prefix), or with
   `window="centered"` `(w[i-h], ..., w[i+h])`, PAD past either end. A model trained on the
   book's cross-sentence windows is served with PAD contexts too. A model with word-shape
   features gets each position's shape and suffix ids beside its word id (`shape_ids`,
   `suffixes_of` and a suffix table: `data.word_shape` in the graph, on the processed words).
6. The model (inference mode), arg-max, tag strings; positions past a sentence's length are "".

An empty (or all-white-space) sentence has length 0; a batch of zero sentences gives `(0, 0)`
outputs. A wrong dtype or rank is refused (the signature's dtype and the export's shape check).
"""

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from fdl_tf2.data import conll2000, word_shape

MAX_TOKENS = 512
"""Tokens read and tagged per sentence; longer sentences are cut (and flagged `truncated`)."""
WHITESPACE = r"[\t-\r\x{1c}-\x{20}\x{85}\p{Z}]"
"""RE2 class of the characters `str.split()` splits on (RE2's own `\\s` lacks `\\v` and
Unicode spaces)."""
DIGIT = r"\p{Nd}"
"""RE2 for Python's `\\d` on text: any Unicode decimal digit (RE2's `\\d` is ASCII only)."""
INPUT_NAME = "sentences"


def sanitize(sentences: tf.Tensor) -> tf.Tensor:
    """Strings `(batch,)` with every invalid UTF-8 sequence replaced by U+FFFD."""
    return tf.strings.unicode_transcode(
        sentences, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )


def whitespace_tokens(
    sentences: tf.Tensor, max_tokens: int = MAX_TOKENS
) -> tuple[tf.RaggedTensor, tf.Tensor]:
    """`str.split()` of each sentence, cut to `max_tokens` tokens.

    Args:
      sentences: UTF-8 strings `(batch,)` (see `sanitize`).

    Returns:
      `(tokens, truncated)`: string ragged `(batch, (tokens))` and bool `(batch,)`, True where
      the sentence had more than `max_tokens` tokens.
    """
    spaced = tf.strings.strip(tf.strings.regex_replace(sentences, WHITESPACE + "+", " "))
    tokens = tf.strings.split(spaced, sep=" ")  # "" -> no token (an empty row).
    tokens = tf.ragged.boolean_mask(tokens, tf.not_equal(tokens, ""))
    return tokens[:, :max_tokens], tokens.row_lengths() > max_tokens


def normalize_words(words: tf.Tensor) -> tf.Tensor:
    """`conll2000.normalize_word` in the graph: every digit -> "#", every "-" -> "_"."""
    return tf.strings.regex_replace(tf.strings.regex_replace(words, DIGIT, "#"), "-", "_")


def _greedy_merges(candidates: tf.Tensor) -> tf.Tensor:
    """Left-to-right merging: pair t merges if it can and word t was not merged into t-1.

    Args:
      candidates: bool `(batch, time)`, True where words t and t+1 could merge.

    Returns:
      bool `(batch, time)`: merged[t] = candidates[t] and not merged[t-1].
    """

    def scan():
        merged = tf.scan(
            lambda previous, candidate: tf.logical_and(candidate, tf.logical_not(previous)),
            tf.transpose(candidates),  # (time, batch)
            initializer=tf.zeros([tf.shape(candidates)[0]], tf.bool),
        )
        return tf.transpose(merged)

    # A scan over zero steps cannot stack its (batch-unknown) outputs in a graph.
    return tf.cond(tf.shape(candidates)[1] > 0, scan, lambda: candidates)


def _split_pieces(words: tf.Tensor, split: tf.Tensor) -> tf.RaggedTensor:
    """Each word as `[word]`, or its non-empty "_" pieces where `split`: ragged `(n, (pieces))`.

    Args:
      words: string `(n,)`; split: bool `(n,)`.
    """
    pieces = tf.strings.split(words, sep="_")  # Every row has at least one value ("" -> [""]).
    row = pieces.value_rowids()
    first = tf.equal(
        tf.range(tf.shape(row, out_type=tf.int64)[0]), tf.gather(pieces.row_starts(), row)
    )
    split_row = tf.gather(split, row)
    values = tf.where(split_row, pieces.values, tf.gather(words, row))
    keep = tf.where(split_row, tf.not_equal(pieces.values, ""), first)
    return tf.RaggedTensor.from_value_rowids(
        tf.boolean_mask(values, keep),
        tf.boolean_mask(row, keep),
        nrows=tf.shape(words, out_type=tf.int64)[0],
    )


def context_windows(
    ids: tf.RaggedTensor, n_gram: int, window: str = "left", pad_id: int = conll2000.PAD_ID
) -> tf.Tensor:
    """Every token's window inside its sentence, PAD outside it (`conll2000.ngram_windows`).

    "left": `(w[i-n+1], ..., w[i])`; "centered": `(w[i-h], ..., w[i+h])`, h = n // 2.

    Args:
      ids: int32 ragged `(batch, (tokens))`, or `(batch, (tokens), 3)` per-token id rows.

    Returns:
      int32 `(batch, max_tokens, n_gram)` (or `(batch, max_tokens, n_gram, 3)`); the windows
      past a sentence's end are filler (the tags of those positions are masked).
    """
    target = conll2000.target_position(n_gram, window)
    dense = ids.to_tensor(default_value=pad_id)  # (batch, time[, 3])
    inner = [[0, 0]] * (len(dense.shape) - 2)
    padded = tf.pad(
        dense, [[0, 0], [target, n_gram - 1 - target], *inner], constant_values=pad_id
    )  # (batch, time + n_gram - 1[, 3])
    length = tf.shape(dense)[1]
    shifted = [padded[:, offset : offset + length] for offset in range(n_gram)]
    return tf.stack(shifted, axis=2)  # (batch, time, n_gram[, 3])


def shape_ids(words: tf.Tensor) -> tf.Tensor:
    """`word_shape.shape_id` in the graph: string words (any shape) -> int32 ids, 1..5."""

    def matches(pattern):
        return tf.strings.regex_full_match(words, "(?s)" + pattern)  # "." matches any char.

    has_lower = matches(".*[a-z].*")
    ids = tf.where(has_lower, word_shape.SHAPE_IDS["lower"], word_shape.SHAPE_IDS["other"])
    ids = tf.where(matches("[A-Z].*"), word_shape.SHAPE_IDS["init_cap"], ids)
    all_caps = tf.logical_and(tf.logical_not(has_lower), matches(".*[A-Z].*"))
    ids = tf.where(all_caps, word_shape.SHAPE_IDS["all_caps"], ids)
    return tf.where(matches(".*[#0-9].*"), word_shape.SHAPE_IDS["digit"], ids)


def suffixes_of(words: tf.Tensor, length: int) -> tf.Tensor:
    """`word_shape.suffix` in the graph: the last `length` characters of the ASCII-lower-cased
    words (all of a shorter word), for valid UTF-8 words of any shape."""
    lowered = tf.strings.lower(words)  # ASCII only (no encoding given), as `ascii_lower`.
    characters = tf.strings.length(lowered, unit="UTF8_CHAR")
    start = tf.maximum(characters - length, 0)
    return tf.strings.substr(lowered, start, characters - start, unit="UTF8_CHAR")


class PosTaggerService(tf.Module):
    """The n-gram tagger behind raw sentences: tokens, the book's preprocessing, tags.

    Args:
      model: a `models.pos_tagger.build_pos_tagger` model, int32 `(batch, n)` -> logits.
      words: id -> word, the vector cache's vocabulary (`VectorCache.words`: PAD, UNK, ...).
      found: bool `(len(words),)`, True where the word had a source vector
        (`VectorCache.found`): the `in_vocabulary` of the book's preprocessing.
      tags: id -> tag (`TaggedCorpus.tags`).
      max_tokens: tokens tagged per sentence (see the module docstring).
      window: the model's window kind, "left" (the book's) or "centered".
      suffixes: the suffix vocabulary of a model with word-shape features (input int32
        `(batch, n, 3)`, `models.pos_tagger.has_features`); None for a word-id model.
    """

    def __init__(
        self,
        model: keras.Model,
        words: Sequence[str],
        found: np.ndarray,
        tags: Sequence[str],
        *,
        max_tokens: int = MAX_TOKENS,
        window: str = "left",
        suffixes: word_shape.SuffixVocabulary | None = None,
    ):
        super().__init__(name="pos_tagger_service")
        found = np.asarray(found, bool)
        if len(found) != len(words):
            raise ValueError(f"{len(words)} words but {len(found)} found flags.")
        if tuple(words[: len(conll2000.SPECIAL_TOKENS)]) != conll2000.SPECIAL_TOKENS:
            raise ValueError(f"words must start with {conll2000.SPECIAL_TOKENS}.")
        num_tags = int(model.output_shape[-1])
        if len(tags) != num_tags:
            raise ValueError(f"{len(tags)} tags for a model with {num_tags} outputs.")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}.")
        features = len(model.input_shape) == 3  # (batch, n, 3): word, shape, suffix ids.
        if features != (suffixes is not None):
            raise ValueError("Give suffixes exactly for a model with word-shape features.")
        self.model = model
        self.n_gram = int(model.input_shape[1])
        conll2000.target_position(self.n_gram, window)  # Validates the window kind.
        self.window = window
        self.max_tokens = max_tokens
        self.suffix_length = suffixes.length if suffixes is not None else 0
        self.suffix_table = None
        if suffixes is not None:
            special = len(word_shape.SUFFIX_SPECIAL_TOKENS)
            self.suffix_table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(list(suffixes.suffixes[special:]), tf.string),
                    tf.range(special, len(suffixes), dtype=tf.int32),
                ),
                default_value=word_shape.UNK_ID,
            )
        first = len(conll2000.SPECIAL_TOKENS)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(words[first:]), tf.string),
                tf.range(first, len(words), dtype=tf.int32),
            ),
            default_value=conll2000.UNK_ID,
        )
        found = found.copy()
        found[:first] = False  # UNK (every unknown word) has no vector.
        self.found = tf.constant(found)
        self.tag_names = tf.constant(list(tags), tf.string)

    def lookup(self, words: tf.Tensor) -> tf.Tensor:
        """Word strings (any shape) -> int32 ids of the same shape; unknown -> `UNK_ID`."""
        return self.table.lookup(words)

    def token_ids(self, words: tf.Tensor) -> tf.Tensor:
        """Processed words `(n,)` -> the model's per-token ids: int32 `(n,)` word ids, or with
        features int32 `(n, 3)` word, shape and suffix ids (`word_shape.word_features`)."""
        ids = self.lookup(words)
        if self.suffix_table is None:
            return ids
        suffix_ids = self.suffix_table.lookup(suffixes_of(words, self.suffix_length))
        return tf.stack([ids, shape_ids(words), suffix_ids], axis=-1)

    def in_vocabulary(self, words: tf.Tensor) -> tf.Tensor:
        """Bool of `words`' shape: the word has a source vector (`VectorCache.in_vectors`)."""
        return tf.gather(self.found, self.lookup(words))

    def preprocess(self, sentences: tf.Tensor) -> tuple[tf.RaggedTensor, tf.Tensor]:
        """Raw sentences `(batch,)` -> processed words ragged `(batch, (tokens))`, truncated.

        Steps 1-3 of the module docstring; `truncated` is bool `(batch,)`.
        """
        raw, truncated = whitespace_tokens(sanitize(sentences), self.max_tokens)
        # --- Branch 1: phrases, greedily from the left ---
        dense = raw.to_tensor(default_value="")  # (batch, time)
        lengths = raw.row_lengths()
        time = tf.shape(dense)[1]
        # Shifted by one word (sliced back to `time` columns, as time may be 0).
        following = tf.concat([dense[:, 1:], tf.fill([tf.shape(dense)[0], 1], "")], 1)[:, :time]
        phrases = tf.strings.join([dense, following], separator="_")
        has_next = tf.range(tf.cast(time, tf.int64))[None, :] + 1 < lengths[:, None]
        merged = _greedy_merges(tf.logical_and(has_next, self.in_vocabulary(phrases)))
        # Word t went into phrase t-1.
        consumed = tf.concat([tf.zeros_like(merged[:, :1]), merged[:, :-1]], axis=1)[:, :time]
        valid = tf.sequence_mask(lengths, time)
        kept = tf.logical_and(valid, tf.logical_not(consumed))
        words = tf.ragged.boolean_mask(tf.where(merged, phrases, dense), kept)
        is_phrase = tf.ragged.boolean_mask(merged, kept).flat_values
        # --- Branches 2-5: normalise, keep, or split into pieces ---
        flat = words.flat_values  # (n,)
        normalized = tf.where(is_phrase, flat, normalize_words(flat))
        split = tf.logical_and(
            tf.logical_not(tf.logical_or(is_phrase, self.in_vocabulary(normalized))),
            tf.strings.regex_full_match(normalized, ".*_.*"),
        )
        pieces = words.with_flat_values(_split_pieces(normalized, split)).merge_dims(1, 2)
        return pieces[:, : self.max_tokens], tf.logical_or(
            truncated, pieces.row_lengths() > self.max_tokens
        )

    def tag(self, sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        """Tags raw sentences.

        Args:
          sentences: string `(batch,)`, one sentence per element (Penn-Treebank tokens
            separated by white space).

        Returns:
          `tokens` and `tags`: string `(batch, max_length)` padded with ""; `lengths`: int32
          `(batch,)`; `truncated`: bool `(batch,)`. max_length is the longest processed
          sentence of the batch (at most `max_tokens`).
        """
        tokens, truncated = self.preprocess(sentences)
        ids = tokens.with_flat_values(self.token_ids(tokens.flat_values))  # (batch, (time)[, 3])
        windows = context_windows(ids, self.n_gram, self.window)  # (batch, time, n[, 3])
        batch, time = tf.shape(windows)[0], tf.shape(windows)[1]
        model_input = tf.reshape(windows, [-1, *self.model.input_shape[1:]])  # (batch*time, n[, 3])
        logits = self.model(model_input, training=False)
        tag_ids = tf.reshape(tf.argmax(logits, axis=-1, output_type=tf.int32), [batch, time])
        lengths = tf.cast(tokens.row_lengths(), tf.int32)
        mask = tf.sequence_mask(lengths, time)
        return {
            "tokens": tokens.to_tensor(default_value=""),
            "tags": tf.where(mask, tf.gather(self.tag_names, tag_ids), ""),
            "lengths": lengths,
            "truncated": truncated,
        }

    def endpoints(self) -> dict[str, tuple[Callable, list[tf.TensorSpec]]]:
        """`{"serving_default": (tag, [string (None,) "sentences"])}` for `saved_model.export`."""
        spec = tf.TensorSpec((None,), tf.string, name=INPUT_NAME)
        return {"serving_default": (self.tag, [spec])}

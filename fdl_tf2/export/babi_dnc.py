"""Serving the chapter-8 bAbI DNC from raw text: story and question strings in, answers out.

Book: chapter 8, "Teaching a DNC to Read and Comprehend" (seed lines 5732-5779; the repository's
`preprocess.py` and `test_babi.py`); the export of issue "chapter 8".

    service = BabiService(model, lexicon)
    service.answer(tf.constant(["Mary went to the office."]), tf.constant(["Where is Mary?"]))

Everything runs in the graph, for batches of UTF-8 strings `story` `(batch,)` and `question`
`(batch,)`:

1. invalid UTF-8 becomes U+FFFD; then `babi.tokenize_line` in the graph: "." -> " .",
   "?" -> " ?", "," -> " ", split on white space, keep the alphabetic tokens (lower-cased) and
   "?" and "."; numbers (bAbI line ids) drop out, so raw bAbI lines can be sent as they are;
2. words outside the 159-word lexicon are DROPPED (the book's lexicon has no unknown-word id)
   and counted in `unknown_words`;
3. the question gets a "?" if it has none, then `num_words` answer marks "-" (1 in
   `serving_default`; the `answer_words` signature takes it per example: lists and paths
   (tasks 8 and 19) have several answer words);
4. a story longer than `max_tokens` (question included) keeps its LAST `max_tokens` tokens, the
   facts nearest the question, and is flagged in `truncated`;
5. the DNC reads the sequence from a fresh memory; each answer word is the arg-max of its
   output at a "-" step, as `test_babi.py` scores it.

Outputs: `answer` strings `(batch,)` (the answer words joined by ",", bAbI's format),
`words` strings `(batch, max_words)` padded with "", `log_probabilities` float32 `(batch,)`
(the sum over the answer words), `unknown_words` int32 `(batch,)` and `truncated` bool
`(batch,)`. An empty story is allowed (the question alone is read); an empty question is read
as just "?". A wrong dtype or rank is refused by the signature.
"""

from collections.abc import Callable, Mapping

import tensorflow as tf

from fdl_tf2.data import babi
from fdl_tf2.export import text_endpoints

ANSWER_KEY = "answer"
ANSWER_WORDS_KEY = "answer_words"
MAX_WORDS = 8
"""Upper bound of `num_words` in the `answer_words` signature (bAbI answers have at most 3)."""


def tokenize_in_graph(texts: tf.Tensor) -> tf.RaggedTensor:
    """`babi.tokenize_line` of each string: `(batch,)` -> ragged `(batch, (tokens))`."""
    spaced = tf.strings.regex_replace(texts, r"\.", " . ")
    spaced = tf.strings.regex_replace(spaced, r"\?", " ? ")
    spaced = tf.strings.regex_replace(spaced, ",", " ")
    spaced = tf.strings.strip(
        tf.strings.regex_replace(spaced, text_endpoints.WHITESPACE + "+", " ")
    )
    tokens = tf.strings.split(spaced, sep=" ")
    keep = tf.ragged.map_flat_values(tf.strings.regex_full_match, tokens, r"\p{L}+|\?|\.")
    kept = tf.ragged.boolean_mask(tokens, keep)
    return tf.ragged.map_flat_values(tf.strings.lower, kept, encoding="utf-8")


class BabiService(tf.Module):
    """The serving pipeline of the module docstring around a trained bAbI DNC.

    Args:
      model: `ids int32 (batch, time)` (pad -1) -> logits `(batch, time, len(lexicon))`.
      lexicon: `{token: id}`, `babi.load_lexicon()`'s.
      max_tokens: the longest sequence read (story, question and answer marks).
    """

    def __init__(self, model, lexicon: Mapping[str, int], *, max_tokens: int = 1024):
        super().__init__(name="babi_dnc")
        if max_tokens < MAX_WORDS + 2:
            raise ValueError(f"max_tokens must be >= {MAX_WORDS + 2}, got {max_tokens}.")
        for mark in (babi.QUESTION_MARK, babi.ANSWER_MARK):
            if mark not in lexicon:
                raise ValueError(f"The lexicon has no {mark!r}.")
        self.model = model
        self.max_tokens = max_tokens
        words = sorted(lexicon, key=lexicon.get)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(words), tf.constant([lexicon[w] for w in words], tf.int32)
            ),
            default_value=-1,
        )
        self.words = tf.Variable(words, trainable=False, name="lexicon_words")
        self.question_id = lexicon[babi.QUESTION_MARK]
        self.answer_id = lexicon[babi.ANSWER_MARK]

    def _ids(self, texts: tf.Tensor) -> tuple[tf.RaggedTensor, tf.Tensor]:
        """Lexicon ids of the known tokens and the number of unknown ones, per string."""
        tokens = tokenize_in_graph(text_endpoints.sanitize(texts))
        ids = tf.ragged.map_flat_values(self.table.lookup, tokens)
        known = ids >= 0
        unknown = tf.reduce_sum(tf.cast(tf.logical_not(known), tf.int32), axis=1)
        return tf.ragged.boolean_mask(ids, known), unknown

    def answer(self, story: tf.Tensor, question: tf.Tensor, num_words: tf.Tensor) -> dict:
        """Strings `(batch,)` x 2 and int32 `num_words` `(batch,)` -> the docstring's outputs."""
        num_words = tf.clip_by_value(num_words, 1, MAX_WORDS)
        story_ids, story_unknown = self._ids(story)
        question_ids, question_unknown = self._ids(question)
        batch = tf.shape(story)[0]
        # A question without "?" gets one; then the answer marks.
        lengths = tf.cast(question_ids.row_lengths(), tf.int32)
        padded_question = question_ids.to_tensor(-1)
        final = tf.gather(
            tf.concat([tf.fill([batch, 1], -1), padded_question], axis=1), lengths, batch_dims=1
        )  # (batch,): the question's last id, -1 when empty
        needs_mark = tf.cast(tf.not_equal(final, self.question_id), tf.int32)
        mark = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(needs_mark)], self.question_id), tf.cast(needs_mark, tf.int64)
        )
        answers = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(num_words)], self.answer_id), tf.cast(num_words, tf.int64)
        )
        sequence = tf.concat([story_ids, question_ids, mark, answers], axis=1)
        total = tf.cast(sequence.row_lengths(), tf.int32)
        truncated = total > self.max_tokens
        # Keep the last max_tokens tokens of each row.
        positions = tf.ragged.range(total)
        keep = positions >= tf.expand_dims(total - self.max_tokens, 1)
        sequence = tf.ragged.boolean_mask(sequence, keep)
        lengths = tf.cast(sequence.row_lengths(), tf.int32)
        ids = sequence.to_tensor(-1)  # (batch, width), pad -1 after each sequence
        logits = self.model(ids, training=False)  # (batch, width, V)
        log_probabilities = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
        # Answer step k of row b is at lengths[b] - num_words[b] + k, for k < num_words[b].
        steps = tf.range(MAX_WORDS)[None, :]  # (1, MAX_WORDS)
        valid = steps < num_words[:, None]  # (batch, MAX_WORDS)
        where = tf.where(valid, lengths[:, None] - num_words[:, None] + steps, 0)
        at_answers = tf.gather(log_probabilities, where, batch_dims=1)  # (batch, MAX_WORDS, V)
        predicted = tf.argmax(at_answers, axis=-1, output_type=tf.int32)
        best = tf.reduce_max(at_answers, axis=-1)
        words = tf.where(valid, tf.gather(self.words, predicted), "")
        answer = tf.strings.reduce_join(tf.ragged.boolean_mask(words, valid), axis=1, separator=",")
        return {
            "answer": answer,
            "words": words,
            "log_probabilities": tf.reduce_sum(tf.where(valid, best, 0.0), axis=1),
            "unknown_words": story_unknown + question_unknown,
            "truncated": truncated,
        }

    def endpoints(self) -> dict[str, tuple[Callable, list[tf.TensorSpec]]]:
        """`answer` and `serving_default` (one answer word) and `answer_words` (`num_words`)."""
        texts = [
            tf.TensorSpec([None], tf.string, name="story"),
            tf.TensorSpec([None], tf.string, name="question"),
        ]

        def one_word(story, question):
            return self.answer(story, question, tf.ones(tf.shape(story)[:1], tf.int32))

        def several_words(story, question, num_words):
            return self.answer(story, question, num_words)

        return {
            ANSWER_KEY: (one_word, texts),
            "serving_default": (one_word, texts),
            ANSWER_WORDS_KEY: (
                several_words,
                [*texts, tf.TensorSpec([None], tf.int32, name="num_words")],
            ),
        }

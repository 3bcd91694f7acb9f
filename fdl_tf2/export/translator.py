"""Serving the chapter-7 translator from raw strings: tokenise, encode, beam search, detokenise.

Book: chapter 7, `translate.py`'s `decode()` (seed lines 4531-4634); spec ch06-07 checklist
§5.3 item 34 and the export of issue "chapter 7, part 2".

    service = TranslatorService(model, source_words, target_words, beam_size=5, ...)
    service.translate(tf.constant(["A man is sleeping ."]))["translations"]
    saved_model.export("translator_en_fr", endpoints=service.endpoints(), track=[service], ...)

Everything runs in the graph, for a batch of UTF-8 strings `(batch,)`:

1. `translation.tokenize_in_graph` (the book's `basic_tokenizer`; invalid UTF-8 becomes
   U+FFFD) and, as in training, digits -> "0";
2. the source vocabulary (a hash table; unknown words -> UNK);
3. sources longer than `max_source_tokens` (the largest bucket's source size: 40 with the
   repository's buckets) are CUT to their first `max_source_tokens` tokens, and flagged in
   `truncated`; the book only printed "Sentence truncated" and then crashed (errata 32);
4. the training layout: reversed, pads first (`reverse_source`); every sentence of the batch
   shares one padded width, which changes nothing since the encoder masks pads;
5. beam search (`seq2seq_decoding.beam_decode`, `beam_size` fixed at export; 1 is the book's
   greedy decoder) for at most `max_output_tokens` tokens;
6. the best hypothesis's tokens up to EOS -> target words -> `translation.detokenize_in_graph`.

Outputs: `translations` strings `(batch,)`, `scores` float32 `(batch,)` (the length-normalised
log-probability used for ranking), `log_probabilities` float32 `(batch,)` (the raw sum),
`lengths` int32 `(batch,)` (target tokens, EOS excluded), `truncated` bool `(batch,)`, and with
`attention=True` (the `translate_with_attention` signature) `attention` float32 `(batch,
max_output_tokens, source_tokens)` (rows are target tokens, columns the source tokens in
reading order, not reversed; zero past each sentence's lengths).

An empty or all-white-space string has no source token: the encoder state stays zero and the
attention context is zero, and the decoder's unconditional translation comes out (defined, not
an error). A wrong dtype or rank is refused by the signature.
"""

from collections.abc import Callable, Sequence

import tensorflow as tf

from fdl_tf2.data import translation
from fdl_tf2.models import seq2seq, seq2seq_decoding

INPUT_NAME = "sentences"
TRANSLATE_KEY = "translate"
ATTENTION_KEY = "translate_with_attention"


class TranslatorService(tf.Module):
    """The serving pipeline of the module docstring around a trained `Seq2SeqAttention`.

    Args:
      model: the trained model.
      source_words, target_words: the vocabularies, id order (START_VOCAB first).
      beam_size: hypotheses kept (1: greedy, the book's decoder).
      length_penalty: the GNMT alpha (0: plain log-probability) or "average".
      max_source_tokens, max_output_tokens: the largest bucket's sizes by default.
      reverse_source, normalize_digits: as in training.
      target_language: selects the detokeniser's rules ("fr" keeps the space before ! ? : ;).
    """

    def __init__(
        self,
        model: seq2seq.Seq2SeqAttention,
        source_words: Sequence[str],
        target_words: Sequence[str],
        *,
        beam_size: int = 1,
        length_penalty: float | str = 0.0,
        max_source_tokens: int = translation.BUCKETS[-1][0],
        max_output_tokens: int = translation.BUCKETS[-1][1],
        reverse_source: bool = True,
        normalize_digits: bool = True,
        target_language: str = "fr",
    ):
        super().__init__(name="translator")
        if len(target_words) != model.target_vocabulary_size:
            raise ValueError(
                f"{len(target_words)} target words for a model with "
                f"{model.target_vocabulary_size} output classes."
            )
        if len(source_words) != model.source_vocabulary_size:
            raise ValueError(
                f"{len(source_words)} source words for a model with "
                f"{model.source_vocabulary_size} input ids."
            )
        if max_source_tokens < 1 or max_output_tokens < 1:
            raise ValueError("max_source_tokens and max_output_tokens must be >= 1.")
        self.model = model
        self.beam_size, self.length_penalty = beam_size, length_penalty
        self.max_source_tokens, self.max_output_tokens = max_source_tokens, max_output_tokens
        self.reverse_source, self.normalize_digits = reverse_source, normalize_digits
        self.target_language = target_language
        self.source_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(source_words)), tf.range(len(source_words), dtype=tf.int64)
            ),
            default_value=translation.UNK_ID,
        )
        self.target_words = tf.Variable(list(target_words), trainable=False, name="target_words")

    def encoder_inputs(self, sentences: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Strings `(batch,)` -> `(encoder_inputs int32 (batch, width), lengths, truncated)`.

        `width` is the longest (cut) sentence of the batch, at least 1.
        """
        tokens = translation.tokenize_in_graph(sentences)
        if self.normalize_digits:
            tokens = translation.normalize_digits_in_graph(tokens)
        truncated = tokens.row_lengths() > self.max_source_tokens
        tokens = tokens[:, : self.max_source_tokens]
        ids = tf.cast(tf.ragged.map_flat_values(self.source_table.lookup, tokens), tf.int32)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        width = tf.maximum(tf.reduce_max(tf.concat([lengths, [0]], 0)), 1)
        batch = tf.shape(sentences, out_type=tf.int64)[0]
        padded = ids.to_tensor(
            translation.PAD_ID, shape=tf.stack([batch, tf.cast(width, tf.int64)])
        )
        if self.reverse_source:
            padded = tf.reverse(padded, axis=[1])  # (batch, width): pads first, last word first
        return padded, lengths, truncated

    def decode(self, encoder_inputs: tf.Tensor) -> seq2seq_decoding.Decoded:
        """The best hypothesis per sentence (`Decoded` without a beam axis)."""
        if self.beam_size == 1:
            return seq2seq_decoding.greedy_decode(
                self.model, encoder_inputs, self.max_output_tokens
            )
        return seq2seq_decoding.best(
            seq2seq_decoding.beam_decode(
                self.model,
                encoder_inputs,
                self.max_output_tokens,
                beam_size=self.beam_size,
                length_penalty_alpha=self.length_penalty,
            )
        )

    def words(self, decoded: seq2seq_decoding.Decoded) -> tf.RaggedTensor:
        """Target words before EOS, ragged `(batch, (words))`."""
        tokens = decoded.tokens  # (batch, max_output_tokens)
        ended = tf.gather(tokens, tf.maximum(decoded.lengths - 1, 0), batch_dims=1)
        ended = tf.logical_and(decoded.lengths > 0, tf.equal(ended, seq2seq_decoding.EOS_ID))
        word_count = decoded.lengths - tf.cast(ended, tf.int32)
        ids = tf.RaggedTensor.from_tensor(tokens, lengths=word_count)
        return tf.ragged.map_flat_values(tf.gather, self.target_words, ids)

    def translate(self, sentences: tf.Tensor, attention: bool = False) -> dict[str, tf.Tensor]:
        """Strings `(batch,)` -> the outputs of the module docstring."""
        encoder_inputs, source_lengths, truncated = self.encoder_inputs(sentences)
        decoded = self.decode(encoder_inputs)
        words = self.words(decoded)
        outputs = {
            "translations": translation.detokenize_in_graph(words, self.target_language),
            "scores": decoded.normalized_scores,
            "log_probabilities": decoded.scores,
            "lengths": tf.cast(words.row_lengths(), tf.int32),
            "truncated": truncated,
        }
        if attention:
            weights = decoded.attention  # (batch, max_output_tokens, width), reversed columns
            outputs["attention"] = tf.reverse(weights, axis=[2]) if self.reverse_source else weights
        return outputs

    def endpoints(self) -> dict[str, tuple[Callable, list[tf.TensorSpec]]]:
        """For `saved_model.export`: `translate` and `serving_default` (the same function), and
        `translate_with_attention`, which adds the `attention` output."""
        spec = [tf.TensorSpec([None], tf.string, name=INPUT_NAME)]

        def endpoint(sentences):
            return self.translate(sentences)

        def with_attention(sentences):
            return self.translate(sentences, attention=True)

        return {
            TRANSLATE_KEY: (endpoint, spec),
            "serving_default": (endpoint, spec),
            ATTENTION_KEY: (with_attention, spec),
        }

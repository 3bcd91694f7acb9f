"""Skip-gram word2vec: the book's NCE model, a fast negative-sampling path, evaluation, serving.

Book: chapter 6, "Word2Vec" and "Implementing the Skip-Gram Architecture" (seed lines
3034-3302, repo `skipgram.py`); spec ch06-07 §2.1.6-2.1.7, §5.2 items 13-15, §6 items 6-7.
Mikolov et al. 2013 ("Efficient estimation...", "Distributed representations..."); NCE:
Gutmann & Hyvärinen 2010, Mnih & Teh 2012; shared negatives per minibatch: Ji et al. 2016
("Parallelizing Word2Vec in shared and distributed memory").

One model, `SkipGram`: an input embedding `E (V, d)` ~ U(-1, 1), output weights `W (V, d)` ~
TruncatedNormal(stddev=1/sqrt(d)) and output biases `b (V,)` = 0; 2*V*d + V parameters
(2,570,000 for the book's V = 10,000, d = 128). A centre word `c` scores a context word `o` as
`s(c, o) = E[c] . W[o] + b[o]`. Two objectives train it with `step.make_train_step`:

- `make_nce_loss`: the book's `tf.nn.nce_loss` (64 log-uniform negatives shared by the batch,
  accidental hits removed), on the book's `(centres, contexts)` batches of 32 pairs, SGD 0.1.
- `negative_sampling_loss`: word2vec's objective, the batch's K negatives drawn once from
  unigram^0.75 and shared by its pairs, on `fast_batches` (word2vec's reduced windows and
  frequent-word subsampling, generated an epoch at a time inside tf.data), trained with
  `make_sgd` (word2vec's per-pair rate 0.025, decaying linearly) and `jit_compile=True`.

The fast path stays inside the engine; what makes it fast:
- Shared negatives turn the B*K dot products of a batch into one `(B, d) x (d, K)` matrix
  product (and two for the gradients), so 64 negatives cost little more than 5.
- The gradients of E, W and b are `IndexedSlices` and Keras SGD applies them as scatter
  updates of the rows the batch touches, never a dense (V, d) update.
- XLA fuses the step: without it each step pays milliseconds of per-op dispatch on CPU
  whatever the batch size (~6 ms measured on 2 busy cores; ~1.3 ms with XLA for 256 pairs).
- No Python per pair or per step: pairs and negatives are whole-epoch tensor ops in tf.data
  (built in the background), and the engine runs `steps_per_call` steps per call.
The batch is small (`FAST_BATCH_SIZE` = 256) on purpose. A frequent word is a negative of
almost every pair (for "the", B*K*0.015 summed updates per step); word2vec's sequential SGD
self-corrects between those updates, a batch cannot, and with 4,096 pairs per step the
per-pair rate 0.025 diverges while a stable 0.002-0.004 leaves the vectors undertrained.
Adam and Adagrad (at 4,096 pairs per step) did worse than SGD. The output bias absorbs the
constant offset the 64 negatives ask of every score (it settles near -5), which keeps E free
of a large common direction (cosine similarities would all be high otherwise).

Evaluation (`neighbours`, the book's `Nearest neighbor of ...` lines, WordSim353 / SimLex-999
Spearman rho and analogy accuracy with their coverage, and the gensim anchor `train_gensim`)
and serving (`WordVectors`: raw strings in, vectors or neighbours out) follow.
"""

import math
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

VOCABULARY_SIZE = 10_000
EMBEDDING_SIZE = 128
NUM_SAMPLED = 64
"""Negatives per pair (the book's `neg_size`)."""
SKIP_WINDOW = 5
UNKNOWN_ID = 0
FAST_BATCH_SIZE = 256
"""Pairs per step of the fast path (see the module docstring for why it is small)."""
FAST_LEARNING_RATE = 0.025
"""Per-pair SGD rate of the fast path, word2vec's and gensim's `alpha`."""
VALIDATION_SIZE, VALIDATION_SPAN, TOP_MATCH = 20, 500, 8
"""The book's validation: 20 words drawn from the 500 most frequent, 8 neighbours each."""
INITIALIZATIONS = ("book", "word2vec")
"""`book`: E ~ U(-1, 1), W ~ TruncatedNormal(1/sqrt(d)); `word2vec`: E ~ U(-0.5/d, 0.5/d),
W = 0 (word2vec.c and gensim)."""

# --- Model ------------------------------------------------------------------------------------


def _initializers(initialization: str, embedding_size: int, seed: int | None):
    if initialization == "book":
        return (
            keras.initializers.RandomUniform(-1.0, 1.0, seed=seed),
            keras.initializers.TruncatedNormal(stddev=1.0 / math.sqrt(embedding_size), seed=seed),
        )
    if initialization == "word2vec":
        limit = 0.5 / embedding_size
        return keras.initializers.RandomUniform(-limit, limit, seed=seed), "zeros"
    raise ValueError(f"Unknown initialization {initialization!r}; expected {INITIALIZATIONS}.")


@keras.saving.register_keras_serializable(package="fdl_tf2")
class SkipGram(keras.layers.Layer):
    """The skip-gram parameters; `call(ids)` looks up the centre words' embeddings.

    Input: int `(batch,)` word ids. Output: float32 `(batch, embedding_size)` rows of E.
    Weights: `embeddings` E `(V, d)`, `output_weights` W `(V, d)`, `output_biases` b `(V,)`.
    """

    def __init__(
        self,
        vocabulary_size: int = VOCABULARY_SIZE,
        embedding_size: int = EMBEDDING_SIZE,
        initialization: str = "book",
        seed: int | None = None,
        **kwargs,
    ):
        kwargs.setdefault("autocast", False)  # Sampled losses stay in float32.
        super().__init__(**kwargs)
        if vocabulary_size < 2 or embedding_size < 1:
            raise ValueError(f"Bad sizes: V={vocabulary_size}, d={embedding_size}.")
        self.vocabulary_size, self.embedding_size = vocabulary_size, embedding_size
        self.initialization, self.seed = initialization, seed
        self._embeddings_init, self._output_init = _initializers(
            initialization, embedding_size, seed
        )

    def build(self, input_shape=None):
        shape = (self.vocabulary_size, self.embedding_size)
        self.embeddings = self.add_weight(
            shape=shape, initializer=self._embeddings_init, autocast=False, name="embeddings"
        )
        self.output_weights = self.add_weight(
            shape=shape, initializer=self._output_init, autocast=False, name="output_weights"
        )
        self.output_biases = self.add_weight(
            shape=(self.vocabulary_size,), initializer="zeros", autocast=False, name="output_biases"
        )

    def call(self, ids):
        return ops.take(self.embeddings, ops.cast(ids, "int32"), axis=0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embedding_size)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_size": self.embedding_size,
            "initialization": self.initialization,
            "seed": self.seed,
        }


def build_skipgram(
    vocabulary_size: int = VOCABULARY_SIZE,
    embedding_size: int = EMBEDDING_SIZE,
    *,
    initialization: str = "book",
    seed: int | None = None,
) -> keras.Model:
    """`centre ids (batch,) -> embeddings (batch, d)`, holding a `SkipGram` layer "skipgram"."""
    centres = keras.Input((), dtype="int32", name="centres")
    layer = SkipGram(vocabulary_size, embedding_size, initialization, seed, name="skipgram")
    return keras.Model(centres, layer(centres), name="skipgram")


def skipgram_layer(model: keras.Model) -> SkipGram:
    return model.get_layer("skipgram")


# --- Losses (the engine's `compute_loss`) ----------------------------------------------------


def log_uniform_sampler(
    num_sampled: int, vocabulary_size: int, seed: int | None = None
) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor, tf.Tensor]]:
    """`tf.nn.nce_loss`'s default sampler: `num_sampled` distinct log-uniform (Zipf) classes.

    Returns:
      `labels int64 (batch, 1) -> (sampled (num_sampled,), true_expected_count (batch, 1),
      sampled_expected_count (num_sampled,))`, the `sampled_values` of `tf.nn.nce_loss`.
    """
    return lambda labels: tf.random.log_uniform_candidate_sampler(
        true_classes=labels,
        num_true=1,
        num_sampled=num_sampled,
        unique=True,
        range_max=vocabulary_size,
        seed=seed,
    )


def make_nce_loss(
    num_sampled: int = NUM_SAMPLED,
    *,
    remove_accidental_hits: bool = True,
    sampler: Callable | None = None,
    seed: int | None = None,
) -> Callable:
    """The book's objective: `tf.nn.nce_loss` in the TF2 argument order (spec §6 item 7).

    Batches are `(centres, contexts)`, int `(batch,)` each. The log-uniform sampler (the
    default, `log_uniform_sampler`) draws `num_sampled` classes per batch, shared by its
    pairs, and assumes frequency-sorted ids. With `remove_accidental_hits` a sampled class
    equal to a pair's context is not one of its negatives. Per pair, with q the sampler's
    expected counts (NCE's correction),

        loss = softplus(-(s(c, o) - log q_o)) + sum_k softplus(s(c, n_k) - log q_k)

    a sum of sigmoid cross-entropies (>= 0; the book's "optimum -1" is an error, §6 item 6),
    averaged over the batch like the book's `reduce_mean`.

    Args:
      sampler: `labels (batch, 1) -> sampled_values`; None means `log_uniform_sampler`.
    """

    def nce_loss(model, batch, training):
        centres, contexts = batch
        layer = skipgram_layer(model)
        labels = tf.cast(contexts, tf.int64)[:, None]  # (batch, 1)
        draw = sampler or log_uniform_sampler(num_sampled, layer.vocabulary_size, seed)
        per_pair = tf.nn.nce_loss(
            weights=layer.output_weights,
            biases=layer.output_biases,
            labels=labels,
            inputs=model(centres, training=training),
            num_sampled=num_sampled,
            num_classes=layer.vocabulary_size,
            sampled_values=draw(labels),
            remove_accidental_hits=remove_accidental_hits,
        )  # (batch,)
        return (tf.reduce_sum(per_pair), tf.cast(tf.size(per_pair), tf.float32)), {}

    return nce_loss


def negative_sampling_loss(model, batch, training):
    """word2vec's negative sampling, with one set of K negatives shared by the whole batch.

    For pair b (centre c_b, context o_b) and the batch's negatives n_1..n_K:

        loss_b = softplus(-s(c_b, o_b)) + sum_k [n_k != o_b] softplus(s(c_b, n_k))

    `softplus(-x) = -log sigmoid(x)`; a negative equal to the pair's context is skipped (as in
    word2vec.c). Returns the sum over the batch and the number of pairs.

    Args:
      batch: `(centres (B,), contexts (B,), negatives (K,))`, int32.
    """
    centres, contexts, negatives = batch
    layer = skipgram_layer(model)
    inputs = model(centres, training=training)  # (B, d)
    positive = tf.gather(layer.output_weights, contexts)  # (B, d)
    negative = tf.gather(layer.output_weights, negatives)  # (K, d)
    positive_logits = tf.reduce_sum(inputs * positive, -1)  # (B,)
    positive_logits += tf.gather(layer.output_biases, contexts)
    negative_logits = tf.matmul(inputs, negative, transpose_b=True)  # (B, K)
    negative_logits += tf.gather(layer.output_biases, negatives)[None, :]
    hits = tf.equal(contexts[:, None], negatives[None, :])  # (B, K)
    negative_loss = tf.where(hits, 0.0, tf.math.softplus(negative_logits))
    per_pair = tf.math.softplus(-positive_logits) + tf.reduce_sum(negative_loss, -1)
    return (tf.reduce_sum(per_pair), tf.cast(tf.size(per_pair), tf.float32)), {}


def make_sgd(
    total_steps: int,
    *,
    batch_size: int,
    learning_rate: float = FAST_LEARNING_RATE,
    final_learning_rate: float = 1e-4,
) -> keras.optimizers.SGD:
    """word2vec's plain SGD with a linear decay, for the engine's batch-mean loss.

    word2vec (and gensim) step by `learning_rate` per pair, decaying linearly to
    `final_learning_rate` over the run; the engine minimises the mean over the batch, so the
    rates are multiplied by `batch_size`. The gradients are `IndexedSlices`, so only the rows
    of the batch's words are updated (a scatter), whatever V.
    """
    schedule = keras.optimizers.schedules.PolynomialDecay(
        learning_rate * batch_size, total_steps, final_learning_rate * batch_size, power=1.0
    )
    return keras.optimizers.SGD(schedule)


# --- The fast path's data: pairs, subsampling and negatives inside tf.data ---------------------


def keep_probabilities(counts: np.ndarray, sample: float = 1e-3) -> np.ndarray:
    """word2vec.c's (and gensim's) frequent-word subsampling: P(keep) per id, float32 `(V,)`.

        P(keep w) = min(1, (sqrt(f_w / t) + 1) * t / f_w),  f_w = count_w / total, t = sample

    `sample=0` keeps every word. The unknown id is never kept (its tokens are dropped, as
    gensim drops out-of-vocabulary words).
    """
    counts = np.asarray(counts, np.float64)
    keep = np.ones_like(counts)
    if sample > 0:
        frequency = counts / counts[1:].sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            keep = np.where(counts > 0, (np.sqrt(frequency / sample) + 1) * sample / frequency, 1)
        keep = np.minimum(keep, 1.0)
    keep[UNKNOWN_ID] = 0.0
    return keep.astype(np.float32)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """The negative sampler's probabilities, unigram^power (word2vec: 0.75); float64 `(V,)`.

    The unknown id and unseen words get 0 (never sampled).
    """
    weights = np.asarray(counts, np.float64) ** power
    weights[UNKNOWN_ID] = 0.0
    return weights / weights.sum()


def sample_negatives(cumulative: tf.Tensor, shape, key: tf.Tensor) -> tf.Tensor:
    """int32 ids of `shape` drawn from the distribution whose CDF is `cumulative` (V,)."""
    draws = tf.random.stateless_uniform(shape, key, dtype=cumulative.dtype) * cumulative[-1]
    ids = tf.searchsorted(cumulative, tf.reshape(draws, (-1,)), side="right", out_type=tf.int32)
    return tf.reshape(tf.minimum(ids, tf.size(cumulative) - 1), shape)


def dynamic_window_pairs(
    ids: tf.Tensor, keep_probability: tf.Tensor, *, window: int, key: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """One epoch of skip-gram pairs, word2vec.c style (subsampling, then reduced windows).

    Each token is kept with `keep_probability[id]`; each kept token i draws a window w_i
    uniformly from 1..window, and gives the pairs (centre i, context i+d) for 1 <= |d| <= w_i
    among the kept tokens, so a context at distance d is used with probability
    (window - d + 1) / window and a centre has `window + 1` contexts on average.

    Args:
      ids: int32 `(num_tokens,)`, the corpus.
      keep_probability: float32 `(V,)`, e.g. `keep_probabilities(counts)`.
      window: the maximal distance (the book's `skip_window`).
      key: int64 `(2,)` stateless seed.

    Returns:
      `(centres, contexts)`, int32 `(num_pairs,)` each, in corpus order by distance.
    """
    keep_key, window_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
    draws = tf.random.stateless_uniform(tf.shape(ids), seed=keep_key)
    kept = tf.boolean_mask(ids, draws < tf.gather(keep_probability, ids))  # (n,)
    widths = tf.random.stateless_uniform(
        tf.shape(kept), seed=window_key, minval=1, maxval=window + 1, dtype=tf.int32
    )
    centres, contexts = [], []
    for distance in range(1, window + 1):
        left, right = kept[:-distance], kept[distance:]  # (n - distance,) each.
        forward = widths[:-distance] >= distance  # Centre on the left, context d to the right.
        backward = widths[distance:] >= distance  # Centre on the right, context d to the left.
        centres += [tf.boolean_mask(left, forward), tf.boolean_mask(right, backward)]
        contexts += [tf.boolean_mask(right, forward), tf.boolean_mask(left, backward)]
    return tf.concat(centres, 0), tf.concat(contexts, 0)


def expected_pairs(ids: np.ndarray, keep_probability: np.ndarray, window: int) -> float:
    """The mean number of pairs per epoch of `dynamic_window_pairs` (edges ignored)."""
    return float(np.sum(keep_probability[ids], dtype=np.float64)) * (window + 1)


def fast_batches(
    ids: np.ndarray,
    counts: np.ndarray,
    *,
    batch_size: int,
    num_negatives: int = NUM_SAMPLED,
    window: int = SKIP_WINDOW,
    sample: float = 1e-3,
    power: float = 0.75,
    seed: int = 0,
) -> tuple[Callable[[int], tf.data.Dataset], int]:
    """The fast path's batch stream for `loop.train`, and its steps per epoch.

    Epoch e is generated in one piece, keyed by (seed, e): `dynamic_window_pairs`, cut into
    `steps_per_epoch` batches, and `num_negatives` draws from unigram^power per batch. Batch j
    takes every `steps_per_epoch`-th pair from a random start (pairs from all over the corpus
    and at every distance), and the batches come in a random order: a full shuffle of ~10^7
    pairs would cost seconds of CPU per epoch. When subsampling left fewer pairs than
    expected, the epoch's first pairs are used twice. Everything is a pure function of the
    seed and the position, so a resumed run sees the same batches; the next epoch is built in
    the background while this one trains.

    Args:
      ids: int32 `(num_tokens,)` corpus ids (UNK = 0 tokens are dropped).
      counts: `(V,)` corpus count of each id.
      batch_size: pairs per batch (all share the batch's negatives).
      num_negatives: K, negatives per pair.
      window, sample, power: see `dynamic_window_pairs`, `keep_probabilities`,
        `noise_distribution`.

    Returns:
      `(batches, steps_per_epoch)`: `batches(start_step)` yields `(centres (batch_size,),
      contexts (batch_size,), negatives (num_negatives,))` int32 batches from `start_step` on.
    """
    keep = keep_probabilities(counts, sample)
    steps_per_epoch = int(expected_pairs(ids, keep, window) // batch_size)
    if steps_per_epoch < 1:
        raise ValueError(f"batch_size {batch_size} exceeds the expected pairs of an epoch.")
    ids_tensor = tf.constant(ids, tf.int32)
    keep_tensor = tf.constant(keep)
    cumulative = tf.constant(np.cumsum(noise_distribution(counts, power)))  # (V,) float64

    @tf.autograph.experimental.do_not_convert  # Plain TF ops: skip the conversion cost.
    def epoch_batches(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        pairs_key, order_key, negatives_key = tf.unstack(
            tf.random.experimental.stateless_split(key, 3)
        )
        centres, contexts = dynamic_window_pairs(
            ids_tensor, keep_tensor, window=window, key=pairs_key
        )
        num_pairs = tf.size(centres)
        start = tf.random.stateless_uniform((), order_key, maxval=num_pairs, dtype=tf.int32)
        order = tf.random.experimental.stateless_shuffle(tf.range(steps_per_epoch), order_key)
        strided = steps_per_epoch * tf.range(batch_size)
        index = (start + order[:, None] + strided[None, :]) % num_pairs  # (steps, batch_size)
        negatives = sample_negatives(cumulative, (steps_per_epoch, num_negatives), negatives_key)
        return tf.gather(centres, index), tf.gather(contexts, index), negatives

    def batches(start_step: int) -> tf.data.Dataset:
        start_epoch, offset = divmod(int(start_step), steps_per_epoch)
        epochs = tf.data.Dataset.range(start_epoch, 2**62).map(epoch_batches).prefetch(1)
        stream = epochs.flat_map(lambda *epoch: tf.data.Dataset.from_tensor_slices(epoch))
        return stream.skip(offset).prefetch(tf.data.AUTOTUNE)

    return batches, steps_per_epoch


# --- Evaluation --------------------------------------------------------------------------------


def normalize(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (the book's `validation`); zero rows stay zero."""
    embeddings = np.asarray(embeddings, np.float32)
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.where(norms > 0, norms, 1.0)


def neighbours(embeddings: np.ndarray, query_ids: Sequence[int], k: int = TOP_MATCH) -> np.ndarray:
    """The `k` nearest words of each query by cosine similarity, the query itself excluded.

    Args:
      embeddings: `(V, d)`.
      query_ids: `(q,)` word ids.

    Returns:
      int `(q, k)` ids, most similar first (ties: the lower id first).
    """
    normalized = normalize(embeddings)
    query_ids = np.asarray(query_ids, np.int64)
    similarity = normalized[query_ids] @ normalized.T  # (q, V)
    similarity[np.arange(len(query_ids)), query_ids] = -np.inf
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def validation_ids(
    size: int = VALIDATION_SIZE, span: int = VALIDATION_SPAN, seed: int = 0
) -> np.ndarray:
    """The book's validation words: `np.random.choice(span, size, replace=False)`, seeded."""
    return np.random.RandomState(seed).choice(span, size, replace=False)


def neighbour_lines(
    embeddings: np.ndarray, vocabulary: Sequence[str], query_ids: Sequence[int], k: int = TOP_MATCH
) -> list[str]:
    """The book's console lines: `Nearest neighbor of <word>: n1, n2, ..., nk`."""
    found = neighbours(embeddings, query_ids, k)
    return [
        f"Nearest neighbor of {vocabulary[q]}: " + ", ".join(vocabulary[i] for i in row)
        for q, row in zip(query_ids, found, strict=True)
    ]


def keyed_vectors(embeddings: np.ndarray, vocabulary: Sequence[str]):
    """Our matrix as gensim `KeyedVectors` (UNK left out), so gensim's scorers apply to it."""
    from gensim.models import KeyedVectors

    embeddings = np.asarray(embeddings, np.float32)
    vectors = KeyedVectors(embeddings.shape[1])
    vectors.add_vectors(list(vocabulary[1:]), embeddings[1:])
    return vectors


def _question_count(path: str) -> int:
    with open(path, encoding="utf8") as lines:
        return sum(1 for line in lines if line.strip() and not line.startswith(":"))


def evaluate(embeddings: np.ndarray, vocabulary: Sequence[str]) -> dict[str, float]:
    """Word-similarity and analogy scores of `embeddings`, each with its coverage.

    The files are those the gensim wheel ships; gensim's scorers (`evaluate_word_pairs`,
    `evaluate_word_analogies`, case-insensitive) skip pairs and questions with an
    out-of-vocabulary word, and `*_coverage` is the fraction they kept.

    Returns:
      `wordsim353_rho`, `simlex999_rho` (Spearman; NaN without a pair in the vocabulary),
      `analogy_accuracy` (3CosAdd over the in-vocabulary questions of questions-words.txt) and
      the three coverages.
    """
    from gensim.test.utils import datapath

    vectors = keyed_vectors(embeddings, vocabulary)
    results = {}
    for name, file in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        try:
            _, spearman, oov_percent = vectors.evaluate_word_pairs(datapath(file))
        except ValueError:  # gensim refuses a file with no pair in the vocabulary.
            spearman, oov_percent = None, 100.0
        results[f"{name}_rho"] = float(spearman.statistic) if spearman else math.nan
        results[f"{name}_coverage"] = 1.0 - oov_percent / 100.0
    questions = datapath("questions-words.txt")
    accuracy, sections = vectors.evaluate_word_analogies(questions)
    total = sections[-1]
    results["analogy_accuracy"] = float(accuracy)
    answered = len(total["correct"]) + len(total["incorrect"])
    results["analogy_coverage"] = answered / _question_count(questions)
    return results


def train_gensim(
    ids: np.ndarray,
    vocabulary: Sequence[str],
    counts: np.ndarray,
    *,
    embedding_size: int = EMBEDDING_SIZE,
    window: int = SKIP_WINDOW,
    negative: int = NUM_SAMPLED,
    epochs: int = 5,
    sample: float = 1e-3,
    workers: int = 2,
    seed: int = 1,
) -> tuple[np.ndarray, float]:
    """The anchor: gensim's skip-gram (`sg=1`) on the same corpus and vocabulary.

    gensim gets exactly our vocabulary (`build_vocab_from_freq` with our counts, UNK left
    out, and `min_count=1`: the vocabulary is already cut to the most frequent words, so gensim
    drops none of them) and the corpus as sentences of 10,000 in-vocabulary words (gensim's
    longest; out-of-vocabulary tokens are dropped, as gensim itself would). Its defaults otherwise:
    learning rate 0.025 decaying linearly to 1e-4, reduced windows, unigram^0.75 negatives,
    subsampling at `sample` (the same rule as `keep_probabilities`).

    Returns:
      `(embeddings (V, d) aligned with our ids (UNK row 0), training seconds)`.
    """
    from gensim.models import Word2Vec

    words = np.asarray(vocabulary, dtype=object)[ids[ids != UNKNOWN_ID]]
    sentences = [list(words[i : i + 10_000]) for i in range(0, len(words), 10_000)]
    model = Word2Vec(
        vector_size=embedding_size,
        window=window,
        negative=negative,
        sg=1,
        min_count=1,
        sample=sample,
        workers=workers,
        seed=seed,
        epochs=epochs,
    )
    frequencies = {word: int(count) for word, count in zip(vocabulary[1:], counts[1:], strict=True)}
    model.build_vocab_from_freq(frequencies, corpus_count=len(sentences))
    start = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=epochs)
    seconds = time.perf_counter() - start
    embeddings = np.zeros((len(vocabulary), embedding_size), np.float32)
    embeddings[1:] = model.wv[list(vocabulary[1:])]
    return embeddings, seconds


# --- Serving -------------------------------------------------------------------------------------


class WordVectors(tf.Module):
    """Serving functions over raw strings, through an in-graph vocabulary table.

    Words are lower-cased (the corpus normalisation); unknown words and the empty string
    map to UNK (id 0) and are flagged `in_vocabulary = False`, without an error.

        service = WordVectors(model, vocabulary)
        saved_model.export("skipgram", endpoints=service.endpoints(), track=[service], ...)
    """

    def __init__(self, model: keras.Model, vocabulary: Sequence[str]):
        super().__init__(name="word_vectors")
        self.layer = skipgram_layer(model)
        if len(vocabulary) != self.layer.vocabulary_size:
            raise ValueError(
                f"{len(vocabulary)} words for a vocabulary of {self.layer.vocabulary_size}."
            )
        self.words = tf.constant(list(vocabulary), tf.string)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(vocabulary[1:]), tf.string),
                tf.range(1, len(vocabulary), dtype=tf.int32),
            ),
            default_value=UNKNOWN_ID,
        )

    def lookup(self, words: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """string `(n,)` -> ids int32 `(n,)`, in_vocabulary bool `(n,)`."""
        ids = self.table.lookup(tf.strings.lower(words))
        return ids, tf.not_equal(ids, UNKNOWN_ID)

    def embed(self, words: tf.Tensor) -> dict[str, tf.Tensor]:
        """string `(n,)` -> `vectors` float32 `(n, d)` (rows of E), `in_vocabulary` `(n,)`."""
        ids, known = self.lookup(words)
        return {"vectors": tf.gather(self.layer.embeddings, ids), "in_vocabulary": known}

    def nearest(self, words: tf.Tensor, k: tf.Tensor) -> dict[str, tf.Tensor]:
        """The `k` most cosine-similar words of each word, neither itself nor UNK.

        Args:
          words: string `(n,)`.
          k: int32 scalar, 0 <= k <= V - 2.

        Returns:
          `neighbours` string `(n, k)`, `similarities` float32 `(n, k)` (descending) and
          `in_vocabulary` bool `(n,)`.
        """
        vocabulary_size = self.layer.vocabulary_size
        tf.debugging.assert_less_equal(k, vocabulary_size - 2, message="k must be <= V - 2")
        tf.debugging.assert_non_negative(k, message="k must be >= 0")
        ids, known = self.lookup(words)
        normalized = tf.math.l2_normalize(self.layer.embeddings, axis=1)  # (V, d)
        similarity = tf.matmul(tf.gather(normalized, ids), normalized, transpose_b=True)
        excluded = tf.logical_or(
            tf.one_hot(ids, vocabulary_size, on_value=True, off_value=False),
            tf.range(vocabulary_size)[None, :] == UNKNOWN_ID,
        )  # (n, V): the word itself and UNK.
        similarity = tf.where(excluded, -np.inf, similarity)
        top = tf.math.top_k(similarity, k)
        return {
            "neighbours": tf.gather(self.words, top.indices),
            "similarities": top.values,
            "in_vocabulary": known,
        }

    def endpoints(self) -> dict[str, tuple[Callable, list[tf.TensorSpec]]]:
        """`{"embed": ..., "nearest": ...}` in the form `export.saved_model.export` takes."""
        words = tf.TensorSpec((None,), tf.string, name="words")
        return {
            "embed": (self.embed, [words]),
            "nearest": (self.nearest, [words, tf.TensorSpec((), tf.int32, name="k")]),
        }

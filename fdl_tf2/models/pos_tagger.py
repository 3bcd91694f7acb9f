"""The chapter-7 feed-forward n-gram part-of-speech tagger.

Book: chapter 7, "Implementing a Part-of-Speech Tagger" (seed lines 3341-3345 and 3596-3655;
repo `feedforward_pos.py`); spec ch06-07 §2.2.1, checklist §5.3 item 20, errata §6 items 17-18.
Compare the window approach of Collobert et al., 2011, "Natural Language Processing (Almost)
from Scratch" (a window of word vectors into a feed-forward tagger).

The book's network takes the concatenated vectors of the n-word left context, 3 x 300 = 900
inputs, through hidden layers of 512 and 256 units, each the book's `layer()`: Dense
(W ~ N(0, sqrt(1 / fan_in)), b = 0) -> batch norm (decay 0.9, eps 1e-3) -> sigmoid, to 44 tags.

Design: `build_pos_tagger` takes int32 word ids `(batch, n)`, not the 900 floats, and embeds
them with a `keras.layers.Embedding` whose rows are the dataset's cached vectors
(`data.word_vectors.VectorCache.matrix`), frozen by default (the book never trains them).
The vectors then live inside the model, so an exported model can later take raw strings
through one lookup table (the cache's `vocabulary.txt`, line = id, unknown words -> `UNK_ID`)
instead of requiring clients to hold 300-d vectors; and an input pipeline moves 3 ids per
example instead of 900 floats. The book's 900-input network is the sub-model "classifier"
(`build_tagger_head`), usable on its own with `(batch, n * embedding_size)` vectors.

Output: linear logits by default. The book's output scope is also `layer()`, so its "logits"
are sigmoid(BN(x W + b)) in (0, 1), fed to softmax cross-entropy (errata item 17);
`faithful_sigmoid_logits=True` reproduces that (with `SigmoidLogits`, which Keras' losses
cannot silently bypass; see its docstring). Softmax over values in (0, 1) cannot be
confident: the cross-entropy is at least `sigmoid_logits_loss_floor(K)` = -ln(e / (e + K - 1)),
2.8225 for K = 44, which is why the book's costs (3.149, 2.972) sit just above it. Both heads
are trained with the same `from_logits=True` cross-entropy.

Trainable parameters for n = 3, embedding 300, 44 tags: 605,572 with the book's output layer
(`faithful_sigmoid_logits=True`, whose batch norm adds 88), 605,484 with the default linear
head; the frozen embedding adds V x 300 non-trainable weights (plus the batch-norm moving
moments).

Word-shape features (not the book's; Collobert et al., 2011, §3.5): with `num_suffixes > 0`
the model takes int32 `(batch, n, 3)` (word, shape and suffix ids per window position,
`data.word_shape`), embeds the shape class (8-d) and the suffix (32-d) with trainable
embeddings, and concatenates them to each position's word vector: 340 values per position,
1,020 inputs to the same 512-256 network for n = 3 (666,924 trainable parameters in the
linear head, plus 6 x 8 + S x 32 for S suffixes). Whether the window is the book's left
context or centred (`conll2000.WINDOWS`) is a matter of the data; the model is the same.
"""

from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np

from fdl_tf2.data import conll2000, word_shape
from fdl_tf2.layers import sigmoid_logits
from fdl_tf2.layers.batch_norm import BookBatchNorm
from fdl_tf2.models.autoencoder import book_normal
from fdl_tf2.models.feedforward import layer_seed

N_GRAM = conll2000.N_GRAM
EMBEDDING_SIZE = 300
HIDDEN_UNITS = (512, 256)
NUM_TAGS = conll2000.NUM_TAGS
BATCH_NORM_KINDS = ("keras", "book")
"""`keras`: `keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)`, as the chapter-6
autoencoder; `book`: the from-scratch `BookBatchNorm` (zero-debiased moving moments)."""


def sigmoid_logits_loss_floor(num_tags: int = NUM_TAGS) -> float:
    """The least softmax cross-entropy over "logits" in (0, 1): -ln(e / (e + K - 1)).

    Reached in the limit of a sigmoid output of 1 for the true tag and 0 for the K - 1 others.
    """
    if num_tags < 2:
        raise ValueError(f"num_tags must be >= 2, got {num_tags}.")
    return sigmoid_logits.sigmoid_logits_loss_floor(num_tags)


def _normalization(kind: str, name: str, dtype=None) -> keras.layers.Layer:
    if kind not in BATCH_NORM_KINDS:
        raise ValueError(f"Unknown batch_norm {kind!r}; expected one of {BATCH_NORM_KINDS}.")
    if kind == "book":
        return BookBatchNorm(decay=0.9, epsilon=1e-3, dtype=dtype, name=f"{name}_bn")
    return keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-3, dtype=dtype, name=f"{name}_bn"
    )


def _book_layer(x, units: int, name: str, *, batch_norm: str, seed: int | None, output=False):
    """The book's `layer()`: Dense -> batch norm (0.9, 1e-3) -> sigmoid, scoped as `name`."""
    dtype = "float32" if output else None  # The logits stay float32 under mixed precision.
    x = keras.layers.Dense(
        units,
        kernel_initializer=book_normal(seed),
        bias_initializer="zeros",
        dtype=dtype,
        name=name,
    )(x)
    x = _normalization(batch_norm, name, dtype)(x)
    if output:
        return sigmoid_logits.SigmoidLogits(dtype=dtype, name=f"{name}_sigmoid")(x)
    return keras.layers.Activation("sigmoid", name=f"{name}_sigmoid")(x)


def build_tagger_head(
    input_size: int = N_GRAM * EMBEDDING_SIZE,
    *,
    num_tags: int = NUM_TAGS,
    hidden_units: tuple[int, ...] = HIDDEN_UNITS,
    faithful_sigmoid_logits: bool = False,
    batch_norm: str = "keras",
    seed: int | None = None,
) -> keras.Model:
    """The book's network: `(batch, n * embedding_size)` window vectors -> `(batch, num_tags)`.

    Args:
      input_size: n * embedding_size (the book's 900).
      num_tags: output classes (44 for CoNLL-2000).
      hidden_units: the book's (512, 256), each Dense + batch norm + sigmoid.
      faithful_sigmoid_logits: end in the book's Dense + batch norm + sigmoid (values in
        (0, 1), used as logits); False ends in a linear Dense (logits).
      batch_norm: "keras" or "book" (see `BATCH_NORM_KINDS`).
      seed: seed of the weight initialisers.

    Returns:
      A model named "classifier" whose float32 outputs go to softmax cross-entropy.
    """
    inputs = keras.Input((input_size,), name="window_vectors")
    x = inputs
    for index, units in enumerate(hidden_units, start=1):
        x = _book_layer(
            x, units, f"hidden_{index}", batch_norm=batch_norm, seed=layer_seed(seed, index)
        )
    output_seed = layer_seed(seed, len(hidden_units) + 1)
    if faithful_sigmoid_logits:
        logits = _book_layer(
            x, num_tags, "output", batch_norm=batch_norm, seed=output_seed, output=True
        )
    else:
        logits = keras.layers.Dense(
            num_tags,
            kernel_initializer=book_normal(output_seed),
            bias_initializer="zeros",
            dtype="float32",  # Logits stay float32 under mixed precision.
            name="output",
        )(x)
    return keras.Model(inputs, logits, name="classifier")


SHAPE_EMBEDDING_SIZE = 8
SUFFIX_EMBEDDING_SIZE = 32
FEATURE_COLUMNS = 3
"""Columns of a feature window's ids: word id, shape id, suffix id (`word_shape`)."""


def build_pos_tagger(
    embedding_matrix: np.ndarray | None = None,
    *,
    vocabulary_size: int | None = None,
    embedding_size: int = EMBEDDING_SIZE,
    n_gram: int = N_GRAM,
    num_tags: int = NUM_TAGS,
    hidden_units: tuple[int, ...] = HIDDEN_UNITS,
    faithful_sigmoid_logits: bool = False,
    trainable_embeddings: bool = False,
    batch_norm: str = "keras",
    num_suffixes: int = 0,
    num_shapes: int = word_shape.NUM_SHAPES,
    shape_embedding_size: int = SHAPE_EMBEDDING_SIZE,
    suffix_embedding_size: int = SUFFIX_EMBEDDING_SIZE,
    seed: int | None = None,
) -> keras.Model:
    """The n-gram tagger: int32 ids `(batch, n_gram)` -> tag logits `(batch, num_tags)`.

    With word-shape features (`num_suffixes > 0`) the input is int32 `(batch, n_gram, 3)`:
    per window position the word id, the shape id (< `num_shapes`) and the suffix id
    (< `num_suffixes`) of `data.word_shape`; each feature has its own trainable embedding
    ("shape_embedding", "suffix_embedding"), concatenated to the word vector of its position.

    Args:
      embedding_matrix: float `(vocabulary_size, embedding_size)` word vectors, row = word id
        (`VectorCache.matrix`: row 0 PAD = 0, row 1 UNK). None leaves the embedding randomly
        initialised (for tests, or before loading weights), sized by `vocabulary_size` and
        `embedding_size`.
      n_gram: the window length n (the book's CLI argument, 3).
      trainable_embeddings: fine-tune the vectors (the book keeps them fixed).
      num_suffixes: the size of the suffix vocabulary (`SuffixVocabulary`); 0: no features
        (the book's model, word ids only).
      num_shapes, shape_embedding_size, suffix_embedding_size: the feature embeddings.
      Others: as `build_tagger_head`.

    The layers are "embedding" (word ids -> `(batch, n, embedding_size)`), with features
    "features" (the concatenation, `(batch, n, embedding_size + shape_embedding_size +
    suffix_embedding_size)`), "window" (the reshape to `(batch, n * width)`, the book's
    `flatten()` of the window) and "classifier".
    """
    if embedding_matrix is not None:
        embedding_matrix = np.asarray(embedding_matrix, np.float32)
        if embedding_matrix.ndim != 2:
            raise ValueError(f"embedding_matrix must be 2-D, got shape {embedding_matrix.shape}.")
        vocabulary_size, embedding_size = embedding_matrix.shape
    if not vocabulary_size:
        raise ValueError("Give embedding_matrix or vocabulary_size.")
    if n_gram < 1:
        raise ValueError(f"n_gram must be >= 1, got {n_gram}.")
    if num_suffixes < 0:
        raise ValueError(f"num_suffixes must be >= 0, got {num_suffixes}.")
    embedding = keras.layers.Embedding(
        vocabulary_size, embedding_size, trainable=trainable_embeddings, name="embedding"
    )
    if num_suffixes:
        ids = keras.Input((n_gram, FEATURE_COLUMNS), dtype="int32", name="window_ids")
        vectors = keras.layers.Concatenate(name="features")(
            [
                embedding(ids[:, :, 0]),  # (batch, n_gram, embedding_size)
                keras.layers.Embedding(num_shapes, shape_embedding_size, name="shape_embedding")(
                    ids[:, :, 1]
                ),  # (batch, n_gram, shape_embedding_size)
                keras.layers.Embedding(
                    num_suffixes, suffix_embedding_size, name="suffix_embedding"
                )(ids[:, :, 2]),  # (batch, n_gram, suffix_embedding_size)
            ]
        )
        width = embedding_size + shape_embedding_size + suffix_embedding_size
    else:
        ids = keras.Input((n_gram,), dtype="int32", name="word_ids")
        vectors = embedding(ids)  # (batch, n_gram, embedding_size)
        width = embedding_size
    window = keras.layers.Reshape((n_gram * width,), name="window")(vectors)
    head = build_tagger_head(
        n_gram * width,
        num_tags=num_tags,
        hidden_units=hidden_units,
        faithful_sigmoid_logits=faithful_sigmoid_logits,
        batch_norm=batch_norm,
        seed=seed,
    )
    name = f"pos_tagger_{n_gram}gram" + ("_features" if num_suffixes else "")
    model = keras.Model(ids, head(window), name=name)
    if embedding_matrix is not None:
        # Assigned, not passed as a Constant initializer: that would copy the whole matrix
        # into the layer's config (and into every saved model's JSON).
        embedding.embeddings.assign(embedding_matrix)
    return model


def has_features(model: keras.Model) -> bool:
    """True for a `build_pos_tagger` model with word-shape features (input `(batch, n, 3)`)."""
    return len(model.input_shape) == 3


# --- Tagging a sentence (the book's per-epoch demo) ---------------------------------------


def sentence_windows(
    sentence: Sequence[str],
    word_lookup: Mapping[str, int] | Callable[[str], int],
    n_gram: int = N_GRAM,
    *,
    prefix: Sequence[str] = (),
    window: str = "left",
    suffixes: word_shape.SuffixVocabulary | None = None,
) -> np.ndarray:
    """The windows of `sentence`'s words: int32 `(len(sentence), n_gram)`, or with `suffixes`
    int32 `(len(sentence), n_gram, 3)` (word, shape and suffix ids per position).

    Window i is the ids of (w[i-n+1], ..., w[i]) ("left", the book's) or of (w[i-h], ...,
    w[i+h]) with h = n // 2 ("centered"). The words before the sentence come from the end of
    `prefix` (the book's left context) and, where that runs out, are PAD; the words past its
    end are PAD. A word is looked up as written, then as `conll2000.normalize_word` spells it
    (the dataset's processed words are normalised), else it is `UNK_ID`; its shape and suffix
    are those of the spelling found (the normalised one when neither is).

    Args:
      word_lookup: word -> id (a dict such as `VectorCache.lookup`, or a function, whose
        words are then used as written).
    """
    target = conll2000.target_position(n_gram, window)
    if callable(word_lookup):
        lookup, spelling = word_lookup, str
    else:

        def spelling(word):
            return word if word in word_lookup else conll2000.normalize_word(word)

        def lookup(word):
            return word_lookup.get(spelling(word), conll2000.UNK_ID)

    columns = () if suffixes is None else (FEATURE_COLUMNS,)
    if not sentence:
        return np.zeros((0, n_gram, *columns), np.int32)
    context = list(prefix)[len(prefix) - target :] if target else []
    words = [*context, *sentence]
    rows = np.asarray([lookup(word) for word in words], np.int32)  # (words,)
    if suffixes is not None:
        features = word_shape.shape_and_suffix_ids([spelling(w) for w in words], suffixes)
        rows = np.column_stack([rows, features])  # (words, 3)
    before = np.full((target - len(context), *columns), conll2000.PAD_ID, np.int32)
    after = np.full((n_gram - 1 - target, *columns), conll2000.PAD_ID, np.int32)
    stream = np.concatenate([before, rows, after])
    windows = np.lib.stride_tricks.sliding_window_view(stream, n_gram, axis=0)
    return np.ascontiguousarray(np.moveaxis(windows, -1, 1))


def tag_sentence(
    model: keras.Model,
    sentence: Sequence[str],
    word_lookup: Mapping[str, int] | Callable[[str], int],
    tags: Sequence[str],
    *,
    prefix: Sequence[str] = (),
    window: str = "left",
    suffixes: word_shape.SuffixVocabulary | None = None,
) -> list[tuple[str, str]]:
    """Tags the words of `sentence` given its left context `prefix` (the book's demo).

    Args:
      model: a `build_pos_tagger` model (its input length is the n-gram order).
      sentence: the words, e.g. `conll2000.DEMO_SENTENCE`.
      word_lookup: word -> id, as in `sentence_windows`.
      tags: id -> tag (`TaggedCorpus.tags`).
      prefix: the preceding words, e.g. `conll2000.DEMO_PREFIX` (only the last n-1, or the
        last n // 2 for a centred window, are used).
      window, suffixes: the model's window kind and, for a feature model, its suffix
        vocabulary (as `sentence_windows`).

    Returns:
      `[(word, tag), ...]`, one per word, by arg-max over the tag outputs (inference mode).
    """
    if has_features(model) != (suffixes is not None):
        raise ValueError("Give suffixes exactly for a model with word-shape features.")
    n_gram = int(model.input_shape[1])
    windows = sentence_windows(
        sentence, word_lookup, n_gram, prefix=prefix, window=window, suffixes=suffixes
    )
    logits = model.predict_on_batch(windows)
    return [
        (word, tags[int(index)])
        for word, index in zip(sentence, np.argmax(logits, axis=-1), strict=True)
    ]


def format_tagged(tagged: Sequence[tuple[str, str]]) -> str:
    """The book's demo print-out: one `word\\t\\ttag` line per word."""
    return "\n".join(f"{word}\t\t{tag}" for word, tag in tagged)

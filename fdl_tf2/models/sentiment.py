"""The chapter-7 sentiment LSTM: embedding -> LSTM with dropout -> last or max readout -> 2 classes.

Book: chapter 7, "Implementing a Sentiment Analysis Model" (seed lines 4079-4137, repo
`imdb_lstm.py`); spec ch06-07 §2.2.7, checklist §5.3 item 28, errata §6 items 17 and 26.
LSTM: Hochreiter & Schmidhuber, 1997.

`build_sentiment_lstm` takes int32 token ids `(batch, max_length)`, 0 = padding (see
`fdl_tf2.data.imdb`), and returns float32 `(batch, 2)`:

- `embedding`: Embedding(30000, 512), initialised N(0, sqrt(1 / 30000)) as the book's
  `embedding_layer` (lines 4079-4090), with `mask_zero=True`. The book ran `dynamic_rnn` without
  `sequence_length`, so its LSTM read every pad token; here the mask makes the LSTM skip them.
- `lstm`: LSTM(512), the book's `BasicLSTMCell(512)` (Keras `unit_forget_bias=True` starts the
  forget-gate bias at 1, the equivalent of TF1's `forget_bias=1.0`), inside a
  `DropoutWrapper(input_keep_prob=0.5, output_keep_prob=0.5)`. Input dropout is Keras
  `dropout=0.5`, which reuses one mask for every time step of a sequence; TF1 resampled it per
  step, which `per_step_input_dropout=True` reproduces with a Dropout layer on the embeddings.
  Output dropout is a Dropout(0.5) layer on the LSTM outputs.
- The readout, `readout="last"` (the book, lines 4103-4118) or `"max"` (the repo's
  `tf.reduce_max(lstm_outputs, axis=1)`):
  - "last" is the LSTM output after the last REAL token. Keras carries the state unchanged
    through masked steps, so `return_sequences=False` returns exactly that, for post-padding
    (pads after the review are skipped) and pre-padding (pads before it leave the zero initial
    state untouched). Tested against the LSTM run on the unpadded sequence alone.
  - "max" is the maximum over the real time steps of the (dropped-out) outputs, padded steps
    excluded (`MaskedMaxOverTime`).
  A review with no real token (an empty string) reads out the zero vector in both, so its
  outputs are the output layer's bias terms: defined, not NaN.
- `output`: Dense(2) logits by default. `faithful_sigmoid_logits=True` is the book's `layer()`
  (lines 4124-4128): Dense(2) -> batch norm -> sigmoid, whose (0, 1) outputs the book feeds to
  the softmax cross-entropy as if they were logits, so the loss cannot fall below
  ln(1 + e^-1) = 0.3133 (`FAITHFUL_LOSS_FLOOR`). The sigmoid is `SigmoidLogits`
  (`fdl_tf2.layers.sigmoid_logits`), not `Activation("sigmoid")`, whose output Keras'
  `from_logits=True` losses would silently replace by the pre-sigmoid tensor. The Dense
  weights are N(0, sqrt(1 / fan_in)).

Parameters: 15,360,000 (embedding) + 2,099,200 (LSTM: 4 * 512 * (512 + 512 + 1)) + 1,026
(output) = 17,460,226 with the default head; the book's head adds the batch norm's gamma and
beta: 17,460,230 trainable, plus 4 non-trainable moving statistics (17,460,234 in
`count_params()`).

Dropout is active only with `training=True`; the book left it on during evaluation (its
`keep_prob` ignored `phase_train`).

cuDNN and XLA (Keras 3.15, TF backend): with `use_cudnn="auto"` on a GPU, the LSTM runs the
cuDNN kernel and passes it the mask as sequence lengths, which is right only for post-padding.
The kernel asserts, inside the graph, that the mask is right-padded and that no row is fully
masked: a pre-padded batch or an empty review then fails at run time under `tf.function` (in
eager mode Keras falls back to the generic kernel). The cuDNN op also cannot be XLA-compiled
(Keras marks the layer `supports_jit = False`). So: `lstm_use_cudnn(padding, jit_compile)`
gives "auto" only for post-padding without XLA, and exports should trace `serving_copy(model)`
(the same weights with `use_cudnn=False`), so empty strings are safe on any device. Keras'
`LSTM.get_config()` does not record `use_cudnn`, so a reloaded `.keras` model is back to "auto".
On CPU the generic kernel runs with and without `jit_compile`.

Pretrained embeddings (`PRETRAINED_EMBEDDINGS`): "none" keeps the random initialisation above;
"word2vec_train" starts the embedding from word vectors trained (by the experiment, with gensim)
on the training reviews only. `pretrained_embedding_matrix` writes the vector of the word with
id i into row i, for every vocabulary word that has one; the pad (0) and UNK (1) rows, and any
word without a vector, keep their random rows. `set_embedding_matrix` loads the matrix into a
built model and can freeze the layer.
"""

import math
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from fdl_tf2.layers import sigmoid_logits
from fdl_tf2.models.autoencoder import book_normal
from fdl_tf2.models.feedforward import layer_seed

VOCABULARY_SIZE = 30_000
EMBEDDING_SIZE = 512
UNITS = 512
MAX_LENGTH = 500
NUM_CLASSES = 2
READOUTS = ("last", "max")
FAITHFUL_LOSS_FLOOR = sigmoid_logits.sigmoid_logits_loss_floor(NUM_CLASSES)
"""Smallest softmax cross-entropy of two outputs in (0, 1): -ln(e / (e + 1)) = 0.3133."""
READOUT_LAYER = "readout"
"""Name of the layer whose output is the readout vector `(batch, units)` (after dropout)."""
EMBEDDING_LAYER = "embedding"
PRETRAINED_EMBEDDINGS = ("none", "word2vec_train")
"""Embedding initialisations: random (the book's) or word2vec vectors of the training reviews."""
RANDOM_ROWS = (0, 1)
"""Token ids whose embedding rows always keep their random initialisation: pad and UNK."""


def lstm_use_cudnn(padding: str, jit_compile: bool) -> str | bool:
    """The LSTM's `use_cudnn` for a data layout: "auto" for post-padding without XLA, else False.

    See the module docstring: cuDNN takes only right-padded masks and does not compile with XLA.
    """
    if padding not in ("post", "pre"):
        raise ValueError(f"padding must be 'post' or 'pre', got {padding!r}.")
    return "auto" if padding == "post" and not jit_compile else False


@keras.saving.register_keras_serializable(package="fdl_tf2")
class MaskedMaxOverTime(keras.layers.Layer):
    """Max over the real time steps: `(batch, time, features)` + mask `(batch, time)` ->
    `(batch, features)`.

        pooled[b, f] = max over t with mask[b, t] of x[b, t, f], or 0 when no step is real.

    Without a mask it is the plain max over time (the repo's `reduce_max(outputs, axis=1)`).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        real = ops.expand_dims(ops.cast(mask, "bool"), -1)  # (batch, time, 1)
        lowest = ops.full_like(inputs, float("-inf"))
        pooled = ops.max(ops.where(real, inputs, lowest), axis=1)  # (batch, features)
        return ops.where(ops.any(real, axis=1), pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def build_sentiment_lstm(
    vocabulary_size: int = VOCABULARY_SIZE,
    embedding_size: int = EMBEDDING_SIZE,
    units: int = UNITS,
    dropout: float = 0.5,
    readout: str = "last",
    faithful_sigmoid_logits: bool = False,
    max_length: int | None = MAX_LENGTH,
    *,
    per_step_input_dropout: bool = False,
    use_cudnn: str | bool = "auto",
    seed: int | None = None,
    name: str = "sentiment_lstm",
) -> keras.Model:
    """The book's IMDB sentiment LSTM (see the module docstring for every choice).

    Args:
      vocabulary_size: embedding rows; token ids must lie in `[0, vocabulary_size)`, 0 = pad.
      embedding_size, units: embedding width and LSTM units (512 and 512 in the book).
      dropout: drop rate of the LSTM's inputs and outputs, 1 - the book's keep_prob 0.5.
      readout: "last" (the book: output after the last real token) or "max" (the repo:
        max over the real time steps).
      faithful_sigmoid_logits: the book's Dense + batch norm + sigmoid head instead of logits.
      max_length: sequence length of the input; None accepts any length.
      per_step_input_dropout: TF1-style input dropout, a fresh mask at every time step.
      use_cudnn: the Keras LSTM's switch; see `lstm_use_cudnn`.
      seed: initialiser seed (None: unseeded).
      name: model name.

    Returns:
      A model from int32 token ids `(batch, max_length)` to float32 `(batch, 2)`: logits, or
      with `faithful_sigmoid_logits` the sigmoid outputs the book treats as logits.
    """
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
    token_ids = keras.Input(shape=(max_length,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(
        vocabulary_size,
        embedding_size,
        embeddings_initializer=keras.initializers.RandomNormal(
            stddev=math.sqrt(1.0 / vocabulary_size), seed=layer_seed(seed, 0)
        ),
        mask_zero=True,
        name=EMBEDDING_LAYER,
    )(token_ids)  # (batch, time, embedding_size), mask (batch, time)
    if per_step_input_dropout and dropout:
        x = keras.layers.Dropout(dropout, seed=layer_seed(seed, 1), name="input_dropout")(x)
    lstm = keras.layers.LSTM(
        units,
        dropout=0.0 if per_step_input_dropout else dropout,
        return_sequences=readout == "max",
        use_cudnn=use_cudnn,
        seed=layer_seed(seed, 2),
        name="lstm",
    )
    x = lstm(x)  # "last": (batch, units); "max": (batch, time, units) with the mask.
    # The book's output_keep_prob drops every step's output; for "last" only one step is read.
    x = keras.layers.Dropout(dropout, seed=layer_seed(seed, 3), name="lstm_dropout")(x)
    if readout == "max":
        x = MaskedMaxOverTime(name=READOUT_LAYER)(x)
    else:
        x = keras.layers.Identity(name=READOUT_LAYER)(x)
    outputs = keras.layers.Dense(
        NUM_CLASSES,
        kernel_initializer=book_normal(layer_seed(seed, 4)),
        bias_initializer="zeros",
        dtype="float32",  # Logits stay float32 under mixed precision.
        name="output",
    )(x)
    if faithful_sigmoid_logits:
        outputs = keras.layers.BatchNormalization(
            momentum=0.9, epsilon=1e-3, dtype="float32", name="output_bn"
        )(outputs)
        outputs = sigmoid_logits.SigmoidLogits(dtype="float32", name="output_sigmoid")(outputs)
    return keras.Model(token_ids, outputs, name=name)


def readout_model(model: keras.Model) -> keras.Model:
    """`token ids -> readout vector (batch, units)` of a `build_sentiment_lstm` model."""
    return keras.Model(model.input, model.get_layer(READOUT_LAYER).output)


def serving_copy(model: keras.Model) -> keras.Model:
    """The same model and weights with `use_cudnn=False` on every LSTM, for exports.

    Its graph has no cuDNN kernel, so pre-padded input and empty reviews (fully masked rows)
    are safe on every device, and it XLA-compiles.
    """

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.LSTM):
            config["use_cudnn"] = False
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def check_pretrained_embeddings(name: str) -> str:
    """Returns `name` if it is one of `PRETRAINED_EMBEDDINGS`.

    Raises:
      ValueError: any other value (the message lists the valid ones).
    """
    if name not in PRETRAINED_EMBEDDINGS:
        raise ValueError(
            f"pretrained_embeddings must be one of {PRETRAINED_EMBEDDINGS}, got {name!r}."
        )
    return name


def pretrained_embedding_matrix(
    initial: np.ndarray, vocabulary: Sequence[str], vectors
) -> tuple[np.ndarray, np.ndarray]:
    """The embedding matrix with the rows of `vocabulary`'s words taken from `vectors`.

        matrix[i] = vectors[vocabulary[i]] if i not in RANDOM_ROWS and vocabulary[i] in vectors
                    else initial[i]

    Args:
      initial: float `(vocabulary_size, embedding_size)`, e.g. the layer's random weights.
      vocabulary: the token of each id, `['', '[UNK]', words...]` (`ReviewEncoder.vocabulary`).
      vectors: word -> vector of `embedding_size`, e.g. gensim `KeyedVectors` (`word in
        vectors`, `vectors[word]`).

    Returns:
      float32 `(vocabulary_size, embedding_size)` matrix and bool `(vocabulary_size,)`: the
      rows taken from `vectors`.

    Raises:
      ValueError: the vocabulary does not match the matrix's rows, or a vector's size its
        columns.
    """
    matrix = np.array(initial, dtype=np.float32, copy=True)
    if matrix.ndim != 2 or matrix.shape[0] != len(vocabulary):
        raise ValueError(
            f"Need a (vocabulary_size, embedding_size) matrix for {len(vocabulary)} words, "
            f"got shape {matrix.shape}."
        )
    found = np.zeros(len(vocabulary), dtype=bool)
    for token_id, word in enumerate(vocabulary):
        if token_id in RANDOM_ROWS or word not in vectors:
            continue
        vector = np.asarray(vectors[word], dtype=np.float32)
        if vector.shape != (matrix.shape[1],):
            raise ValueError(
                f"The vector of {word!r} has shape {vector.shape}; the embedding needs "
                f"({matrix.shape[1]},)."
            )
        matrix[token_id] = vector
        found[token_id] = True
    return matrix, found


def set_embedding_matrix(model: keras.Model, matrix: np.ndarray, *, trainable: bool = True) -> None:
    """Loads `matrix` `(vocabulary_size, embedding_size)` into the model's embedding layer.

    `trainable=False` freezes the layer (set before the optimiser is built, so it is never
    updated); the other layers stay as they are.
    """
    layer = model.get_layer(EMBEDDING_LAYER)
    layer.set_weights([np.asarray(matrix, dtype=layer.embeddings.dtype)])
    layer.trainable = trainable

"""The chapter-7 translation model: a GRU (or LSTM) encoder-decoder with attention.

Book: chapter 7, "Neural Machine Translation" (seed lines 4139-4210 for seq2seq and attention,
4777-5287 for the repository's `seq2seq_model.py` and `seq2seq.py`); spec ch06-07 §2.2.8-2.2.10,
checklist §5.3 items 31-32, errata §6 items 28-29, 33-35 and 39.
References: Bahdanau et al. (2015), "Neural Machine Translation by Jointly Learning to Align and
Translate" (the book's ref. 84); Vinyals et al. (2015), "Grammar as a Foreign Language" (the
repository's attention); Jean et al. (2015), "On Using Very Large Target Vocabulary" (sampled
softmax).

    model = Seq2SeqAttention(source_vocabulary_size, target_vocabulary_size, units=256)
    outputs = model.teacher_forced(encoder_inputs, decoder_inputs)  # training and perplexity
    loss_sum, count = sequence_loss(model, outputs.outputs, targets, weights, num_sampled=512)

Inputs are int32 token ids, batch-major, 0 = PAD (`fdl_tf2.data.translation`):
`encoder_inputs` `(batch, source_time)` (the book reverses the source, so pads come first), and
`decoder_inputs` `(batch, target_time)`, GO followed by the target.

The network, as the repository builds it (`embedding_attention_seq2seq`, `attention_decoder`):

- **Encoder.** `source_embedding` `(Vs, E)` -> `num_layers` stacked GRU(units) (distinct layers;
  the repository's `MultiRNNCell([cell] * n)` shares one object, errata 33). Padding is masked:
  a masked step carries the state unchanged, so with the book's pads-first layout the final
  state is exactly that of the unpadded sentence, and the encoder outputs at pad positions are
  never attended. The repository read and attended the pads; masking makes a sentence's
  translation independent of the bucket it was padded to. The attention "memory" is the top
  layer's outputs `(batch, source_time, units)`.
- **Decoder**, started from the encoder's final states of all layers, with its own
  `target_embedding` `(Vt, E)` and its own GRU stack. At step t, with `c_{t-1}` the previous
  context (zeros at t = 0, the repository's `initial_state_attention=False`):
  1. input feeding: `x_t = input_projection([emb(y_{t-1}); c_{t-1}])` `(batch, E)`;
  2. the cell stack: `h_t = cells(x_t, h_{t-1})`;
  3. attention on the NEW full state: `q = concat(all layers' states)` `(batch, L * units)`,
     `s_j = v^T tanh(W1 h_j + W2 q)`, `a = softmax(s)` over the real source positions,
     `c_t = sum_j a_j h_j` (`attention="additive"`, the repository's). `W1 h_j` is computed
     once per sentence (the repository's 1x1 convolution);
  4. `o_t = output_dense([top output; c_t])` `(batch, units)`, linear;
  5. logits `o_t W^T + b` over the target vocabulary (`output_projection`, `W` `(Vt, units)`),
     computed only where needed: the training loss uses a sampled softmax on `o_t`.
  `attention="dot_previous"` is the book TEXT's recipe (lines 4200-4206): the score is the dot
  product of each encoder output with the top decoder state of step t-1, before the cell step,
  and that context feeds both the step's input and its output.
- Cells are `GRUCell(reset_after=False)`, TF1's GRU parameterisation (`cell="gru"`, the
  repository's default despite the LSTM wording of lines 4853 and 5307, errata 34), or
  `LSTMCell(unit_forget_bias=True)` (`cell="lstm"`, whose state is `[h, c]` per layer; both enter
  the attention query, as TF1 flattened the whole state).

Parameters, book size (`units=1024, num_layers=3, V=40,000`, embedding size = units as the
repository's `EmbeddingWrapper(embedding_size=size)`): 2 x 40,960,000 embeddings + 41,000,000
output projection (with its bias) + 6 x 6,294,528 GRU layers + 8,392,704 attention and
projections = 169,079,872 (`book_parameter_count` gives the formula; tested).

Losses (`sequence_loss`): the book's weighted `sequence_loss` (per sentence
`sum_t w_t CE_t / (sum_t w_t + 1e-12)`, then the batch mean; `average="sequence"`) or the mean
over target tokens (`average="token"`). CE_t is the sampled softmax of
`tf.nn.sampled_softmax_loss` (log-uniform sampler, which assumes frequency-ordered ids, as the
vocabularies are; drawn statelessly, so a resumed run draws the same negatives) when
`0 < num_sampled < Vt`, always in float32; otherwise, and for
evaluation, the full softmax. Dev perplexity is teacher-forced, as the book's.
"""

from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

CELLS = ("gru", "lstm")
ATTENTIONS = ("additive", "dot_previous")
AVERAGES = ("sequence", "token")
PAD_ID = 0


class DecoderState(NamedTuple):
    """What the decoder carries from step to step (one row per sentence or hypothesis).

    Attributes:
      cell_states: per layer, `(batch, units)` for a GRU or `[h, c]` for an LSTM.
      context: `(batch, units)`, the previous attention context `c_{t-1}`.
    """

    cell_states: tuple
    context: tf.Tensor


class Memory(NamedTuple):
    """The encoded source, fixed during decoding.

    Attributes:
      outputs: `(batch, source_time, units)`, the top encoder layer's outputs `h_j`.
      keys: `(batch, source_time, units)`, `W1 h_j` (additive attention; the outputs otherwise).
      mask: bool `(batch, source_time)`, True at real (non-PAD) source tokens.
    """

    outputs: tf.Tensor
    keys: tf.Tensor
    mask: tf.Tensor


class TeacherForced(NamedTuple):
    """`Seq2SeqAttention.teacher_forced`'s result.

    Attributes:
      outputs: `(batch, target_time, units)`, the `o_t` before the output projection.
      attention: `(batch, target_time, source_time)`, each step's attention weights.
    """

    outputs: tf.Tensor
    attention: tf.Tensor


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"Unknown {name} {value!r}; expected one of {allowed}.")


def _cell(kind: str, units: int, name: str) -> keras.layers.Layer:
    if kind == "gru":
        return keras.layers.GRUCell(units, reset_after=False, name=name)
    return keras.layers.LSTMCell(units, unit_forget_bias=True, name=name)


def _flat_states(cell_states) -> list[tf.Tensor]:
    return [t for state in cell_states for t in tf.nest.flatten(state)]


class Seq2SeqAttention(keras.Model):
    """The encoder-decoder with attention of the module docstring.

    Args:
      source_vocabulary_size, target_vocabulary_size: `Vs`, `Vt` (special ids 0-3 included).
      units: the size of every GRU/LSTM layer, the attention and `o_t` (the book's `size`).
      num_layers: layers of the encoder and (separately) of the decoder stack.
      embedding_size: 0 means `units` (the repository's `EmbeddingWrapper`).
      cell: "gru" or "lstm".
      attention: "additive" (the repository) or "dot_previous" (the book's text).
    """

    def __init__(
        self,
        source_vocabulary_size: int,
        target_vocabulary_size: int,
        *,
        units: int = 1024,
        num_layers: int = 3,
        embedding_size: int = 0,
        cell: str = "gru",
        attention: str = "additive",
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check("cell", cell, CELLS)
        _check("attention", attention, ATTENTIONS)
        if units < 1 or num_layers < 1:
            raise ValueError(f"units and num_layers must be >= 1; got {units}, {num_layers}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        self.source_vocabulary_size = source_vocabulary_size
        self.target_vocabulary_size = target_vocabulary_size
        self.units, self.num_layers, self.cell_kind = units, num_layers, cell
        self.attention_kind, self.dropout_rate = attention, dropout
        self.embedding_size = embedding_size or units
        uniform = keras.initializers.RandomUniform(-(3**0.5), 3**0.5, seed=seed)  # TF1's
        self.source_embedding = keras.layers.Embedding(
            source_vocabulary_size, self.embedding_size, embeddings_initializer=uniform,
            name="source_embedding",
        )  # fmt: skip
        self.target_embedding = keras.layers.Embedding(
            target_vocabulary_size, self.embedding_size, embeddings_initializer=uniform,
            name="target_embedding",
        )  # fmt: skip
        recurrent = keras.layers.GRU if cell == "gru" else keras.layers.LSTM
        extra = {"reset_after": False} if cell == "gru" else {"unit_forget_bias": True}
        self.encoder_layers = [
            recurrent(units, return_sequences=True, return_state=True, name=f"encoder_{i}", **extra)
            for i in range(num_layers)
        ]
        self.decoder_cells = [_cell(cell, units, f"decoder_{i}") for i in range(num_layers)]
        self.input_projection = keras.layers.Dense(self.embedding_size, name="input_projection")
        if attention == "additive":
            self.attention_keys = keras.layers.Dense(units, use_bias=False, name="attention_w1")
            self.attention_query = keras.layers.Dense(units, name="attention_w2")
        self.attention_v = None  # v of the additive score, created by `_build_all`.
        self.output_dense = keras.layers.Dense(units, name="attention_output_projection")
        self.output_projection = keras.layers.Dense(
            target_vocabulary_size, name="output_projection"
        )
        self.dropout = keras.layers.Dropout(dropout, seed=seed)
        self._build_all()

    # --- Building ---------------------------------------------------------------------------

    def _build_all(self) -> None:
        """Creates every weight, so the model can be checkpointed and counted before a call."""
        units, emb = self.units, self.embedding_size
        self.source_embedding.build((None, None))
        self.target_embedding.build((None, None))
        for i, layer in enumerate(self.encoder_layers):
            layer.build((None, None, emb if i == 0 else units))
        for i, cell in enumerate(self.decoder_cells):
            cell.build((None, emb if i == 0 else units))
        self.input_projection.build((None, emb + units))
        if self.attention_kind == "additive":
            self.attention_keys.build((None, None, units))
            self.attention_query.build((None, len(self._state_sizes()) * units))
            self.attention_v = self.add_weight(
                shape=(units,), initializer="glorot_uniform", name="attention_v"
            )
        self.output_dense.build((None, 2 * units))
        self.output_projection.build((None, units))
        self.built = True

    def _state_sizes(self) -> list[int]:
        per_layer = 1 if self.cell_kind == "gru" else 2
        return [self.units] * (per_layer * self.num_layers)

    @property
    def projection_weights(self) -> tuple[tf.Variable, tf.Variable]:
        """`(W (units, Vt), b (Vt,))` of the output projection (logits = o W + b)."""
        return self.output_projection.kernel, self.output_projection.bias

    # --- Encoder ----------------------------------------------------------------------------

    def encode(self, encoder_inputs: tf.Tensor, training: bool = False) -> tuple[Memory, tuple]:
        """Encodes the source.

        Args:
          encoder_inputs: int32 `(batch, source_time)`, 0 = PAD.

        Returns:
          `(memory, cell_states)`: the attention memory and the final state of every layer.
        """
        mask = tf.not_equal(encoder_inputs, PAD_ID)  # (batch, source_time)
        x = self.dropout(self.source_embedding(encoder_inputs), training=training)
        cell_states = []
        for layer in self.encoder_layers:
            x, *state = layer(x, mask=mask, training=training)
            cell_states.append(state[0] if self.cell_kind == "gru" else list(state))
            x = self.dropout(x, training=training)
        # A fully masked row (an empty sentence) has outputs zero, as its final state.
        outputs = x * tf.cast(mask, x.dtype)[:, :, None]
        keys = self.attention_keys(outputs) if self.attention_kind == "additive" else outputs
        return Memory(outputs, keys, mask), tuple(cell_states)

    def initial_state(self, memory: Memory, cell_states: tuple) -> DecoderState:
        batch = tf.shape(memory.outputs)[0]
        return DecoderState(cell_states, tf.zeros([batch, self.units], memory.outputs.dtype))

    # --- Decoder ----------------------------------------------------------------------------

    def attend(self, memory: Memory, query: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """`(context (batch, units), weights (batch, source_time))` for a query.

        Additive: `query` is the concatenated state `(batch, L * units)`; dot: `(batch, units)`.
        Pad positions get weight 0; a sentence with no real token gets a zero context.
        """
        if self.attention_kind == "additive":
            projected = self.attention_query(query)[:, None, :]  # (batch, 1, units)
            scores = tf.reduce_sum(self.attention_v * tf.tanh(memory.keys + projected), -1)
        else:
            scores = tf.einsum("bsu,bu->bs", memory.keys, query)  # (batch, source_time)
        scores = tf.where(memory.mask, scores, tf.cast(-1e9, scores.dtype))
        weights = tf.nn.softmax(scores, axis=-1) * tf.cast(memory.mask, scores.dtype)
        context = tf.einsum("bs,bsu->bu", weights, memory.outputs)
        return context, weights

    def embed_targets(self, tokens: tf.Tensor) -> tf.Tensor:
        """The token half of input feeding: `emb(y) W_e + b` `(..., E)` for tokens `(...)`.

        `input_projection([emb; c])` is `emb W_e + c W_c + b`; the token half does not depend
        on the recurrence, so teacher forcing computes it for all steps at once.
        """
        kernel = self.input_projection.kernel[: self.embedding_size]
        return tf.matmul(self.target_embedding(tokens), kernel) + self.input_projection.bias

    def recurrence(
        self,
        memory: Memory,
        state: DecoderState,
        embedded_tokens: tf.Tensor,
        training: bool = False,
    ) -> tuple[tf.Tensor, DecoderState, tf.Tensor]:
        """The recurrent part of one decoder step (steps 1-3 of the module docstring).

        Args:
          embedded_tokens: `embed_targets` of the previous tokens, `(batch, E)`.

        Returns:
          `(top output (batch, units), new state, attention weights (batch, source_time))`;
          the new state's context is `c_t`.
        """
        context = state.context
        if self.attention_kind == "dot_previous":
            top = tf.nest.flatten(state.cell_states[-1])[0]
            context, weights = self.attend(memory, top)
        context_kernel = self.input_projection.kernel[self.embedding_size :]
        x = self.dropout(embedded_tokens + tf.matmul(context, context_kernel), training=training)
        new_states = []
        for cell, cell_state in zip(self.decoder_cells, state.cell_states, strict=True):
            as_list = [cell_state] if self.cell_kind == "gru" else list(cell_state)
            x, new_state = cell(x, as_list, training=training)
            new_states.append(new_state[0] if self.cell_kind == "gru" else list(new_state))
            x = self.dropout(x, training=training)
        if self.attention_kind == "additive":
            context, weights = self.attend(memory, tf.concat(_flat_states(new_states), -1))
        return x, DecoderState(tuple(new_states), context), weights

    def readout(self, top_outputs: tf.Tensor, contexts: tf.Tensor) -> tf.Tensor:
        """`o_t = output_dense([top output; c_t])`, `(..., units)` (step 4)."""
        return self.output_dense(tf.concat([top_outputs, contexts], -1))

    def decoder_step(
        self, memory: Memory, state: DecoderState, tokens: tf.Tensor, training: bool = False
    ) -> tuple[tf.Tensor, DecoderState, tf.Tensor]:
        """One decoder step, for decoding.

        Args:
          memory: the encoded source.
          state: the state before the step.
          tokens: int32 `(batch,)`, the previous target tokens (GO at the first step).

        Returns:
          `(output o_t (batch, units), new state, attention weights (batch, source_time))`.
        """
        top, state, weights = self.recurrence(memory, state, self.embed_targets(tokens), training)
        return self.readout(top, state.context), state, weights

    def logits(self, outputs: tf.Tensor) -> tf.Tensor:
        """Full-vocabulary logits `(..., Vt)` of decoder outputs `(..., units)`, float32."""
        return tf.cast(self.output_projection(outputs), tf.float32)

    def teacher_forced(
        self, encoder_inputs: tf.Tensor, decoder_inputs: tf.Tensor, training: bool = False
    ) -> TeacherForced:
        """Runs the decoder on the given inputs (the repository's `feed_previous=False`).

        Only the recurrence runs step by step (a `tf.while_loop` with `maximum_iterations`,
        so XLA can compile it); the token embeddings and their input projection, and the
        output projection `o_t`, are computed for all steps at once.

        Args:
          encoder_inputs: int32 `(batch, source_time)`.
          decoder_inputs: int32 `(batch, target_time)`, GO + target (+ PADs).

        Returns:
          `TeacherForced`: outputs `(batch, target_time, units)` and attention
          `(batch, target_time, source_time)`.
        """
        memory, cell_states = self.encode(encoder_inputs, training=training)
        state = self.initial_state(memory, cell_states)
        steps = tf.shape(decoder_inputs)[1]
        embedded = self.embed_targets(tf.transpose(decoder_inputs))  # (target_time, batch, E)
        dtype = memory.outputs.dtype
        tops = tf.TensorArray(dtype, size=steps)
        contexts = tf.TensorArray(dtype, size=steps)
        attention = tf.TensorArray(dtype, size=steps)

        def body(t, state, tops, contexts, attention):
            top, state, weights = self.recurrence(memory, state, embedded[t], training)
            return (
                t + 1, state, tops.write(t, top), contexts.write(t, state.context),
                attention.write(t, weights),
            )  # fmt: skip

        _, _, tops, contexts, attention = tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (tf.constant(0), state, tops, contexts, attention),
            maximum_iterations=steps,
        )
        outputs = self.readout(tops.stack(), contexts.stack())  # (target_time, batch, units)
        return TeacherForced(
            tf.transpose(outputs, [1, 0, 2]),  # (batch, target_time, units)
            tf.transpose(attention.stack(), [1, 0, 2]),  # (batch, target_time, source_time)
        )

    def call(self, inputs, training=False):
        """`(encoder_inputs, decoder_inputs)` -> full logits `(batch, target_time, Vt)`."""
        encoder_inputs, decoder_inputs = inputs
        return self.logits(self.teacher_forced(encoder_inputs, decoder_inputs, training).outputs)


# --- Losses -----------------------------------------------------------------------------------


def log_uniform_probabilities(num_classes: int) -> np.ndarray:
    """`P(k) = log((k + 2) / (k + 1)) / log(V + 1)`, float64 `(V,)`: TF's log-uniform sampler."""
    classes = np.arange(num_classes, dtype=np.float64)
    return np.log1p(1.0 / (classes + 1.0)) / np.log(num_classes + 1.0)


def unique_sampling_expected_counts(num_classes: int, num_sampled: int) -> np.ndarray:
    """`log_uniform_candidates`' expected counts in NumPy, float64 `(V,)`: `1 - (1 - P)^T`.

    T is the number of draws at which the expected number of distinct ids equals
    `num_sampled`, `sum_k 1 - (1 - P(k))^T = num_sampled`, solved by bisection on log T (TF
    uses the number of draws it actually took, which varies around T).
    """
    if not 0 < num_sampled < num_classes:
        raise ValueError(f"num_sampled must be in (0, {num_classes}), got {num_sampled}.")
    log_keep = np.log1p(-log_uniform_probabilities(num_classes))  # log(1 - P(k))
    low, high = np.log(num_sampled), 60.0  # e^60 draws: every id has come up.
    for _ in range(100):
        middle = (low + high) / 2.0
        if np.sum(-np.expm1(np.exp(middle) * log_keep)) >= num_sampled:
            high = middle
        else:
            low = middle
    return -np.expm1(np.exp((low + high) / 2.0) * log_keep)


def log_uniform_candidates(
    labels: tf.Tensor, num_sampled: int, num_classes: int, seed
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Stateless, unique log-uniform (Zipfian) negatives for `tf.nn.sampled_softmax_loss`.

    TF's default sampler (`unique=True`, the repository's) draws ids from
    `P(k) = log((k + 2) / (k + 1)) / log(V + 1)` until `num_sampled` distinct ones came up,
    from a stateful kernel: a run resumed from a checkpoint would draw other negatives than the
    run that never stopped. Here the same distinct-draw distribution comes from stateless
    Gumbel noise seeded by `seed` (a `(2,)` int tensor such as `(config seed, optimizer
    step)`): the `num_sampled` largest `log P(k) + Gumbel` are a sample without replacement
    in proportion to P. Unique candidates matter: `compute_accidental_hits` masks only one
    copy of a true class among the candidates, so with repeats the true class would stay in
    the softmax's denominator.

    Expected counts are TF's for unique sampling, `1 - (1 - P(k))^T`, where T, the number of
    draws TF would have needed, is the T at which the expected number of distinct ids equals
    `num_sampled` (`sum_k 1 - (1 - P(k))^T = num_sampled`, solved by bisection on log T).

    Args:
      labels: int64 `(n, 1)`, the true classes.

    Returns:
      `(sampled int64 (num_sampled,), true_expected_count (n, 1), sampled_expected_count
      (num_sampled,))`.
    """
    if not 0 < num_sampled < num_classes:
        raise ValueError(f"num_sampled must be in (0, {num_classes}), got {num_sampled}.")
    classes = tf.range(num_classes, dtype=tf.float64)
    log_range = tf.math.log(tf.constant(num_classes + 1.0, tf.float64))
    probabilities = (tf.math.log(classes + 2.0) - tf.math.log(classes + 1.0)) / log_range
    # (V,), float64: 1 - P(k) is close to 1.
    uniforms = tf.random.stateless_uniform(
        [num_classes], seed=seed, minval=1e-20, maxval=1.0, dtype=tf.float64
    )
    gumbel = -tf.math.log(-tf.math.log(uniforms))
    _, sampled = tf.math.top_k(tf.math.log(probabilities) + gumbel, k=num_sampled)
    log_keep = tf.math.log1p(-probabilities)  # log(1 - P(k))

    def distinct(log_tries):  # Expected number of distinct ids after exp(log_tries) draws.
        return tf.reduce_sum(-tf.math.expm1(tf.exp(log_tries) * log_keep))

    low = tf.math.log(tf.constant(float(num_sampled), tf.float64))  # >= num_sampled draws
    high = tf.constant(60.0, tf.float64)  # e^60 draws: every id has come up.
    for _ in range(60):  # Bisection: the interval shrinks to 2^-60 of its width.
        middle = (low + high) / 2.0
        enough = distinct(middle) >= num_sampled
        low, high = tf.where(enough, low, middle), tf.where(enough, middle, high)
    tries = tf.exp((low + high) / 2.0)

    def expected_count(ids):
        return tf.cast(-tf.math.expm1(tries * tf.gather(log_keep, ids)), tf.float32)

    sampled = tf.cast(sampled, tf.int64)
    return sampled, expected_count(labels), expected_count(sampled)


def token_cross_entropy(
    model: Seq2SeqAttention,
    outputs: tf.Tensor,
    targets: tf.Tensor,
    *,
    num_sampled: int = 0,
    seed=(0, 0),
) -> tf.Tensor:
    """Cross-entropy of every target token, float32 `(batch, target_time)`.

    Args:
      outputs: `(batch, target_time, units)` decoder outputs.
      targets: int32 `(batch, target_time)`.
      num_sampled: > 0 and < Vt: the sampled softmax with that many log-uniform negatives
        (training; the repository's 512), accidental hits removed; otherwise the full softmax.
      seed: `(2,)` ints, the stateless seed of the negatives (`log_uniform_candidates`).
    """
    shape = tf.shape(targets)
    if 0 < num_sampled < model.target_vocabulary_size:
        kernel, bias = model.projection_weights
        flat_outputs = tf.reshape(tf.cast(outputs, tf.float32), [-1, model.units])
        labels = tf.reshape(tf.cast(targets, tf.int64), [-1, 1])
        losses = tf.nn.sampled_softmax_loss(
            weights=tf.transpose(tf.cast(kernel, tf.float32)),  # (Vt, units)
            biases=tf.cast(bias, tf.float32),
            labels=labels,
            inputs=flat_outputs,
            num_sampled=num_sampled,
            num_classes=model.target_vocabulary_size,
            sampled_values=log_uniform_candidates(
                labels, num_sampled, model.target_vocabulary_size, seed
            ),
        )
        return tf.reshape(losses, shape)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(targets, model.logits(outputs))


def sequence_loss(
    token_losses: tf.Tensor, weights: tf.Tensor, average: str = "sequence"
) -> tuple[tf.Tensor, tf.Tensor]:
    """`(sum, count)` of the loss over a batch, for `training.step`.

    Args:
      token_losses: float32 `(batch, target_time)`.
      weights: float32 `(batch, target_time)`, 1 at real target tokens, 0 at PAD.
      average: "sequence" (the book's `sequence_loss`: each sentence's weighted mean, then the
        mean over sentences: `count` is the number of sentences) or "token" (every target
        token weighs the same: `count` is the number of tokens).
    """
    _check("average", average, AVERAGES)
    weights = tf.cast(weights, tf.float32)
    weighted = tf.reduce_sum(token_losses * weights, axis=1)  # (batch,)
    if average == "sequence":
        per_sentence = weighted / (tf.reduce_sum(weights, axis=1) + 1e-12)
        return tf.reduce_sum(per_sentence), tf.cast(tf.shape(weights)[0], tf.float32)
    return tf.reduce_sum(weighted), tf.reduce_sum(weights)


def book_parameter_count(
    source_vocabulary_size: int = 40_000,
    target_vocabulary_size: int = 40_000,
    units: int = 1024,
    num_layers: int = 3,
    cell: str = "gru",
) -> int:
    """The parameter count of the module docstring, from the formula (embedding size = units)."""
    gates = 3 if cell == "gru" else 4
    layer = gates * (2 * units * units + units)  # kernel, recurrent kernel, bias
    states = num_layers * (1 if cell == "gru" else 2)
    attention = units * units + units + (states * units * units + units)  # W1, v, W2 + b
    projections = (2 * units * units + units) * 2  # input feeding, attention output
    return (
        (source_vocabulary_size + target_vocabulary_size) * units
        + target_vocabulary_size * (units + 1)
        + 2 * num_layers * layer
        + attention
        + projections
    )

"""The Differentiable Neural Computer: interface parsing, one memory step, and `DNCCell`.

Book: chapter 8, "Differentiable Neural Computers" and "DNC implementation in TensorFlow" (seed
lines 5441-5574 and 5599-5730); spec ch08-09 §1.9, §1.13 (the repository's `train_babi.py` and
`mem_ops.py`, authoritative for offsets and constants), checklist §6.1. Reference: Graves et al.
(2016), Nature 538; the layout imitates google-deepmind/dnc (`access.py`, `dnc.py`).

    cell = DNCCell(output_size=159, memory_size=256, word_size=64, num_reads=4)
    outputs = keras.layers.RNN(cell, return_sequences=True)(one_hot_story)  # (B, T, 159)

One step (`call`), in the repository's order:
1. controller input `chi = [x_t; r_{t-1}]` `(B, X + R W)`; `h = controller(chi)` `(B, units)`
   (`LSTMCell(256)`, or a feed-forward 128 -> 256 ReLU network for the copy task);
2. preliminary output `upsilon = h W_y` `(B, Y)` and interface `zeta = h W_zeta`
   `(B, R W + 3 W + 5 R + 3)`, both without bias;
3. the memory step `memory_step` (usage, allocation, write, link, precedence, reads);
4. output `y = upsilon + r_t W_r` `(B, Y)`.

The read vectors are flattened word-major, `r[w * R + h]`, the repository's
`reshape(r [W, R], [-1])`, so W_r and the controller's input weights line up with its layout.
`W_y`, `W_zeta`, `W_r` start truncated-normal with std 0.01: the repository meant
`min(0.01, sqrt(2 / fan_in))`, which is 0.01 for every matrix here, but wrote `np.min(0.01, x)`,
a TypeError on current NumPy (errata 3; DNC-tensorflow's README says 0.1).

Initial state (the repository's `init_memory`, spec §1.13): memory, read weights, write weights
and read vectors filled with 1e-6; usage, precedence and link 0; controller state 0. It is reset
for every story (each `keras.layers.RNN` call starts from `get_initial_state`).
"""

from typing import NamedTuple

import keras
from keras import ops

from fdl_tf2.memory import addressing

INITIAL_FILL = 1e-6
"""The repository's fill value for the initial memory, read/write weights and read vectors."""


def interface_size(num_reads, word_size):
    """`R W + 3 W + 5 R + 3`: 471 for R=4, W=64 (bAbI), 48 for R=1, W=10 (copy)."""
    return num_reads * word_size + 3 * word_size + 5 * num_reads + 3


class Interface(NamedTuple):
    """The parsed, squashed interface vector of one step; shapes with batch B."""

    read_keys: object  # (B, R, W), unconstrained
    read_strengths: object  # (B, R), oneplus >= 1
    write_key: object  # (B, 1, W)
    write_strength: object  # (B, 1)
    erase_vector: object  # (B, W), sigmoid
    write_vector: object  # (B, W), unconstrained
    free_gates: object  # (B, R), sigmoid
    allocation_gate: object  # (B,), sigmoid
    write_gate: object  # (B,), sigmoid
    read_modes: object  # (B, R, 3), softmax over (backward, content, forward)


def oneplus(x):
    """`1 + log(1 + e^x)`, the key strengths' squashing (>= 1; seed line 5561)."""
    return 1.0 + ops.softplus(x)


def parse_interface(interface, num_reads, word_size):
    """Split and squash `zeta` with the repository's offsets (`parse_interface`, spec §1.13).

    For R=4, W=64 (flat offsets): read keys `[0:256]` read as `(W, R)` row-major, so component
    w of head r is `zeta[w R + r]`; read strengths `[256:260]`; write key `[260:324]`; write
    strength `[324]`; erase `[325:389]`; write vector `[389:453]`; free gates `[453:457]`;
    allocation gate `[457]`; write gate `[458]`; read modes `[459:471]` read as `(3, R)`, a
    softmax over the 3 modes.

    Args:
        interface: `(B, interface_size(R, W))`.
        num_reads: R.
        word_size: W.

    Returns:
        `Interface`.

    Raises:
        ValueError: the last axis is not `interface_size(R, W)`.
    """
    expected = interface_size(num_reads, word_size)
    if interface.shape[-1] != expected:
        raise ValueError(
            f"Interface of size {interface.shape[-1]}; R={num_reads}, W={word_size} need "
            f"R*W + 3*W + 5*R + 3 = {expected}."
        )
    R, W = num_reads, word_size  # the book's letters, for the offsets
    offsets = {}
    start = 0
    for name, size in (
        ("read_keys", R * W),
        ("read_strengths", R),
        ("write_key", W),
        ("write_strength", 1),
        ("erase_vector", W),
        ("write_vector", W),
        ("free_gates", R),
        ("allocation_gate", 1),
        ("write_gate", 1),
        ("read_modes", 3 * R),
    ):
        offsets[name] = interface[:, start : start + size]
        start += size
    read_keys = ops.transpose(ops.reshape(offsets["read_keys"], (-1, W, R)), (0, 2, 1))
    read_modes = ops.transpose(ops.reshape(offsets["read_modes"], (-1, 3, R)), (0, 2, 1))
    return Interface(
        read_keys=read_keys,
        read_strengths=oneplus(offsets["read_strengths"]),
        write_key=offsets["write_key"][:, None, :],
        write_strength=oneplus(offsets["write_strength"]),
        erase_vector=ops.sigmoid(offsets["erase_vector"]),
        write_vector=offsets["write_vector"],
        free_gates=ops.sigmoid(offsets["free_gates"]),
        allocation_gate=ops.sigmoid(offsets["allocation_gate"][:, 0]),
        write_gate=ops.sigmoid(offsets["write_gate"][:, 0]),
        read_modes=ops.softmax(read_modes, axis=-1),
    )


class MemoryState(NamedTuple):
    """The DNC's memory between steps; shapes with batch B."""

    memory: object  # (B, N, W)
    read_weights: object  # (B, R, N)
    write_weights: object  # (B, N)
    link: object  # (B, N, N)
    precedence: object  # (B, N)
    usage: object  # (B, N)


class StepRecord(NamedTuple):
    """What one memory step did, for Fig. 8.9 and for tests."""

    allocation: object  # (B, N)
    free_gates: object  # (B, R)
    allocation_gate: object  # (B,)
    write_gate: object  # (B,)


def memory_step(previous, interface, book_pairwise_add=False):
    """One memory step, in the repository's order (spec §1.13 steps 3-12).

    Args:
        previous: `MemoryState` at t-1.
        interface: `Interface` at t.
        book_pairwise_add: the listing's link-matrix bug (see `addressing.update_link`).

    Returns:
        `(state, read_vectors, record)`: the `MemoryState` at t, read vectors `(B, R, W)` and a
        `StepRecord`.
    """
    psi = addressing.retention(interface.free_gates, previous.read_weights)
    usage = addressing.update_usage(previous.usage, previous.write_weights, psi)
    allocation = addressing.allocation_weights(usage)
    write_content = addressing.content_weights(
        previous.memory, interface.write_key, interface.write_strength
    )[:, 0]
    write = addressing.write_weights(
        allocation, write_content, interface.allocation_gate, interface.write_gate
    )
    memory = addressing.erase_and_write(
        previous.memory, write, interface.erase_vector, interface.write_vector
    )
    link = addressing.update_link(previous.link, previous.precedence, write, book_pairwise_add)
    precedence = addressing.update_precedence(previous.precedence, write)
    read_content = addressing.content_weights(memory, interface.read_keys, interface.read_strengths)
    forward, backward = addressing.directional_weights(link, previous.read_weights)
    reads = addressing.read_weights(interface.read_modes, backward, read_content, forward)
    state = MemoryState(memory, reads, write, link, precedence, usage)
    record = StepRecord(
        allocation, interface.free_gates, interface.allocation_gate, interface.write_gate
    )
    return state, addressing.read_vectors(memory, reads), record


def _flatten_reads(read_vectors):
    """`(B, R, W)` -> `(B, W R)`, word-major like the repository's `reshape(r [W, R], [-1])`."""
    num_reads, word_size = read_vectors.shape[1], read_vectors.shape[2]
    return ops.reshape(ops.transpose(read_vectors, (0, 2, 1)), (-1, word_size * num_reads))


@keras.saving.register_keras_serializable(package="fdl_tf2")
class FeedForwardController(keras.layers.Layer):
    """The copy task's controller: Dense(128, ReLU) -> Dense(256, ReLU), no recurrent state.

    DNC-tensorflow's `feedforward_controller.py` (spec §1.10): weights truncated normal with
    std `min(sqrt(2 / fan_in), 0.01)` (0.01 here), zero biases.
    """

    def __init__(self, hidden_units=(128, 256), **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = tuple(hidden_units)
        self.layers_ = [
            keras.layers.Dense(
                units,
                activation="relu",
                kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.01),
                name=f"dense_{i}",
            )
            for i, units in enumerate(self.hidden_units)
        ]
        self.units = self.hidden_units[-1]

    def build(self, input_shape):
        shape = input_shape
        for layer in self.layers_:
            layer.build(shape)
            shape = (*shape[:-1], layer.units)

    def call(self, inputs):
        x = inputs
        for layer in self.layers_:
            x = layer(x)
        return x

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units}


@keras.saving.register_keras_serializable(package="fdl_tf2")
class DNCCell(keras.layers.Layer):
    """A DNC step as a Keras RNN cell: LSTM (or feed-forward) controller plus external memory.

    State: the list `[*controller_state, memory (N, W), read_weights (R, N),
    write_weights (N,), link (N, N), precedence (N,), usage (N,), read_vectors (R, W)]`, each
    with a leading batch axis; `unpack_state` gives it back as `(controller_state,
    MemoryState, read_vectors)`.

    Args:
        output_size: Y, the output width (159 for bAbI, the one-hot vocabulary).
        memory_size: N slots.
        word_size: W.
        num_reads: R read heads.
        controller: "lstm" (`LSTMCell(controller_units)`, the bAbI model) or "feedforward"
            (the copy task's 128 -> controller_units ReLU network).
        controller_units: the controller's output size (256, the repository's NN).
        book_pairwise_add: the listing's `V + V` link bug (default off: correct `w[i] + w[j]`).
        record: also output the write and read weightings, usage and gates of every step (for
            Fig. 8.9); the output is then `[y (Y), write_weights (N), read_weights (R N),
            usage (N), free_gates (R), allocation_gate (1), write_gate (1)]`.
    """

    def __init__(
        self,
        output_size,
        memory_size=256,
        word_size=64,
        num_reads=4,
        controller="lstm",
        controller_units=256,
        book_pairwise_add=False,
        record=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if controller not in ("lstm", "feedforward"):
            raise ValueError(f"controller must be 'lstm' or 'feedforward', got {controller!r}.")
        for name, value in (
            ("output_size", output_size),
            ("memory_size", memory_size),
            ("word_size", word_size),
            ("num_reads", num_reads),
            ("controller_units", controller_units),
        ):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        self.output_size_ = int(output_size)
        self.memory_size = int(memory_size)
        self.word_size = int(word_size)
        self.num_reads = int(num_reads)
        self.controller_kind = controller
        self.controller_units = int(controller_units)
        self.book_pairwise_add = bool(book_pairwise_add)
        self.record = bool(record)
        if controller == "lstm":
            self.controller = keras.layers.LSTMCell(
                self.controller_units, unit_forget_bias=True, name="controller"
            )
            self._controller_state_size = [self.controller_units, self.controller_units]
        else:
            self.controller = FeedForwardController((128, self.controller_units), name="controller")
            self._controller_state_size = []
        N, W, R = self.memory_size, self.word_size, self.num_reads
        self.state_size = [*self._controller_state_size, (N, W), (R, N), N, (N, N), N, N, (R, W)]
        self.output_size = self.output_size_ + (N + R * N + N + R + 2 if self.record else 0)

    def build(self, input_shape):
        input_size = input_shape[-1]
        reads_size = self.word_size * self.num_reads
        self.controller.build((None, input_size + reads_size))
        init = keras.initializers.TruncatedNormal(stddev=0.01)
        units = self.controller_units
        self.output_kernel = self.add_weight(
            name="W_y", shape=(units, self.output_size_), initializer=init
        )
        self.interface_kernel = self.add_weight(
            name="W_zeta",
            shape=(units, interface_size(self.num_reads, self.word_size)),
            initializer=init,
        )
        self.read_kernel = self.add_weight(
            name="W_r", shape=(reads_size, self.output_size_), initializer=init
        )

    def get_initial_state(self, batch_size=None):
        N, W, R = self.memory_size, self.word_size, self.num_reads
        zeros = [ops.zeros((batch_size, size)) for size in self._controller_state_size]
        return [
            *zeros,
            ops.full((batch_size, N, W), INITIAL_FILL),
            ops.full((batch_size, R, N), INITIAL_FILL),
            ops.full((batch_size, N), INITIAL_FILL),
            ops.zeros((batch_size, N, N)),
            ops.zeros((batch_size, N)),
            ops.zeros((batch_size, N)),
            ops.full((batch_size, R, W), INITIAL_FILL),
        ]

    def unpack_state(self, states):
        """`states` list -> `(controller_state list, MemoryState, read_vectors (B, R, W))`."""
        states = list(states)
        count = len(self._controller_state_size)
        controller_state = states[:count]
        memory, reads, write, link, precedence, usage, read_vectors = states[count:]
        return (
            controller_state,
            MemoryState(memory, reads, write, link, precedence, usage),
            (read_vectors),
        )

    def call(self, inputs, states, training=False):
        controller_state, previous, previous_reads = self.unpack_state(states)
        chi = ops.concatenate([inputs, _flatten_reads(previous_reads)], axis=-1)
        if self.controller_kind == "lstm":
            hidden, controller_state = self.controller(chi, controller_state, training=training)
        else:
            hidden = self.controller(chi)
        preliminary = ops.matmul(hidden, self.output_kernel)  # (B, Y)
        interface = parse_interface(
            ops.matmul(hidden, self.interface_kernel), self.num_reads, self.word_size
        )
        state, read_vectors, record = memory_step(previous, interface, self.book_pairwise_add)
        output = preliminary + ops.matmul(_flatten_reads(read_vectors), self.read_kernel)
        if self.record:
            output = ops.concatenate(
                [
                    output,
                    state.write_weights,
                    ops.reshape(state.read_weights, (-1, self.num_reads * self.memory_size)),
                    state.usage,
                    record.free_gates,
                    record.allocation_gate[:, None],
                    record.write_gate[:, None],
                ],
                axis=-1,
            )
        return output, [*controller_state, *state, read_vectors]

    def get_config(self):
        return {
            **super().get_config(),
            "output_size": self.output_size_,
            "memory_size": self.memory_size,
            "word_size": self.word_size,
            "num_reads": self.num_reads,
            "controller": self.controller_kind,
            "controller_units": self.controller_units,
            "book_pairwise_add": self.book_pairwise_add,
            "record": self.record,
        }


def split_record(outputs, output_size, memory_size, num_reads):
    """Split a `record=True` cell's outputs `(B, T, size)` into named parts.

    Returns:
        dict: `outputs` `(B, T, Y)`, `write_weights` `(B, T, N)`, `read_weights`
        `(B, T, R, N)`, `usage` `(B, T, N)`, `free_gates` `(B, T, R)`, `allocation_gate` and
        `write_gate` `(B, T)`.
    """
    Y, N, R = output_size, memory_size, num_reads
    sizes = {
        "outputs": Y,
        "write_weights": N,
        "read_weights": R * N,
        "usage": N,
        "free_gates": R,
        "allocation_gate": 1,
        "write_gate": 1,
    }
    parts, start = {}, 0
    for name, size in sizes.items():
        parts[name] = outputs[..., start : start + size]
        start += size
    parts["read_weights"] = ops.reshape(parts["read_weights"], (*ops.shape(outputs)[:-1], R, N))
    parts["allocation_gate"] = parts["allocation_gate"][..., 0]
    parts["write_gate"] = parts["write_gate"][..., 0]
    return parts


@keras.saving.register_keras_serializable(package="fdl_tf2")
class OneHot(keras.layers.Layer):
    """Token ids `(B, T)` -> one-hot `(B, T, depth)` float32; ids outside [0, depth) -> zeros.

    The book feeds bAbI words as one-hot vectors of the 159-word lexicon (no embedding); the
    pad id -1 becomes a zero vector.
    """

    def __init__(self, depth, **kwargs):
        super().__init__(**kwargs)
        self.depth = int(depth)

    def call(self, ids):
        return ops.one_hot(ops.cast(ids, "int32"), self.depth)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}


def build_babi_dnc(
    vocabulary_size=159,
    memory_size=256,
    word_size=64,
    num_reads=4,
    controller_units=256,
    book_pairwise_add=False,
):
    """The book's bAbI DNC: ids `(B, T)` int32 (pad -1) -> logits `(B, T, vocabulary_size)`.

    One-hot words into `keras.layers.RNN(DNCCell(...))` with an LSTM controller; the state starts
    afresh for every story. Padding after a story does not change its outputs (the recurrence
    is causal), so right-padded batches need no mask.
    """
    ids = keras.Input((None,), dtype="int32", name="ids")
    cell = DNCCell(
        output_size=vocabulary_size,
        memory_size=memory_size,
        word_size=word_size,
        num_reads=num_reads,
        controller="lstm",
        controller_units=controller_units,
        book_pairwise_add=book_pairwise_add,
    )
    one_hot = OneHot(vocabulary_size, name="one_hot")(ids)
    logits = keras.layers.RNN(cell, return_sequences=True, name="dnc")(one_hot)
    return keras.Model(ids, logits, name="babi_dnc")

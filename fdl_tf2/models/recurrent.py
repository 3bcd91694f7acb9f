"""Chapter-7 RNN basics: the vanishing-gradient demo, an LSTM cell from the book's equations, and
the TF1 -> Keras 3 map of the book's RNN primitives.

Book: chapter 7, "Recurrent Neural Networks" and "The Challenges with Vanishing Gradients"
(seed lines 3787-3884, Figs. 7.15-7.16), "Long Short-Term Memory (LSTM) Units" (lines
3886-3940, Figs. 7.17-7.22), "TensorFlow Primitives for RNN Models" (lines 3942-4008); spec
ch06-07 §2.2.4-2.2.6, checklist §5.3 items 24-26, errata §6 items 22-25 and 33. LSTM: Hochreiter
& Schmidhuber 1997, with the forget gate of Gers et al. 2000; GRU: Cho et al. 2014.

1. Vanishing gradients. The book's scalar RNN (Fig. 7.16) is

       h(t) = f(z(t)),   z(t) = w_in * i(t) + w_rec * h(t - 1),   h(0) = 0,

   and the chain rule gives, for k >= 0,

       dh(t)/di(t - k) = w_in * f'(z(t - k)) * prod_{s = t-k+1..t} [w_rec * f'(z(s))].

   With |f'| <= 1 this is at most |w_rec|^k * |w_in| (`gradient_bound`), which vanishes as k
   grows when |w_rec| < 1. `input_gradients` measures the left-hand side with one
   `tf.GradientTape` for every k at once. Errata 22: the book writes `w_in` without its
   absolute value (line 3882), and claims max f' = 1 for tanh, the logistic and ReLU (line
   3856); the logistic's maximum is 0.25, so for it the bound holds but is loose by a factor
   0.25^(k+1) (`MAX_DERIVATIVE`, `gradient_bound(..., max_derivative=0.25)`). For |w_rec| >= 1
   the bound does not decay, yet the measured gradient still can (tanh' < 1 away from 0).

2. `BookLSTMCell`: the gates of lines 3892-3917 written in `keras.ops`, with x the input, h the
   previous output and c the previous state:

       forget:  f = sigmoid(W_f [x; h] + b_f + forget_bias)     keep = f * c
       write:   i = sigmoid(W_i [x; h] + b_i),  j = tanh(W_j [x; h] + b_j)
                c' = keep + i * j
       output:  o = sigmoid(W_o [x; h] + b_o),  h' = o * tanh(c')

   The output "tanh layer" of the book (errata 24) is the elementwise tanh, with no weights.
   The weights have the layout of TF1's `BasicLSTMCell`: one `kernel` `(input_dim + units,
   4 * units)` acting on the concatenation [x; h] and one `bias` `(4 * units,)`, gate blocks in
   the order (i, j, f, o), and `forget_bias` (TF1 default 1.0) added to the forget
   pre-activation inside the cell. `keras.layers.LSTMCell` holds `kernel` `(input_dim, 4u)`,
   `recurrent_kernel` `(u, 4u)` and `bias` `(4u,)` in the order (i, f, c, o), with no constant
   inside; its `unit_forget_bias=True` instead *initialises* b_f to 1. The two are the same
   function family: `keras_to_book_weights` / `book_to_keras_weights` stack the kernels, swap
   the second and third gate blocks and move `forget_bias` in or out of b_f. Both cells keep
   their state as `[h, c]` (TF1's `LSTMStateTuple` is `(c, h)`). The repository's own
   `lstm.py` cell (orthogonal initialisers, no forget bias, and a batch-normalised variant) is
   not in the book and not ported here.

3. `rnn_primitives_demo`: each TF1 primitive of lines 3942-4008 next to its Keras 3
   counterpart (`TF1_TO_KERAS`, checklist item 26), built and run with shape checks, and
   `shared_cell_stack_demo`: what `[cell] * n` does in a Keras 3 `StackedRNNCells`.
"""

import re
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
from keras import ops

# --- 1. The scalar RNN and its input gradients ----------------------------------------------

ACTIVATIONS = ("tanh", "logistic", "relu")
MAX_DERIVATIVE = {"tanh": 1.0, "logistic": 0.25, "relu": 1.0}
"""max |f'(z)| of each activation; the book's bound assumes 1 for all three (errata 22)."""


def _activation(name: str):
    functions = {"tanh": tf.tanh, "logistic": tf.sigmoid, "relu": tf.nn.relu}
    if name not in functions:
        raise ValueError(f"Unknown activation {name!r}; expected one of {ACTIVATIONS}.")
    return functions[name]


def scalar_rnn(
    w_in: float,
    w_rec: float,
    inputs,
    activation: str = "tanh",
    initial_state: float = 0.0,
) -> tf.Tensor:
    """The book's one-neuron RNN, `h(t) = f(w_in * i(t) + w_rec * h(t - 1))` (Fig. 7.16).

    Args:
      w_in, w_rec: the tied input and recurrent weights.
      inputs: `(..., T)` the inputs i(1), ..., i(T) (last axis is time); float64 recommended.
      activation: "tanh", "logistic" or "relu".
      initial_state: h(0); zero as in `dynamic_rnn` and Keras (errata 23: the book says the
        initial activations are learned, line 3819, but no code learns them).

    Returns:
      `(..., T)` the states h(1), ..., h(T), in the dtype of `inputs`.
    """
    function = _activation(activation)
    inputs = tf.convert_to_tensor(inputs)
    state = tf.fill(tf.shape(inputs)[:-1], tf.cast(initial_state, inputs.dtype))
    states = []
    for t in range(inputs.shape[-1]):  # T is small (tens of steps): a plain Python unroll.
        state = function(w_in * inputs[..., t] + w_rec * state)
        states.append(state)
    return tf.stack(states, axis=-1)


def input_gradients(
    w_in: float, w_rec: float, inputs, activation: str = "tanh", initial_state: float = 0.0
) -> np.ndarray:
    """|dh(T)/di(T - k)| for k = 0, ..., T - 1, measured with one `tf.GradientTape`.

    The tape watches the whole input sequence and differentiates the last state once; the
    gradient with respect to i(t) is the k = T - t entry. With a batch of sequences the
    examples are independent, so the gradient of the summed last states is each example's own.

    Args:
      w_in, w_rec, activation, initial_state: as in `scalar_rnn`.
      inputs: `(T,)` or `(batch, T)`; computed in float64.

    Returns:
      float64 `(..., T)`: entry `[..., k]` is |dh(T)/di(T - k)|.
    """
    inputs = tf.convert_to_tensor(inputs, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        last_state = scalar_rnn(w_in, w_rec, inputs, activation, initial_state)[..., -1]
    gradients = tape.gradient(last_state, inputs)  # (..., T): dh(T)/di(t), t = 1..T.
    return np.abs(gradients.numpy())[..., ::-1]  # Reversed: index k = T - t.


def gradient_bound(w_in: float, w_rec: float, k, max_derivative: float = 1.0) -> np.ndarray:
    """The bound |dh(t)/di(t - k)| <= max|f'|^(k + 1) * |w_rec|^k * |w_in|.

    With the default `max_derivative=1` this is the book's |w_rec|^k * |w_in| (line 3882, with
    the absolute value of w_in it omits); pass `MAX_DERIVATIVE["logistic"]` (0.25) for the
    tight bound of the logistic.

    Args:
      w_in, w_rec: the weights.
      k: an int or an array of lags `(K,)`.
      max_derivative: max |f'| of the activation.

    Returns:
      float64, the shape of `k`.
    """
    k = np.asarray(k, dtype=np.float64)
    return max_derivative ** (k + 1.0) * abs(w_rec) ** k * abs(w_in)


# --- 2. The LSTM cell of the book's equations -------------------------------------------------

_GATE_SWAP = np.array([0, 2, 1, 3])
"""Gate blocks (i, f, c, o) of Keras -> (i, j, f, o) of TF1 and back (j is Keras's c)."""


def _swap_gate_blocks(weights: np.ndarray, units: int) -> np.ndarray:
    """Reorders the last axis `(..., 4 * units)` by gate block with `_GATE_SWAP`."""
    blocks = np.asarray(weights).reshape(*np.shape(weights)[:-1], 4, units)
    return blocks[..., _GATE_SWAP, :].reshape(np.shape(weights))


def keras_to_book_weights(
    kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray, forget_bias: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """`keras.layers.LSTMCell` weights -> `BookLSTMCell` (TF1 `BasicLSTMCell`) weights.

    Args:
      kernel: `(input_dim, 4u)`, gate order (i, f, c, o).
      recurrent_kernel: `(u, 4u)`, same order.
      bias: `(4u,)`, same order.
      forget_bias: the constant the book cell adds to the forget pre-activation; it is
        subtracted from b_f so that both cells compute the same function.

    Returns:
      `(kernel (input_dim + u, 4u), bias (4u,))`, gate order (i, j, f, o).
    """
    units = np.shape(recurrent_kernel)[0]
    stacked = np.concatenate([kernel, recurrent_kernel], axis=0)  # Rows: [x; h].
    book_bias = _swap_gate_blocks(bias, units).copy()
    book_bias[2 * units : 3 * units] -= forget_bias  # The f block in (i, j, f, o).
    return _swap_gate_blocks(stacked, units), book_bias


def book_to_keras_weights(
    kernel: np.ndarray, bias: np.ndarray, input_dim: int, forget_bias: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inverse of `keras_to_book_weights`.

    Args:
      kernel: `(input_dim + u, 4u)`, gate order (i, j, f, o).
      bias: `(4u,)`, same order.
      input_dim: the number of input features (the first rows of `kernel`).
      forget_bias: the book cell's constant, folded into the Keras b_f.

    Returns:
      `(kernel (input_dim, 4u), recurrent_kernel (u, 4u), bias (4u,))`, order (i, f, c, o).
    """
    units = np.shape(kernel)[1] // 4
    keras_bias = np.array(bias, dtype=np.result_type(bias, np.float32), copy=True)
    keras_bias[2 * units : 3 * units] += forget_bias
    swapped = _swap_gate_blocks(kernel, units)
    return swapped[:input_dim], swapped[input_dim:], _swap_gate_blocks(keras_bias, units)


@keras.saving.register_keras_serializable(package="fdl_tf2")
class BookLSTMCell(keras.layers.Layer):
    """An LSTM cell written from the book's gate equations (module docstring, part 2).

    `call(x, [h, c])`: x `(batch, input_dim)`, h and c `(batch, units)` -> `(h', [h', c'])`.
    Use inside `keras.layers.RNN`, which supplies masking (a masked step keeps the state).

    Args:
      units: the width of h and c.
      forget_bias: added to the forget pre-activation (TF1 `BasicLSTMCell(forget_bias=1.0)`,
        the book's printed default; 0 gives the Keras parameterisation, where b_f itself
        carries the offset).
      kernel_initializer: for the `(input_dim + units, 4 * units)` kernel (TF1's default,
        Glorot uniform).
      bias_initializer: for the `(4 * units,)` bias.
    """

    def __init__(
        self,
        units: int,
        forget_bias: float = 1.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units < 1:
            raise ValueError(f"units must be >= 1, got {units}.")
        self.units = units
        self.forget_bias = float(forget_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.state_size = [units, units]  # [h, c], as keras.layers.LSTMCell.
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim + self.units, 4 * self.units),
            initializer=self.kernel_initializer,
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(4 * self.units,), initializer=self.bias_initializer, name="bias"
        )

    def call(self, inputs, states, training=None):
        previous_output, previous_state = states[0], states[1]
        # Every gate reads [input; previous output] (lines 3892-3917).
        pre_activations = ops.matmul(
            ops.concatenate([inputs, previous_output], axis=-1), self.kernel
        )
        pre_activations = ops.add(pre_activations, self.bias)  # (batch, 4 * units)
        i, j, f, o = ops.split(pre_activations, 4, axis=-1)
        keep = ops.sigmoid(f + self.forget_bias) * previous_state  # Forget gate.
        state = keep + ops.sigmoid(i) * ops.tanh(j)  # Input (write) gate x tanh candidate.
        output = ops.sigmoid(o) * ops.tanh(state)  # Output gate x tanh of the state.
        return output, [output, state]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    # --- Weight conversion ---

    def keras_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This cell's weights as `keras.layers.LSTMCell` `(kernel, recurrent_kernel, bias)`."""
        input_dim = self.kernel.shape[0] - self.units
        return book_to_keras_weights(
            np.asarray(self.kernel), np.asarray(self.bias), input_dim, self.forget_bias
        )

    def set_weights_from_keras(self, cell: keras.layers.LSTMCell) -> None:
        """Copies a built `keras.layers.LSTMCell` (tanh / sigmoid) into this built cell.

        Raises:
          ValueError: `cell` is unbuilt, has other activations, or other sizes.
        """
        if not cell.built:
            raise ValueError("Build the keras.layers.LSTMCell first (call it on some inputs).")
        activations = (
            keras.activations.serialize(cell.activation),
            keras.activations.serialize(cell.recurrent_activation),
        )
        if activations != ("tanh", "sigmoid"):
            raise ValueError(f"Expected tanh / sigmoid activations, got {activations}.")
        if cell.units != self.units or tuple(self.kernel.shape) != (
            cell.kernel.shape[0] + cell.units,
            4 * cell.units,
        ):
            raise ValueError(
                f"Size mismatch: this cell has kernel {tuple(self.kernel.shape)}, the Keras "
                f"cell kernel {tuple(cell.kernel.shape)} and {cell.units} units."
            )
        bias = np.asarray(cell.bias) if cell.use_bias else np.zeros(4 * cell.units, np.float32)
        kernel, book_bias = keras_to_book_weights(
            np.asarray(cell.kernel), np.asarray(cell.recurrent_kernel), bias, self.forget_bias
        )
        self.kernel.assign(kernel)
        self.bias.assign(book_bias)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "forget_bias": self.forget_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


def from_keras_lstm_cell(cell: keras.layers.LSTMCell, forget_bias: float = 1.0) -> BookLSTMCell:
    """A built `BookLSTMCell` computing exactly what the built Keras `cell` computes.

    Args:
      cell: a built `keras.layers.LSTMCell` with tanh / sigmoid activations.
      forget_bias: the book cell's constant (b_f is shifted by it, so the result is the same).
    """
    book_cell = BookLSTMCell(cell.units, forget_bias=forget_bias, dtype=cell.dtype_policy)
    book_cell.build((None, cell.kernel.shape[0]))
    book_cell.set_weights_from_keras(cell)
    return book_cell


# --- 3. TF1 primitives -> Keras 3 -----------------------------------------------------------


class Primitive(NamedTuple):
    """One row of the TF1 -> Keras 3 map (checklist §5.3 item 26)."""

    tf1: str
    keras: str
    note: str


TF1_TO_KERAS = (
    Primitive(
        "BasicRNNCell(num_units)",
        "SimpleRNNCell(units) in RNN(...) / SimpleRNN(units)",
        "State [h].",
    ),
    Primitive(
        "BasicLSTMCell(num_units, forget_bias=1.0)",
        "LSTMCell(units, unit_forget_bias=True)",
        "Same function family: TF1 adds 1.0 inside, Keras initialises b_f = 1. State [h, c] "
        "(TF1 LSTMStateTuple(c, h)); gate order (i, f, c, o) vs TF1 (i, j, f, o).",
    ),
    Primitive(
        "LSTMCell(use_peepholes, num_proj, cell_clip)",
        "no Keras 3 equivalent",
        "Peepholes, the output projection and state clipping need a custom cell.",
    ),
    Primitive(
        "GRUCell(num_units)",
        "GRUCell(units, reset_after=False)",
        "TF1 parity: bias (3u,). The Keras default reset_after=True (the cuDNN variant) "
        "applies the reset gate after the recurrent matmul and has bias (2, 3u).",
    ),
    Primitive(
        "MultiRNNCell([BasicLSTMCell(n) for _ in range(2)])",
        "StackedRNNCells([LSTMCell(units) for _ in range(2)])",
        "Distinct cells per layer; [cell] * n shares one cell (shared_cell_stack_demo).",
    ),
    Primitive(
        "MultiRNNCell (as layers)",
        "LSTM(units, return_sequences=True) stacked",
        "Each layer returns its own states.",
    ),
    Primitive(
        "DropoutWrapper(cell, input_keep_prob=p, output_keep_prob=q)",
        "LSTM(units, dropout=1 - p) + Dropout(1 - q) on the outputs",
        "Keras input dropout reuses one mask across time steps; TF1 drew one per step.",
    ),
    Primitive(
        "dynamic_rnn(cell, inputs, time_major=True)",
        "transpose -> RNN(cell, return_sequences=True, return_state=True) -> transpose",
        "Keras 3 has no time_major argument.",
    ),
    Primitive(
        "dynamic_rnn(cell, inputs, initial_state=state)",
        "RNN(...)(inputs, initial_state=[h, c])",
        "Both default to zero states.",
    ),
    Primitive(
        "dynamic_rnn(cell, inputs, sequence_length=lengths)",
        "RNN(..., zero_output_for_mask=True)(inputs, mask=...) / Embedding(mask_zero=True)",
        "The final state is the state at each sequence's last step. Past the length TF1 "
        "outputs zeros; Keras repeats the last output unless zero_output_for_mask=True.",
    ),
)


class PrimitiveRun(NamedTuple):
    """A primitive of `TF1_TO_KERAS` built and run: the output and state shapes it gave."""

    tf1: str
    keras: str
    output_shape: tuple[int, ...] | None
    state_shapes: tuple | None
    note: str


def _shapes(structure):
    """Tensors (possibly nested in lists) -> the same nesting of shape tuples."""
    if isinstance(structure, (list, tuple)):
        return tuple(_shapes(item) for item in structure)
    return tuple(int(size) for size in structure.shape)


def _check(name: str, got, expected) -> None:
    if got != expected:
        raise AssertionError(f"{name}: expected shapes {expected}, got {got}.")


def rnn_primitives_demo(
    batch: int = 4, time: int = 7, features: int = 5, units: int = 3, seed: int = 0
) -> list[PrimitiveRun]:
    """Builds and runs the Keras 3 counterpart of every TF1 primitive, checking shapes.

    The book's shapes (lines 4004-4006): inputs `(batch, max_time, features)` (or time-major
    `(max_time, batch, features)`), outputs `(batch, max_time, output_size)`, states `(batch,
    state_size)`.

    Args:
      batch, time, features, units: the sizes of the random inputs and of every cell.
      seed: for the inputs and the weight initialisers.

    Returns:
      One `PrimitiveRun` per row of `TF1_TO_KERAS`, in order (`None` shapes where Keras 3 has
      no counterpart).

    Raises:
      AssertionError: a layer returned shapes other than the book's.
    """
    if min(batch, time, features, units) < 1:
        raise ValueError(f"Sizes must be >= 1, got {(batch, time, features, units)}.")
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(batch, time, features)).astype(np.float32)
    lengths = time - np.arange(batch) % time  # time, time - 1, ...: at least 1 step each.
    mask = np.arange(time)[None, :] < lengths[:, None]  # (batch, time), True = real step.
    sequence, state = (batch, time, units), (batch, units)
    layers = keras.layers

    def rnn(cell, **options):
        return layers.RNN(cell, return_sequences=True, return_state=True, **options)

    shapes = {}  # TF1 name -> (output shape, state shapes).

    # --- BasicRNNCell, BasicLSTMCell, GRUCell ---
    outputs, *states = rnn(layers.SimpleRNNCell(units, seed=seed))(inputs)
    _check("SimpleRNNCell", (_shapes(outputs), _shapes(states)), (sequence, (state,)))
    outputs, *states = layers.SimpleRNN(units, return_sequences=True, return_state=True, seed=seed)(
        inputs
    )
    _check("SimpleRNN", (_shapes(outputs), _shapes(states)), (sequence, (state,)))
    shapes[TF1_TO_KERAS[0].tf1] = (_shapes(outputs), _shapes(states))

    outputs, *states = rnn(layers.LSTMCell(units, unit_forget_bias=True, seed=seed))(inputs)
    _check("LSTMCell", (_shapes(outputs), _shapes(states)), (sequence, (state, state)))
    shapes[TF1_TO_KERAS[1].tf1] = (_shapes(outputs), _shapes(states))

    gru = layers.GRUCell(units, reset_after=False, seed=seed)
    outputs, *states = rnn(gru)(inputs)
    _check("GRUCell", (_shapes(outputs), _shapes(states)), (sequence, (state,)))
    _check("GRUCell bias", tuple(gru.bias.shape), (3 * units,))
    shapes[TF1_TO_KERAS[3].tf1] = (_shapes(outputs), _shapes(states))

    # --- MultiRNNCell: distinct cells, or stacked layers ---
    stack = layers.StackedRNNCells([layers.LSTMCell(units, seed=seed + n) for n in range(2)])
    outputs, *states = rnn(stack)(inputs)
    _check("StackedRNNCells", (_shapes(outputs), _shapes(states)), (sequence, ((state,) * 2,) * 2))
    shapes[TF1_TO_KERAS[4].tf1] = (_shapes(outputs), _shapes(states))

    hidden = layers.LSTM(units, return_sequences=True, seed=seed)(inputs)
    outputs, *states = layers.LSTM(units, return_sequences=True, return_state=True, seed=seed)(
        hidden
    )
    _check(
        "stacked LSTM",
        (_shapes(hidden), _shapes(outputs), _shapes(states)),
        (sequence, sequence, (state, state)),
    )
    shapes[TF1_TO_KERAS[5].tf1] = (_shapes(outputs), _shapes(states))

    # --- DropoutWrapper: input dropout inside the layer, output dropout after it ---
    lstm = layers.LSTM(units, dropout=0.5, return_sequences=True, return_state=True, seed=seed)
    outputs, *states = lstm(inputs, training=True)
    outputs = layers.Dropout(0.5, seed=seed)(outputs, training=True)
    _check(
        "LSTM(dropout) + Dropout", (_shapes(outputs), _shapes(states)), (sequence, (state, state))
    )
    shapes[TF1_TO_KERAS[6].tf1] = (_shapes(outputs), _shapes(states))

    # --- dynamic_rnn(time_major=True): transpose in and out ---
    time_major = np.transpose(inputs, (1, 0, 2))  # (time, batch, features)
    outputs, *states = rnn(layers.LSTMCell(units, seed=seed))(ops.transpose(time_major, (1, 0, 2)))
    outputs = ops.transpose(outputs, (1, 0, 2))  # (time, batch, units)
    _check(
        "time-major", (_shapes(outputs), _shapes(states)), ((time, batch, units), (state, state))
    )
    shapes[TF1_TO_KERAS[7].tf1] = (_shapes(outputs), _shapes(states))

    # --- dynamic_rnn(initial_state=...) ---
    initial = [rng.normal(size=state).astype(np.float32) for _ in range(2)]  # [h, c]
    outputs, *states = rnn(layers.LSTMCell(units, seed=seed))(inputs, initial_state=initial)
    _check("initial_state", (_shapes(outputs), _shapes(states)), (sequence, (state, state)))
    shapes[TF1_TO_KERAS[8].tf1] = (_shapes(outputs), _shapes(states))

    # --- dynamic_rnn(sequence_length=...): a mask, TF1's zeros past the length ---
    masked = rnn(layers.LSTMCell(units, seed=seed), zero_output_for_mask=True)
    outputs, *states = masked(inputs, mask=mask)
    _check("masked", (_shapes(outputs), _shapes(states)), (sequence, (state, state)))
    last = np.asarray(outputs)[np.arange(batch), lengths - 1]  # Output at each last real step.
    if not np.allclose(np.asarray(states[0]), last, atol=1e-6):
        raise AssertionError("The masked final h is not the output at each sequence's length.")
    if np.any(np.asarray(outputs)[~mask] != 0):
        raise AssertionError("zero_output_for_mask=True left non-zero outputs past the length.")
    shapes[TF1_TO_KERAS[9].tf1] = (_shapes(outputs), _shapes(states))

    return [
        PrimitiveRun(row.tf1, row.keras, *shapes.get(row.tf1, (None, None)), row.note)
        for row in TF1_TO_KERAS
    ]


class SharedStack(NamedTuple):
    """What `StackedRNNCells([cell] * layers)` did (`shared_cell_stack_demo`)."""

    error: str | None  # The exception, "Type: message", or None when it ran.
    num_weight_variables: int  # Of the stack (a distinct-cell stack has `layers` times more).
    num_parameters: int
    distinct_num_parameters: int  # The same stack built from distinct cells.


def _error_line(exception: Exception) -> str:
    """The informative line of a (Keras-wrapped) exception message, without terminal codes."""
    text = re.sub(r"\x1b\[[0-9;]*m|\{\{[^}]*\}\}", "", str(exception))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("Exception encountered")]
    return (useful or lines or [""])[0]


def shared_cell_stack_demo(
    features: int, units: int, layers: int = 2, batch: int = 2, time: int = 3, seed: int = 0
) -> SharedStack:
    """Runs the TF1 idiom `MultiRNNCell([cell] * n)` as `StackedRNNCells([cell] * n)`.

    Keras 3 does not copy the cell: every layer calls the same `LSTMCell` object. When
    `units == features` the stack runs and *silently shares one set of weights* across the
    layers (each layer still has its own [h, c] state); otherwise the first layer builds the
    kernel for `features` inputs and the second layer, fed `units` features, fails with a
    shape error. TF 0.x created variables per scope (distinct weights); TF >= 1.1 raised
    (errata 33). Hence: build distinct cells per layer.

    Returns:
      A `SharedStack`.
    """
    inputs = np.random.default_rng(seed).normal(size=(batch, time, features)).astype(np.float32)
    cell = keras.layers.LSTMCell(units, seed=seed)
    shared = keras.layers.RNN(keras.layers.StackedRNNCells([cell] * layers))
    try:
        shared(inputs)
        error = None
    except (ValueError, tf.errors.InvalidArgumentError) as exception:
        error = f"{type(exception).__name__}: {_error_line(exception)}"
    distinct = keras.layers.RNN(
        keras.layers.StackedRNNCells(
            [keras.layers.LSTMCell(units, seed=seed + n) for n in range(layers)]
        )
    )
    distinct(inputs)
    return SharedStack(
        error=error,
        num_weight_variables=len(shared.weights),
        num_parameters=int(sum(np.prod(w.shape) for w in shared.weights)),
        distinct_num_parameters=distinct.count_params(),
    )

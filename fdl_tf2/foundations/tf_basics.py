"""Chapter-3 TensorFlow basics in TF2: variable sharing, device towers, TF1-checkpoint import.

Book: chapter 3, "Implementing Neural Networks in TensorFlow" (seed lines 836-1489; listings
L3.2-L3.13 for variables, placeholders and sessions, variable scopes and device placement;
line 1400 and 1436-1483 for the derived error claims). Spec ch01-03 §4.3, items C3-1 to C3-5,
C3-11 and C3-12. Fig. 3.5 (C3-8), TensorBoard's scalar curves, is drawn by
`fdl_tf2.viz.curves.plot_tensorboard_curves` from the event files (`fdl_tf2.training.records`).

What replaces what (spec ch01-03 §4.4):

    tf.placeholder + tf.Session.run(feed_dict)   -> a tf.function with an input_signature
    tf.get_variable + variable_scope(reuse=True) -> calling the same Keras layer/model again
    ConfigProto(allow_soft_placement=True)       -> tf.config.set_soft_device_placement (on)
    towers + tf.add_n on /cpu:0                  -> tf.distribute.MirroredStrategy
    tf.train.Saver checkpoints of chapter 4      -> load_tf1_mlp_checkpoint (read, not written)

The `tf.compat.v1` demos run inside their own `tf.Graph().as_default()` so that they leave the
process in eager mode.
"""

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

NUM_PIXELS = 784
NUM_CLASSES = 10
BOOK_NETWORK_SIZES = (784, 100, 50, 10)  # Listing L3.7: 84,060 parameters, no nonlinearity.

# The TF1 variable names of the book repository's MLP (`variable_scope("mlp_model")`, then one
# scope per layer with `W` and `b`), mapped to the Keras layer names of `build_mlp()`.
TF1_MLP_LAYERS = ("hidden_1", "hidden_2", "output")


# --- Placeholders and sessions (L3.5, L3.6) --------------------------------------------------


class AffineModel(tf.Module):
    """The book's `output = tf.matmul(x, W) + b` with `x` a `[None, 784]` placeholder (L3.6).

    `W ~ U(-1, 1)` of shape `(784, 10)` and `b = 0` of shape `(10,)`. Calling the module runs
    a `tf.function` whose `input_signature` plays the placeholder's role: one trace serves every
    batch size, as one graph served every `feed_dict` in TF1.
    """

    def __init__(self, num_outputs: int = NUM_CLASSES, seed: int | None = None):
        super().__init__(name="affine")
        self.weights = tf.Variable(
            tf.random.uniform([NUM_PIXELS, num_outputs], -1.0, 1.0, seed=seed), name="W"
        )
        self.biases = tf.Variable(tf.zeros([num_outputs]), name="biases")

    @tf.function(input_signature=[tf.TensorSpec([None, NUM_PIXELS], tf.float32)])
    def __call__(self, inputs: tf.Tensor) -> tf.Tensor:
        """`inputs (batch, 784)` -> `(batch, num_outputs)`; row i is `x[i] @ W + b`."""
        return tf.matmul(inputs, self.weights) + self.biases


def affine_function(seed: int | None = None) -> AffineModel:
    """A fresh `AffineModel`; `model.__call__` is the `tf.function` (one trace for all batches)."""
    return AffineModel(seed=seed)


def affine_graph_ops(model: AffineModel) -> list[str]:
    """The op types of the traced affine graph (Fig. 3.2): placeholder, variable reads, MatMul…"""
    concrete = model.__call__.get_concrete_function()
    return [operation.type for operation in concrete.graph.get_operations()]


def v1_variable_ops() -> list[str]:
    """The ops one `tf.Variable` adds to a TF1 graph (Fig. 3.1, lines 941-945).

    Returns the op types created by `tf.compat.v1.Variable(tf.zeros([2]))` in graph mode: the
    initial-value tensor, the variable op and its assign (initializer) op, among others.
    """
    with tf.Graph().as_default() as graph:
        tf.compat.v1.Variable(tf.zeros([2]), name="weights", use_resource=False)
        return [f"{op.name}: {op.type}" for op in graph.get_operations()]


# --- Variable sharing (L3.7-L3.10) -----------------------------------------------------------


def make_fresh_network(
    inputs: tf.Tensor, sizes: Sequence[int] = BOOK_NETWORK_SIZES, seed: int | None = None
) -> tuple[tf.Tensor, list[tf.Variable]]:
    """The book's naive `my_network` (L3.7): new `tf.Variable`s on every call.

    Weights `W_k ~ U(-1, 1)`, biases `biases_k = 0`, no nonlinearity between layers.

    Args:
      inputs: `(batch, sizes[0])` float32.
      sizes: layer widths; the book's are 784 -> 100 -> 50 -> 10 (84,060 parameters).
      seed: op seed of the first weight matrix (later ones use seed + k), or None.

    Returns:
      The outputs `(batch, sizes[-1])` and the `2 * (len(sizes) - 1)` variables this call made.
    """
    variables = []
    outputs = inputs
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        layer_seed = None if seed is None else seed + index
        weights = tf.Variable(
            tf.random.uniform([fan_in, fan_out], -1.0, 1.0, seed=layer_seed), name=f"W_{index}"
        )
        biases = tf.Variable(tf.zeros([fan_out]), name=f"biases_{index}")
        variables += [weights, biases]
        outputs = tf.matmul(outputs, weights) + biases
    return outputs, variables


def fresh_network_names_in_graph_mode(calls: int = 2) -> list[list[str]]:
    """Variable names of `calls` calls of `make_fresh_network` in a TF1 graph (lines 1052-1071).

    Graph mode uniquifies names: the second call gives `W_1_1:0`, as the book prints. Eager
    TF2 names both copies `W_1:0`, so the names no longer reveal the duplication.
    """
    with tf.Graph().as_default():
        names = []
        for call in range(calls):
            inputs = tf.compat.v1.placeholder(tf.float32, [1000, NUM_PIXELS], name=f"i_{call + 1}")
            _, variables = make_fresh_network(inputs, seed=call)
            names.append([variable.name for variable in variables])
        return names


def build_shared_network(sizes: Sequence[int] = BOOK_NETWORK_SIZES, seed=None) -> keras.Model:
    """The TF2 replacement of `variable_scope` sharing: one Keras model, called many times.

    Three `Dense` layers 784 -> 100 -> 50 -> 10 with `RandomUniform(-1, 1)` kernels, zero biases
    and linear activations, as in the book's `my_network`. Every call of the returned model
    reuses the same 6 variables.
    """
    inputs = keras.Input((sizes[0],), name="inputs")
    outputs = inputs
    for index, units in enumerate(sizes[1:], start=1):
        outputs = keras.layers.Dense(
            units,
            kernel_initializer=keras.initializers.RandomUniform(
                -1.0, 1.0, seed=None if seed is None else seed + index
            ),
            bias_initializer="zeros",
            name=f"layer_{index}",
        )(outputs)
    return keras.Model(inputs, outputs, name="my_network")


def variable_scope_demo() -> dict[str, object]:
    """The book's `get_variable` + `variable_scope` listings (L3.9, L3.10) in TF1 graph mode.

    Returns:
      `error`: the `ValueError` message of calling the scoped network twice without reuse
      ("Variable layer_1/W already exists…", the book's "Over-sharing" error);
      `shared_names`: the variable names after two calls inside `shared_variables` with
      `scope.reuse_variables()` (6 names: the second call created nothing).
    """
    v1 = tf.compat.v1

    def layer(inputs, weight_shape, bias_shape):
        weights = v1.get_variable(
            "W", weight_shape, initializer=v1.random_uniform_initializer(-1.0, 1.0, seed=1)
        )
        biases = v1.get_variable("b", bias_shape, initializer=v1.constant_initializer(0.0))
        return tf.matmul(inputs, weights) + biases

    def my_network(inputs):
        with v1.variable_scope("layer_1"):
            output_1 = layer(inputs, [784, 100], [100])
        with v1.variable_scope("layer_2"):
            output_2 = layer(output_1, [100, 50], [50])
        with v1.variable_scope("layer_3"):
            return layer(output_2, [50, 10], [10])

    result: dict[str, object] = {}
    with tf.Graph().as_default():
        first = v1.placeholder(tf.float32, [1000, 784], name="i_1")
        second = v1.placeholder(tf.float32, [1000, 784], name="i_2")
        my_network(first)
        try:
            my_network(second)
        except ValueError as error:
            result["error"] = str(error).splitlines()[0]
    with tf.Graph().as_default() as graph:
        first = v1.placeholder(tf.float32, [1000, 784], name="i_1")
        second = v1.placeholder(tf.float32, [1000, 784], name="i_2")
        with v1.variable_scope("shared_variables") as scope:
            my_network(first)
            scope.reuse_variables()
            my_network(second)
        result["shared_names"] = [variable.name for variable in graph.get_collection("variables")]
    return result


# --- Devices (L3.11-L3.13) -------------------------------------------------------------------


def _book_matrices() -> tuple[tf.Tensor, tf.Tensor]:
    # Listing L3.12: a = [[1, 2], [3, 4]], b = [[1], [2]].
    return (
        tf.constant([1.0, 2.0, 3.0, 4.0], shape=[2, 2], name="a"),
        tf.constant([1.0, 2.0], shape=[2, 1], name="b"),
    )


@contextlib.contextmanager
def soft_device_placement(enabled: bool) -> Iterator[None]:
    """Sets `tf.config.set_soft_device_placement(enabled)` and restores the old setting."""
    previous = tf.config.get_soft_device_placement()
    tf.config.set_soft_device_placement(enabled)
    try:
        yield
    finally:
        tf.config.set_soft_device_placement(previous)


def matmul_on_device(device: str, *, soft_placement: bool = True) -> np.ndarray:
    """`[[1, 2], [3, 4]] @ [[1], [2]] = [[5], [11]]` under `tf.device(device)` (L3.12).

    With soft placement (the TF2 default, the book's `allow_soft_placement=True`) a missing
    device such as `/GPU:2` falls back to one that exists.

    Raises:
      tf.errors.InvalidArgumentError: `device` does not exist and `soft_placement` is False.
    """
    with soft_device_placement(soft_placement), tf.device(device):
        a, b = _book_matrices()
        product = tf.matmul(a, b)
    return product.numpy()


def matmul_device(device: str) -> str:
    """The device the L3.12 matmul actually ran on when `device` was requested (soft placement).

    TF2's per-tensor answer to `log_device_placement=True`: e.g. `/GPU:2` on a CPU-only machine
    gives `/job:localhost/replica:0/task:0/device:CPU:0`.
    """
    with tf.device(device):
        a, b = _book_matrices()
        return tf.matmul(a, b).device


def logical_devices(device_type: str = "CPU") -> list[str]:
    """Names of the logical devices of a type, e.g. `['/device:CPU:0', '/device:CPU:1']`."""
    return [device.name for device in tf.config.list_logical_devices(device_type)]


def tower_sum(devices: Sequence[str], reduce_device: str = "/CPU:0") -> np.ndarray:
    """The book's multi-GPU tower (L3.13): one matmul per device, `tf.add_n` on `reduce_device`.

    Args:
      devices: device names, e.g. `['/CPU:0', '/CPU:1']` (the book's `/gpu:0`, `/gpu:1`).
      reduce_device: where the partial results are summed.

    Returns:
      `(2, 1)` float32: `len(devices) * [[5], [11]]`, i.e. `[[10], [22]]` for two devices.
    """
    if not devices:
        raise ValueError(f"tower_sum needs at least one device, got {devices!r}")
    products = []
    for device in devices:
        with tf.device(device):
            a, b = _book_matrices()
            products.append(tf.matmul(a, b))
    with tf.device(reduce_device):
        total = tf.add_n(products)
    return total.numpy()


def mirrored_tower_sum(devices: Sequence[str]) -> np.ndarray:
    """The idiomatic tower: `MirroredStrategy(devices)` runs the matmul once per replica, then
    `strategy.reduce(SUM)` adds the replicas' results (`(2, 1)`, `[[10], [22]]` for 2 devices)."""
    strategy = tf.distribute.MirroredStrategy(
        list(devices), cross_device_ops=tf.distribute.ReductionToOneDevice()
    )

    def replica_matmul():
        a, b = _book_matrices()
        return tf.matmul(a, b)

    per_replica = strategy.run(tf.function(replica_matmul))
    return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None).numpy()


# --- Chapter-4 hand-off: TF1 checkpoint import (C3-12) ---------------------------------------


def load_tf1_mlp_checkpoint(
    path: str | os.PathLike, model: keras.Model, scope: str = "mlp_model"
) -> dict[str, tuple[int, ...]]:
    """Copies a TF1 MLP checkpoint (`<scope>/<layer>/W`, `<scope>/<layer>/b`) into `model`.

    The book repository's chapter-3/4 MLP saves `mlp_model/hidden_1/W` `(784, 256)`,
    `mlp_model/hidden_1/b` `(256,)`, `hidden_2/{W,b}` and `output/{W,b}` with `tf.train.Saver`.
    TF1 `W` is `(in, out)`, the same layout as a Keras `Dense` kernel, so no transpose is needed.

    Args:
      path: the checkpoint prefix (e.g. `frozen_mlp_checkpoint/model-checkpoint-547400`) or a
        directory holding a `checkpoint` file.
      model: a Keras model with `Dense` layers named `hidden_1`, `hidden_2`, `output`, e.g.
        `fdl_tf2.models.feedforward.build_mlp()`.
      scope: the outer TF1 variable scope; "" when the names have none.

    Returns:
      `{tf1_name: shape}` of every variable copied.

    Raises:
      ValueError: a variable is missing from the checkpoint or its shape does not match.
    """
    path = str(path)
    if Path(path).is_dir():
        path = tf.train.latest_checkpoint(path) or path
    reader = tf.train.load_checkpoint(path)
    available = reader.get_variable_to_shape_map()
    copied = {}
    for layer_name in TF1_MLP_LAYERS:
        layer = model.get_layer(layer_name)
        for tf1_suffix, variable in (("W", layer.kernel), ("b", layer.bias)):
            name = "/".join(part for part in (scope, layer_name, tf1_suffix) if part)
            if name not in available:
                raise ValueError(
                    f"checkpoint {path!r} has no variable {name!r}; it has {sorted(available)}"
                )
            value = reader.get_tensor(name)
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"{name} has shape {value.shape} in {path!r}, but the model's "
                    f"{variable.path} has shape {tuple(variable.shape)}"
                )
            variable.assign(value)
            copied[name] = tuple(value.shape)
    return copied


# --- Derived claims of the book (C3-11) ------------------------------------------------------


def cheque_error_rate(accuracy: float, digits: int = 4) -> float:
    """Chance that at least one of `digits` independently read digits is wrong (line 1438).

    `1 - accuracy ** digits`; the book's 91.9% gives 0.287 for 4-digit amounts ("almost 30%").
    """
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must be in [0, 1], got {accuracy}")
    if digits < 1:
        raise ValueError(f"digits must be >= 1, got {digits}")
    return 1.0 - accuracy**digits


def relative_error_reduction(before_error: float, after_error: float) -> float:
    """`(before - after) / before`; the book's (8.1 - 1.8) / 8.1 = 0.778 ("almost 78%", l. 1483)."""
    if before_error <= 0.0:
        raise ValueError(f"before_error must be > 0, got {before_error}")
    return (before_error - after_error) / before_error

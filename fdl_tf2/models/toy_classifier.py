"""2-D toy classifiers of chapter 2 (the ConvNetJS demos) and their decision regions.

Book: chapter 2, "Training Feed-Forward Neural Networks": the overfitting sweeps over hidden
width and depth (seed lines 731-746, Figs. 2.10 and 2.11) and the L2 sweep (lines 805-810,
Fig. 2.15). The book ran them in the ConvNetJS "classify2d" browser demo (note 11) and states
only the sizes, lambda and the minibatch of 10; everything else is a choice of this port
(spec ch01-03 §2.1 E2.7-E2.9):

    2 inputs -> hidden tanh layers -> 2 logits (softmax in the loss), batch 10,
    SGD with momentum, L2 on the kernels as the book's 1/2 * lambda * sum(w^2).

The demo's defaults (tanh, SGD lr 0.01, momentum 0.1, batch 10, l2_decay 0.001) are the
defaults of `train_toy_classifier`, except the learning rate and momentum, which experiments
raise so the figures converge in seconds. ConvNetJS adds `l2_decay * w` to the gradient summed
over the minibatch and divides both by the batch size, so its `l2_decay` equals a book lambda of
`l2_decay / batch_size` on the mean loss used here. `decision_regions` gives the predicted
class on a grid; `fdl_tf2.viz.decision_regions.plot_decision_regions` draws the figures.
"""

import keras
import numpy as np
import tensorflow as tf

from fdl_tf2.foundations import regularization

NUM_CLASSES = 2


# --- Decision regions -------------------------------------------------------------------------


def decision_grid(
    inputs: np.ndarray, resolution: int = 150, margin: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """A regular grid covering the training points plus a margin.

    Args:
      inputs: training points `(num_points, 2)`.
      resolution: grid points per axis.
      margin: extra room on each side, in input units.

    Returns:
      `grid_x` and `grid_y`, each `(resolution, resolution)` (as `np.meshgrid`).
    """
    low = inputs.min(axis=0) - margin
    high = inputs.max(axis=0) + margin
    return np.meshgrid(
        np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    )


def decision_regions(model: keras.Model, grid_x: np.ndarray, grid_y: np.ndarray) -> np.ndarray:
    """The predicted class at every grid point.

    Args:
      model: a classifier with inputs `(batch, 2)` and logits `(batch, 2)`.
      grid_x, grid_y: coordinates `(rows, cols)`.

    Returns:
      int array `(rows, cols)` of predicted classes.
    """
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)  # (n, 2)
    logits = model(points, training=False)  # One eager call: no per-model tracing.
    return np.argmax(np.asarray(logits), axis=-1).reshape(grid_x.shape)


# --- Model ------------------------------------------------------------------------------------


def build_toy_classifier(
    hidden_layers: tuple[int, ...] = (3,),
    activation: str = "tanh",
    l2: float = 0.0,
    seed: int | None = None,
) -> keras.Model:
    """2 inputs -> hidden layers -> 2 logits, the ConvNetJS classify2d network.

    Args:
      hidden_layers: units of each hidden layer; (3,), (6,), (20,) for Fig. 2.10 and
        (3,), (3, 3), (3, 3, 3, 3) for Fig. 2.11.
      activation: hidden activation; tanh as the demo.
      l2: the book's lambda: every kernel (not the biases, as ConvNetJS) adds
        `1/2 * l2 * sum(w^2)` to `model.losses`.
      seed: seed of the Glorot-uniform kernel initializers (one per layer).

    Returns:
      A model with input `(batch, 2)` and logits `(batch, 2)`.

    Raises:
      ValueError: an empty or non-positive `hidden_layers`, or a negative `l2`.
    """
    if not hidden_layers or any(units <= 0 for units in hidden_layers):
        raise ValueError(f"hidden_layers must be positive sizes, got {hidden_layers}.")
    regularizer = regularization.book_l2_to_keras(l2) if l2 else None

    def initializer(index):
        return keras.initializers.GlorotUniform(None if seed is None else seed + index)

    inputs = keras.Input((2,), name="point")
    hidden = inputs
    for index, units in enumerate(hidden_layers, start=1):
        hidden = keras.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=initializer(index),
            kernel_regularizer=regularizer,
            name=f"hidden_{index}",
        )(hidden)
    logits = keras.layers.Dense(
        NUM_CLASSES,
        kernel_initializer=initializer(len(hidden_layers) + 1),
        kernel_regularizer=regularizer,
        name="output",
    )(hidden)
    name = "toy_classifier_" + "x".join(str(units) for units in hidden_layers)
    return keras.Model(inputs, logits, name=name)


def train_toy_classifier(
    model: keras.Model,
    inputs: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int,
    learning_rate: float = 0.01,
    momentum: float = 0.1,
    batch_size: int = 10,
    seed: int = 0,
) -> float:
    """Minibatch SGD with momentum on the mean cross-entropy (+ `model.losses`) via `fit`.

    Args:
      model: from `build_toy_classifier`.
      inputs: `(num_points, 2)` float32.
      labels: `(num_points,)` int in {0, 1}.
      epochs: passes over the data.
      learning_rate, momentum, batch_size: SGD settings (ConvNetJS demo defaults).
      seed: seed of the per-epoch shuffling.

    Returns:
      The final training accuracy (evaluated after training, in [0, 1]).
    """
    steps_per_epoch = int(np.ceil(len(inputs) / batch_size))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate, momentum=momentum),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        steps_per_execution=steps_per_epoch,  # One compiled call per epoch: tiny steps.
    )
    # All epochs as one `fit` epoch over a repeated, reshuffled stream: Keras's per-epoch
    # overhead would otherwise dominate these microsecond steps.
    batches = (
        tf.data.Dataset.from_tensor_slices((inputs.astype(np.float32), labels.astype(np.int32)))
        .shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .repeat()
    )
    model.fit(batches, epochs=1, steps_per_epoch=epochs * steps_per_epoch, shuffle=False, verbose=0)
    logits = np.asarray(model(inputs.astype(np.float32), training=False))
    return float(np.mean(np.argmax(logits, axis=-1) == labels))


def kernel_norm(model: keras.Model) -> float:
    """sqrt(sum of w^2) over every kernel of the model (biases excluded)."""
    return float(
        np.sqrt(
            sum(
                np.sum(np.square(v.numpy()))
                for v in model.trainable_variables
                if "kernel" in v.path
            )
        )
    )
